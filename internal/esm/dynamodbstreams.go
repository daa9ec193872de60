package esm

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/lambdad/lambdad/internal/awsconn"
)

type ddbSource struct {
	c      *dynamodbstreams.Client
	arn    string
	region string
}

func (d *ddbSource) service() awsconn.Service { return awsconn.DynamoDBStreams }

func (d *ddbSource) limit() int { return 1000 }

func (d *ddbSource) shards(ctx context.Context) ([]shardInfo, error) {
	var out []shardInfo
	in := &dynamodbstreams.DescribeStreamInput{StreamArn: awssdk.String(d.arn)}
	for {
		r, err := d.c.DescribeStream(ctx, in)
		if err != nil {
			return nil, err
		}
		for _, s := range r.StreamDescription.Shards {
			si := shardInfo{ID: awssdk.ToString(s.ShardId)}
			if p := awssdk.ToString(s.ParentShardId); p != "" {
				si.Parents = []string{p}
			}
			out = append(out, si)
		}
		last := awssdk.ToString(r.StreamDescription.LastEvaluatedShardId)
		if last == "" {
			return out, nil
		}
		in = &dynamodbstreams.DescribeStreamInput{StreamArn: awssdk.String(d.arn), ExclusiveStartShardId: awssdk.String(last)}
	}
}

func (d *ddbSource) iterator(ctx context.Context, shard, typ, seq string, _ time.Time) (string, error) {
	in := &dynamodbstreams.GetShardIteratorInput{StreamArn: awssdk.String(d.arn), ShardId: awssdk.String(shard), ShardIteratorType: dtypes.ShardIteratorType(typ)}
	if seq != "" {
		in.SequenceNumber = awssdk.String(seq)
	}
	r, err := d.c.GetShardIterator(ctx, in)
	if err != nil {
		return "", err
	}
	return awssdk.ToString(r.ShardIterator), nil
}

// ddbEvent is one record of a DynamoDB Streams event, with exactly AWS's
// keys in AWS's order.
type ddbEvent struct {
	EventID        string    `json:"eventID"`
	EventName      string    `json:"eventName"`
	EventVersion   string    `json:"eventVersion"`
	EventSource    string    `json:"eventSource"`
	AWSRegion      string    `json:"awsRegion"`
	DynamoDB       ddbRecord `json:"dynamodb"`
	EventSourceARN string    `json:"eventSourceARN"`
}

type ddbRecord struct {
	ApproximateCreationDateTime float64        `json:"ApproximateCreationDateTime"`
	Keys                        map[string]any `json:"Keys,omitempty"`
	NewImage                    map[string]any `json:"NewImage,omitempty"`
	OldImage                    map[string]any `json:"OldImage,omitempty"`
	SequenceNumber              string         `json:"SequenceNumber"`
	SizeBytes                   int64          `json:"SizeBytes"`
	StreamViewType              string         `json:"StreamViewType"`
}

func (d *ddbSource) read(ctx context.Context, shard, iter string, limit int) ([]streamRecord, string, error) {
	r, err := d.c.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: awssdk.String(iter), Limit: awssdk.Int32(int32(min(limit, d.limit())))})
	if err != nil {
		return nil, "", err
	}
	out := make([]streamRecord, 0, len(r.Records))
	for _, rec := range r.Records {
		sr := rec.Dynamodb
		if sr == nil {
			continue
		}
		seq := awssdk.ToString(sr.SequenceNumber)
		at := awssdk.ToTime(sr.ApproximateCreationDateTime)
		keys := attrMap(sr.Keys)
		kb, _ := json.Marshal(keys)
		out = append(out, streamRecord{Seq: seq, Key: string(kb), Arrival: at, Event: ddbEvent{
			EventID: awssdk.ToString(rec.EventID), EventName: string(rec.EventName), EventVersion: "1.1",
			EventSource: "aws:dynamodb", AWSRegion: d.region, EventSourceARN: d.arn,
			DynamoDB: ddbRecord{ApproximateCreationDateTime: float64(at.Unix()), Keys: keys, NewImage: attrMap(sr.NewImage),
				OldImage: attrMap(sr.OldImage), SequenceNumber: seq, SizeBytes: awssdk.ToInt64(sr.SizeBytes), StreamViewType: string(sr.StreamViewType)},
		}})
	}
	return out, awssdk.ToString(r.NextShardIterator), nil
}

// attrMap is an item (or its keys) in DynamoDB's JSON: {"name": {"S": ..}}.
func attrMap(m map[string]dtypes.AttributeValue) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = attrJSON(v)
	}
	return out
}

func attrJSON(v dtypes.AttributeValue) map[string]any {
	b64 := base64.StdEncoding.EncodeToString
	switch a := v.(type) {
	case *dtypes.AttributeValueMemberS:
		return map[string]any{"S": a.Value}
	case *dtypes.AttributeValueMemberN:
		return map[string]any{"N": a.Value}
	case *dtypes.AttributeValueMemberB:
		return map[string]any{"B": b64(a.Value)}
	case *dtypes.AttributeValueMemberBOOL:
		return map[string]any{"BOOL": a.Value}
	case *dtypes.AttributeValueMemberNULL:
		return map[string]any{"NULL": a.Value}
	case *dtypes.AttributeValueMemberSS:
		return map[string]any{"SS": a.Value}
	case *dtypes.AttributeValueMemberNS:
		return map[string]any{"NS": a.Value}
	case *dtypes.AttributeValueMemberBS:
		bs := make([]string, len(a.Value))
		for i, b := range a.Value {
			bs[i] = b64(b)
		}
		return map[string]any{"BS": bs}
	case *dtypes.AttributeValueMemberM:
		return map[string]any{"M": attrMap(a.Value)}
	case *dtypes.AttributeValueMemberL:
		l := make([]any, len(a.Value))
		for i, e := range a.Value {
			l[i] = attrJSON(e)
		}
		return map[string]any{"L": l}
	}
	return map[string]any{}
}
