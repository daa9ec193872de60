package server_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/lambdad/lambdad/internal/testkit"
)

const benchRecords = 3000

// fillStream puts n records on a one-shard stream, 500 per call; the
// last one's data is "last-<tag>". It answers the first's sequence number.
func (e *esmEnv) fillStream(arn string, n int, tag string) string {
	k := kinesisClient(e.moto)
	first := ""
	for i := 0; i < n; i += 500 {
		var es []ktypes.PutRecordsRequestEntry
		for j := i; j < min(n, i+500); j++ {
			d := fmt.Sprintf(`{"n":%d}`, j)
			if j == n-1 {
				d = "last-" + tag
			}
			es = append(es, ktypes.PutRecordsRequestEntry{PartitionKey: aws.String(fmt.Sprint(j)), Data: []byte(d)})
		}
		out, err := k.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamARN: aws.String(arn), Records: es})
		if err != nil {
			e.t.Fatal(err)
		}
		if first == "" {
			first = aws.ToString(out.Records[0].SequenceNumber)
		}
	}
	return first
}

// waitBody reads the probe queue until body arrives.
func (e *esmEnv) waitBody(probe, body string, within time.Duration) {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		r, err := e.sqs.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(probe), WaitTimeSeconds: 1})
		if err != nil {
			e.t.Fatal(err)
		}
		for _, m := range r.Messages {
			_, _ = e.sqs.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(probe), ReceiptHandle: m.ReceiptHandle})
			if aws.ToString(m.Body) == body {
				return
			}
		}
	}
	e.t.Fatalf("%s did not arrive", body)
}

// lastFn tells the probe queue when it sees the last record of a fill.
const lastFn = `
import os, base64, urllib.request, urllib.parse
def handler(event, context):
    for r in event["Records"]:
        d = base64.b64decode(r["kinesis"]["data"])
        if d.startswith(b"last-"):
            data = urllib.parse.urlencode({"Action": "SendMessage", "QueueUrl": os.environ["PROBE"], "MessageBody": d.decode()}).encode()
            urllib.request.urlopen(urllib.request.Request(os.environ["AWS_ENDPOINT_URL"], data=data, headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Authorization": "AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0"})).read()
`

// BenchmarkESMKinesisThroughput is Kinesis → Lambda with a Python
// function, batch 100 through one shard, side by side with a plain
// GetRecords loop (Limit 100) against the same moto_server: records/s of
// each (3,000 records per op).
func BenchmarkESMKinesisThroughput(b *testing.B) {
	e := newESMEnv(b, nil)
	k := kinesisClient(e.moto)
	b.Run("loop", func(b *testing.B) {
		arn := e.stream("bench-kin-loop", 1)
		var total time.Duration
		for b.Loop() {
			b.StopTimer()
			first := e.fillStream(arn, benchRecords, "loop")
			b.StartTimer()
			start := time.Now()
			it, err := k.GetShardIterator(context.Background(), &kinesis.GetShardIteratorInput{StreamARN: aws.String(arn), ShardId: aws.String("shardId-000000000000"),
				ShardIteratorType: ktypes.ShardIteratorTypeAtSequenceNumber, StartingSequenceNumber: aws.String(first)})
			if err != nil {
				b.Fatal(err)
			}
			iter := it.ShardIterator
			for got := 0; got < benchRecords; {
				r, err := k.GetRecords(context.Background(), &kinesis.GetRecordsInput{StreamARN: aws.String(arn), ShardIterator: iter, Limit: aws.Int32(100)})
				if err != nil {
					b.Fatal(err)
				}
				got += len(r.Records)
				iter = r.NextShardIterator
			}
			total += time.Since(start)
		}
		b.ReportMetric(float64(b.N*benchRecords)/total.Seconds(), "records/s")
	})
	b.Run("lambdad", func(b *testing.B) {
		probe, _ := e.queue("bench-kin-probe", nil)
		in := testkit.PyFunction(b, "bench-kin", lastFn)
		in.Environment = &ltypes.Environment{Variables: map[string]string{"PROBE": probe}}
		testkit.CreateActive(b, e.c, in)
		arn := e.stream("bench-kin-esm", 1)
		m := e.mapping(&lambda.CreateEventSourceMappingInput{FunctionName: aws.String("bench-kin"), EventSourceArn: aws.String(arn),
			StartingPosition: ltypes.EventSourcePositionTrimHorizon, BatchSize: aws.Int32(100), Enabled: aws.Bool(false)})
		var total time.Duration
		i := 0
		for b.Loop() {
			b.StopTimer()
			tag := fmt.Sprint(i)
			i++
			e.fillStream(arn, benchRecords, tag)
			b.StartTimer()
			start := time.Now()
			if _, err := e.c.UpdateEventSourceMapping(context.Background(), &lambda.UpdateEventSourceMappingInput{UUID: m.UUID, Enabled: aws.Bool(true)}); err != nil {
				b.Fatal(err)
			}
			e.waitBody(probe, "last-"+tag, time.Minute)
			total += time.Since(start)
			b.StopTimer()
			if _, err := e.c.UpdateEventSourceMapping(context.Background(), &lambda.UpdateEventSourceMappingInput{UUID: m.UUID, Enabled: aws.Bool(false)}); err != nil {
				b.Fatal(err)
			}
			time.Sleep(200 * time.Millisecond)
			b.StartTimer()
		}
		b.ReportMetric(float64(b.N*benchRecords)/total.Seconds(), "records/s")
	})
}
