package main

import (
	"context"
	"encoding/json"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	stypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/lambdad/lambdad/internal/testkit"
)

// esmCrashSrc records each batch in the probe queue as it starts, then
// takes 3 s, so the test can kill lambdad in the middle.
const esmCrashSrc = `
import json, os, urllib.request, urllib.parse, time
def handler(event, context):
    data = urllib.parse.urlencode({"Action": "SendMessage", "QueueUrl": os.environ["PROBE"], "MessageBody": json.dumps(event)}).encode()
    urllib.request.urlopen(urllib.request.Request(os.environ["AWS_ENDPOINT_URL"], data=data, headers={
        "Content-Type": "application/x-www-form-urlencoded",
        "Authorization": "AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0"})).read()
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

	bin := lambdadBin.Path(t)
	args := []string{"--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--transition", "20ms", "--log-level", "info",
		"--isolation", "off", "--aws-endpoint-url", moto}
	p := testkit.StartProcess(t, bin, "", nil, args...)
	cl := newLambdaClient(p.Addr)
	in := testkit.PyFunction(t, "crash-esm", esmCrashSrc)
	in.Timeout = aws.Int32(30)
	in.Environment = &types.Environment{Variables: map[string]string{"PROBE": probe}}
	if _, err := cl.CreateFunction(ctx, in); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 20*time.Second, "the function never became Active", func() bool {
		got, err := cl.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("crash-esm")})
		return err == nil && got.Configuration.State == types.StateActive
	})
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
	p.Kill(syscall.SIGKILL)
	testkit.StartProcess(t, bin, "", nil, args...) // the mapping resumes on its own

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
