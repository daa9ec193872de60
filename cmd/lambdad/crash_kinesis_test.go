package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/lambdad/lambdad/internal/testkit"
)

// TestCrashKinesisBatch kills lambdad with SIGKILL while its function
// handles a Kinesis batch. The batch before it was checkpointed and is not
// delivered again; the one cut by the kill was not, and after the restart
// it comes again, whole and in order, as on AWS; nothing is lost.
func TestCrashKinesisBatch(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 test builds and runs the binary")
	}
	t.Parallel()
	moto := testkit.Moto(t)
	ctx := context.Background()
	creds := credentials.NewStaticCredentialsProvider("test", "test", "")
	sq := sqs.New(sqs.Options{Region: "us-east-1", BaseEndpoint: aws.String(moto), Credentials: creds})
	kc := kinesis.New(kinesis.Options{Region: "us-east-1", BaseEndpoint: aws.String(moto), Credentials: creds})
	pq, err := sq.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("kcrash-probe")})
	if err != nil {
		t.Fatal(err)
	}
	probe := aws.ToString(pq.QueueUrl)
	if _, err := kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("kcrash"), ShardCount: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	sum, err := kc.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("kcrash")})
	if err != nil {
		t.Fatal(err)
	}
	arn := sum.StreamDescriptionSummary.StreamARN
	put := func(from, to int) {
		for i := from; i <= to; i++ {
			if _, err := kc.PutRecord(ctx, &kinesis.PutRecordInput{StreamARN: arn, PartitionKey: aws.String("k"), Data: fmt.Appendf(nil, "r%d", i)}); err != nil {
				t.Fatal(err)
			}
		}
	}

	rig := startCrashRig(t, moto, "crash-kin", esmCrashSrc, probe)
	cl := rig.cl
	put(1, 3)
	if _, err := cl.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("crash-kin"),
		EventSourceArn: arn, StartingPosition: types.EventSourcePositionTrimHorizon}); err != nil {
		t.Fatal(err)
	}
	var batches [][]string // the records of each batch, as the function got them
	read := func(n int, within time.Duration) {
		deadline := time.Now().Add(within)
		for len(batches) < n && time.Now().Before(deadline) {
			r, err := sq.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(probe), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range r.Messages {
				var ev struct {
					Records []struct {
						Kinesis struct {
							Data string `json:"data"`
						} `json:"kinesis"`
					}
				}
				if err := json.Unmarshal([]byte(*m.Body), &ev); err != nil {
					t.Fatal(err)
				}
				var b []string
				for _, rec := range ev.Records {
					d, _ := base64.StdEncoding.DecodeString(rec.Kinesis.Data)
					b = append(b, string(d))
				}
				batches = append(batches, b)
				_, _ = sq.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(probe), ReceiptHandle: m.ReceiptHandle})
			}
		}
	}
	read(1, 30*time.Second)
	put(4, 6)
	// The second batch starts only once the first is checkpointed; kill
	// lambdad while the function runs it.
	read(2, 30*time.Second)
	if len(batches) != 2 {
		t.Fatalf("batches before the kill: %v", batches)
	}
	rig.killAndRestart(t)
	read(3, 30*time.Second)
	read(4, 5*time.Second) // nothing more should come
	want := [][]string{{"r1", "r2", "r3"}, {"r4", "r5", "r6"}, {"r4", "r5", "r6"}}
	if !reflect.DeepEqual(batches, want) {
		t.Fatalf("batches %v, want %v", batches, want)
	}
}
