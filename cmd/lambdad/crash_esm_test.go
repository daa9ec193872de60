package main

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	stypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/lambdad/lambdad/internal/testkit"
)

// esmCrashSrc records each batch in the probe queue as it starts, then
// takes 3 s, so the test can kill lambdad in the middle.
const esmCrashSrc = probePy + `
def handler(event, context):
    record(json.dumps(event))
    time.sleep(3)
`

// TestCrashSQSBatch kills lambdad with SIGKILL while its function handles
// an SQS batch. Nothing was deleted for that batch, so after the restart
// SQS redelivers it once the visibility timeout is over (receive count
// 2), as AWS would; in the end every message was handled and the queue is
// empty.
func TestCrashSQSBatch(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 test builds and runs the binary")
	}
	t.Parallel()
	moto := testkit.Moto(t)
	ctx := context.Background()
	sq := sqs.New(sqs.Options{Region: "us-east-1", BaseEndpoint: aws.String(moto), Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")})
	mk := func(name string, attrs map[string]string) (string, string) {
		out, err := sq.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
		if err != nil {
			t.Fatal(err)
		}
		a, err := sq.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: out.QueueUrl, AttributeNames: []stypes.QueueAttributeName{stypes.QueueAttributeNameQueueArn}})
		if err != nil {
			t.Fatal(err)
		}
		return *out.QueueUrl, a.Attributes["QueueArn"]
	}
	probe, _ := mk("crash-probe", nil)
	qURL, qARN := mk("crash-q", map[string]string{"VisibilityTimeout": "4"})

	rig := startCrashRig(t, moto, "crash-esm", esmCrashSrc, probe)
	cl := rig.cl
	sent := map[string]bool{}
	for i := range 5 {
		b := fmt.Sprintf("m%d", i)
		sent[b] = true
		if _, err := sq.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(qURL), MessageBody: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cl.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("crash-esm"),
		EventSourceArn: aws.String(qARN), BatchSize: aws.Int32(10), MaximumBatchingWindowInSeconds: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	seen := map[string][]string{} // body -> receive counts
	read := func(within time.Duration, until func() bool) {
		deadline := time.Now().Add(within)
		for !until() && time.Now().Before(deadline) {
			r, err := sq.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(probe), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range r.Messages {
				var ev struct {
					Records []struct {
						Body       string            `json:"body"`
						Attributes map[string]string `json:"attributes"`
					}
				}
				if err := json.Unmarshal([]byte(*m.Body), &ev); err != nil {
					t.Fatal(err)
				}
				for _, rec := range ev.Records {
					seen[rec.Body] = append(seen[rec.Body], rec.Attributes["ApproximateReceiveCount"])
				}
				_, _ = sq.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(probe), ReceiptHandle: m.ReceiptHandle})
			}
		}
	}
	read(30*time.Second, func() bool { return len(seen) > 0 })
	if len(seen) == 0 {
		t.Fatal("no batch started")
	}
	first := len(seen)
	rig.killAndRestart(t)

	left := func() int {
		a, err := sq.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(qURL), AttributeNames: []stypes.QueueAttributeName{
			stypes.QueueAttributeNameApproximateNumberOfMessages, stypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
		if err != nil {
			t.Fatal(err)
		}
		var n, m int
		fmt.Sscan(a.Attributes["ApproximateNumberOfMessages"], &n)
		fmt.Sscan(a.Attributes["ApproximateNumberOfMessagesNotVisible"], &m)
		return n + m
	}
	testkit.Eventually(t, 60*time.Second, "the queue never emptied after the restart", func() bool { return left() == 0 })
	// The batch cut by the kill came back: its messages were received
	// again (receive count 2).
	redelivered := func() int {
		n := 0
		for _, counts := range seen {
			if len(counts) > 1 && counts[len(counts)-1] != "1" {
				n++
			}
		}
		return n
	}
	read(10*time.Second, func() bool { return len(seen) == len(sent) && redelivered() >= first })
	for b := range sent {
		if len(seen[b]) == 0 {
			t.Errorf("%s was lost", b)
		}
	}
	if again := redelivered(); again < first {
		t.Errorf("%d of the %d messages of the killed batch were redelivered: %v", again, first, seen)
	}
}
