package esm

import (
	"context"
	"encoding/base64"
	"errors"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"

	"github.com/lambdad/lambdad/internal/awsconn"
)

// streamSource is what the stream poller needs of Kinesis or DynamoDB
// Streams.
type streamSource interface {
	service() awsconn.Service
	// shards lists the stream's shards, parents named.
	shards(ctx context.Context) ([]shardInfo, error)
	// iterator starts reading a shard: typ is TRIM_HORIZON, LATEST,
	// AT_TIMESTAMP (at) or AFTER_SEQUENCE_NUMBER (seq).
	iterator(ctx context.Context, shard, typ, seq string, at time.Time) (string, error)
	// read answers the records after iter, at most limit, and the next
	// iterator ("" once a closed shard is read to its end).
	read(ctx context.Context, shard, iter string, limit int) ([]streamRecord, string, error)
	// limit is GetRecords' largest Limit.
	limit() int
}

type shardInfo struct {
	ID      string
	Parents []string
}

// streamRecord is one record read, and the event record the function
// gets for it.
type streamRecord struct {
	Seq     string
	Key     string // partition key (Kinesis) or the item's keys (DynamoDB)
	Arrival time.Time
	Event   any
}

// isNoStream: the stream is not there.
func isNoStream(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "ResourceNotFoundException"
}

func (s *Service) streamSource(st *streamConf, arn string) streamSource {
	if st.Kind == streamDynamoDB {
		return &ddbSource{c: s.cfg.AWS.DynamoDBStreams(st.Region), arn: arn, region: st.Region}
	}
	return &kinesisSource{c: s.cfg.AWS.Kinesis(st.Region), arn: arn, region: st.Region}
}

type kinesisSource struct {
	c      *kinesis.Client
	arn    string
	region string
	role   string // the function's role: the records' invokeIdentityArn
}

func (k *kinesisSource) service() awsconn.Service { return awsconn.Kinesis }

func (k *kinesisSource) limit() int { return 10000 }

func (k *kinesisSource) shards(ctx context.Context) ([]shardInfo, error) {
	var out []shardInfo
	in := &kinesis.ListShardsInput{StreamARN: awssdk.String(k.arn)}
	for {
		r, err := k.c.ListShards(ctx, in)
		if err != nil {
			return nil, err
		}
		for _, s := range r.Shards {
			si := shardInfo{ID: awssdk.ToString(s.ShardId)}
			for _, p := range []*string{s.ParentShardId, s.AdjacentParentShardId} {
				if awssdk.ToString(p) != "" {
					si.Parents = append(si.Parents, *p)
				}
			}
			out = append(out, si)
		}
		if awssdk.ToString(r.NextToken) == "" {
			return out, nil
		}
		in = &kinesis.ListShardsInput{NextToken: r.NextToken}
	}
}

func (k *kinesisSource) iterator(ctx context.Context, shard, typ, seq string, at time.Time) (string, error) {
	in := &kinesis.GetShardIteratorInput{StreamARN: awssdk.String(k.arn), ShardId: awssdk.String(shard), ShardIteratorType: ktypes.ShardIteratorType(typ)}
	if seq != "" {
		in.StartingSequenceNumber = awssdk.String(seq)
	}
	if !at.IsZero() {
		in.Timestamp = awssdk.Time(at)
	}
	r, err := k.c.GetShardIterator(ctx, in)
	if err != nil {
		return "", err
	}
	return awssdk.ToString(r.ShardIterator), nil
}

// kinesisEvent is one record of a Kinesis event, with exactly AWS's keys
// in AWS's order.
type kinesisEvent struct {
	Kinesis           kinesisData `json:"kinesis"`
	EventSource       string      `json:"eventSource"`
	EventVersion      string      `json:"eventVersion"`
	EventID           string      `json:"eventID"`
	EventName         string      `json:"eventName"`
	InvokeIdentityArn string      `json:"invokeIdentityArn"`
	AWSRegion         string      `json:"awsRegion"`
	EventSourceARN    string      `json:"eventSourceARN"`
}

type kinesisData struct {
	KinesisSchemaVersion        string  `json:"kinesisSchemaVersion"`
	PartitionKey                string  `json:"partitionKey"`
	SequenceNumber              string  `json:"sequenceNumber"`
	Data                        string  `json:"data"`
	ApproximateArrivalTimestamp float64 `json:"approximateArrivalTimestamp"`
}

func (k *kinesisSource) read(ctx context.Context, shard, iter string, limit int) ([]streamRecord, string, error) {
	// StreamARN is optional to Kinesis, but moto_server wants it.
	r, err := k.c.GetRecords(ctx, &kinesis.GetRecordsInput{StreamARN: awssdk.String(k.arn), ShardIterator: awssdk.String(iter), Limit: awssdk.Int32(int32(min(limit, k.limit())))})
	if err != nil {
		return nil, "", err
	}
	out := make([]streamRecord, 0, len(r.Records))
	for _, rec := range r.Records {
		seq := awssdk.ToString(rec.SequenceNumber)
		at := awssdk.ToTime(rec.ApproximateArrivalTimestamp)
		out = append(out, streamRecord{Seq: seq, Key: awssdk.ToString(rec.PartitionKey), Arrival: at, Event: kinesisEvent{
			Kinesis: kinesisData{KinesisSchemaVersion: "1.0", PartitionKey: awssdk.ToString(rec.PartitionKey), SequenceNumber: seq,
				Data: base64.StdEncoding.EncodeToString(rec.Data), ApproximateArrivalTimestamp: float64(at.UnixMilli()) / 1000},
			EventSource: "aws:kinesis", EventVersion: "1.0", EventID: shard + ":" + seq, EventName: "aws:kinesis:record",
			InvokeIdentityArn: k.role, AWSRegion: k.region, EventSourceARN: k.arn,
		}})
	}
	return out, awssdk.ToString(r.NextShardIterator), nil
}
