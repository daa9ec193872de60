package main

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/lambdad/lambdad/internal/testkit"
)

// kafkaCrashSrc records each batch's offsets in the probe queue as it
// starts, then takes 3 s, so the test can kill lambdad in the middle.
const kafkaCrashSrc = probePy + `
def handler(event, context):
    record(json.dumps([r["offset"] for recs in event["records"].values() for r in recs]))
    time.sleep(3)
`

// TestCrashKafkaBatch kills lambdad with SIGKILL while its function
// handles a Kafka batch. Nothing was committed for it, so after the
// restart the group reads it again: every record reaches the function,
// the cut batch twice, and the group's offset ends past the last record.
func TestCrashKafkaBatch(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 test builds and runs the binary")
	}
	t.Parallel()
	moto := testkit.Moto(t)
	ctx := context.Background()
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "crash"))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	kcl, err := kgo.NewClient(kgo.SeedBrokers(kc.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer kcl.Close()
	sq := sqs.New(sqs.Options{Region: "us-east-1", BaseEndpoint: aws.String(moto), Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")})
	po, err := sq.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("kcrash-probe")})
	if err != nil {
		t.Fatal(err)
	}
	probe := *po.QueueUrl

	rig := startCrashRig(t, moto, "crash-kafka", kafkaCrashSrc, probe)
	cl := rig.cl
	var rs []*kgo.Record
	for range 6 {
		rs = append(rs, &kgo.Record{Topic: "crash", Value: []byte("x")})
	}
	if err := kcl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("crash-kafka"),
		SelfManagedEventSource: &types.SelfManagedEventSource{Endpoints: map[string][]string{"KAFKA_BOOTSTRAP_SERVERS": kc.ListenAddrs()}},
		Topics:                 []string{"crash"}, StartingPosition: types.EventSourcePositionTrimHorizon, BatchSize: aws.Int32(3),
		SelfManagedKafkaEventSourceConfig: &types.SelfManagedKafkaEventSourceConfig{ConsumerGroupId: aws.String("crash-group")}}); err != nil {
		t.Fatal(err)
	}
	seen := map[int64]int{}
	read := func(within time.Duration, until func() bool) {
		deadline := time.Now().Add(within)
		for !until() && time.Now().Before(deadline) {
			r, err := sq.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(probe), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range r.Messages {
				var offs []int64
				if err := json.Unmarshal([]byte(*m.Body), &offs); err != nil {
					t.Fatal(err)
				}
				for _, o := range offs {
					seen[o]++
				}
				_, _ = sq.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(probe), ReceiptHandle: m.ReceiptHandle})
			}
		}
	}
	read(30*time.Second, func() bool { return len(seen) > 0 })
	if len(seen) == 0 {
		t.Fatal("no batch started")
	}
	cut := map[int64]bool{}
	for o := range seen {
		cut[o] = true
	}
	rig.killAndRestart(t)

	committed := func() int64 {
		req := kmsg.NewPtrOffsetFetchRequest()
		req.Group = "crash-group"
		tp := kmsg.NewOffsetFetchRequestTopic()
		tp.Topic, tp.Partitions = "crash", []int32{0}
		req.Topics = append(req.Topics, tp)
		resp, err := req.RequestWith(ctx, kcl)
		if err != nil || len(resp.Topics) == 0 || len(resp.Topics[0].Partitions) == 0 {
			return -1
		}
		return resp.Topics[0].Partitions[0].Offset
	}
	testkit.Eventually(t, 60*time.Second, "the group never committed past the last record", func() bool { return committed() == 6 })
	read(10*time.Second, func() bool {
		for o := range cut {
			if seen[o] < 2 {
				return false
			}
		}
		return len(seen) == 6
	})
	for o := int64(0); o < 6; o++ {
		if seen[o] == 0 {
			t.Errorf("offset %d was lost", o)
		}
	}
	for o := range cut {
		if seen[o] < 2 {
			t.Errorf("offset %d of the killed batch was not redelivered: %v", o, seen)
		}
	}
}
