package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	stypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/lambdad/lambdad/internal/server"
	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// esmEnv is a lambdad whose AWS endpoint is a real moto_server.
type esmEnv struct {
	t    testing.TB
	moto string
	d    *servertest.Daemon
	c    *lambda.Client
	sqs  *sqs.Client
}

func newESMEnv(t testing.TB, tune func(*server.Config)) *esmEnv {
	t.Helper()
	moto := testkit.Moto(t)
	d, c := servertest.InvokeEnv(t, func(cfg *server.Config) {
		cfg.AWSEndpoint = moto
		if tune != nil {
			tune(cfg)
		}
	})
	return &esmEnv{t: t, moto: moto, d: d, c: c, sqs: sqsClient(moto)}
}

func sqsClient(url string) *sqs.Client {
	return sqs.New(sqs.Options{Region: testkit.Region, BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")})
}

// queue makes a queue; attrs may set VisibilityTimeout, FifoQueue...
func (e *esmEnv) queue(name string, attrs map[string]string) (url, arn string) {
	e.t.Helper()
	ctx := context.Background()
	out, err := e.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		e.t.Fatal(err)
	}
	a, err := e.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: out.QueueUrl, AttributeNames: []stypes.QueueAttributeName{stypes.QueueAttributeNameQueueArn}})
	if err != nil {
		e.t.Fatal(err)
	}
	return *out.QueueUrl, a.Attributes["QueueArn"]
}

// probeFn is a Python function that sends every event it gets to the
// probe queue, then answers what the message body's "answer" says (or
// fails when it says "fail").
const probeFn = `
import json, os, urllib.request, urllib.parse, time
def send(body):
    data = urllib.parse.urlencode({"Action": "SendMessage", "QueueUrl": os.environ["PROBE"], "MessageBody": body}).encode()
    req = urllib.request.Request(os.environ["AWS_ENDPOINT_URL"], data=data, headers={
        "Content-Type": "application/x-www-form-urlencoded",
        "Authorization": "AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0"})
    urllib.request.urlopen(req).read()
def handler(event, context):
    send(json.dumps(event))
    recs = event.get("Records", [])
    sleep = max([json.loads(r["body"]).get("sleep", 0) for r in recs if r["body"].startswith("{")] + [0])
    time.sleep(sleep)
    for r in recs:
        b = r["body"]
        if b.startswith("{"):
            a = json.loads(b).get("answer")
            if a == "fail" and int(r["attributes"]["ApproximateReceiveCount"]) < 2:
                raise Exception("asked to fail")
            if a is not None and a != "fail":
                return a
    return None
`

// function creates the probe function and its probe queue.
func (e *esmEnv) function(name string) (probeURL string) {
	e.t.Helper()
	probeURL, _ = e.queue(name+"-probe", nil)
	in := testkit.PyFunction(e.t, name, probeFn)
	in.Environment = &ltypes.Environment{Variables: map[string]string{"PROBE": probeURL}}
	in.Timeout = aws.Int32(30)
	testkit.CreateActive(e.t, e.c, in)
	return probeURL
}

// events reads the probe queue until n events arrived (or within passed).
func (e *esmEnv) events(probeURL string, n int, within time.Duration) []map[string]any {
	e.t.Helper()
	var out []map[string]any
	deadline := time.Now().Add(within)
	for len(out) < n && time.Now().Before(deadline) {
		r, err := e.sqs.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(probeURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			e.t.Fatal(err)
		}
		for _, m := range r.Messages {
			var ev map[string]any
			if err := json.Unmarshal([]byte(*m.Body), &ev); err != nil {
				e.t.Fatal(err)
			}
			out = append(out, ev)
			_, _ = e.sqs.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(probeURL), ReceiptHandle: m.ReceiptHandle})
		}
	}
	return out
}

func records(evs []map[string]any) []map[string]any {
	var out []map[string]any
	for _, ev := range evs {
		for _, r := range ev["Records"].([]any) {
			out = append(out, r.(map[string]any))
		}
	}
	return out
}

// bodies lists the records' bodies, for tests that send each body
// once. A body under two message ids was queued twice: a retried
// SendMessage whose first attempt moto stored before failing (seen in
// CI). It counts once, since lambdad cannot make up a message id; one
// message delivered twice keeps its id and still shows twice.
func (e *esmEnv) bodies(evs []map[string]any) []string {
	var out []string
	ids := map[string]string{}
	for _, r := range records(evs) {
		b, id := r["body"].(string), r["messageId"].(string)
		if first, ok := ids[b]; ok && first != id {
			e.t.Logf("body %q was queued twice (message ids %s and %s)", b, first, id)
			continue
		}
		ids[b] = id
		out = append(out, b)
	}
	return out
}

func (e *esmEnv) send(url string, bodies ...string) {
	e.t.Helper()
	for _, b := range bodies {
		out, err := e.sqs.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(b)})
		if err != nil {
			e.t.Fatal(err)
		}
		if a, ok := retry.GetAttemptResults(out.ResultMetadata); ok && len(a.Results) > 1 {
			e.t.Logf("SendMessage %q took %d attempts (first: %v); it may be queued twice", b, len(a.Results), a.Results[0].Err)
		}
	}
}

func (e *esmEnv) visible(url string) int {
	e.t.Helper()
	a, err := e.sqs.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
		AttributeNames: []stypes.QueueAttributeName{stypes.QueueAttributeNameApproximateNumberOfMessages, stypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
	if err != nil {
		e.t.Fatal(err)
	}
	var n, m int
	fmt.Sscan(a.Attributes["ApproximateNumberOfMessages"], &n)
	fmt.Sscan(a.Attributes["ApproximateNumberOfMessagesNotVisible"], &m)
	return n + m
}

func (e *esmEnv) mapping(in *lambda.CreateEventSourceMappingInput) *lambda.CreateEventSourceMappingOutput {
	e.t.Helper()
	out, err := e.c.CreateEventSourceMapping(context.Background(), in)
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

func (e *esmEnv) waitState(uuid, state string) *lambda.GetEventSourceMappingOutput {
	e.t.Helper()
	var got *lambda.GetEventSourceMappingOutput
	testkit.Eventually(e.t, 10*time.Second, "mapping "+state, func() bool {
		var err error
		got, err = e.c.GetEventSourceMapping(context.Background(), &lambda.GetEventSourceMappingInput{UUID: aws.String(uuid)})
		return err == nil && aws.ToString(got.State) == state
	})
	return got
}

// The lifecycle as AWS answers it: Creating (202) → Enabled; Update
// answers Updating; Disabled stops delivery; Delete answers Deleting, then
// the mapping is gone.
func TestESMSQSDelivers(t *testing.T) {
	e := newESMEnv(t, nil)
	probe := e.function("esm-deliver")
	qURL, qARN := e.queue("esm-deliver-q", nil)
	out := e.mapping(&lambda.CreateEventSourceMappingInput{FunctionName: aws.String("esm-deliver"), EventSourceArn: aws.String(qARN)})
	if aws.ToString(out.State) != "Creating" || aws.ToInt32(out.BatchSize) != 10 || aws.ToInt32(out.MaximumBatchingWindowInSeconds) != 0 ||
		aws.ToString(out.StateTransitionReason) != "USER_INITIATED" || out.FunctionResponseTypes == nil || len(out.FunctionResponseTypes) != 0 ||
		aws.ToString(out.FunctionArn) != "arn:aws:lambda:us-east-1:000000000000:function:esm-deliver" ||
		aws.ToString(out.EventSourceMappingArn) != "arn:aws:lambda:us-east-1:000000000000:event-source-mapping:"+aws.ToString(out.UUID) || out.LastModified == nil {
		t.Fatalf("create answered %+v", out)
	}
	e.waitState(*out.UUID, "Enabled")

	_, err := e.sqs.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(qURL), MessageBody: aws.String(`{"n":1}`),
		MessageAttributes: map[string]stypes.MessageAttributeValue{
			"Author": {DataType: aws.String("String"), StringValue: aws.String("John")},
			"Bin":    {DataType: aws.String("Binary"), BinaryValue: []byte{1, 2}},
		}})
	if err != nil {
		t.Fatal(err)
	}
	evs := e.events(probe, 1, 20*time.Second)
	recs := records(evs)
	if len(recs) != 1 {
		t.Fatalf("got %d records: %v", len(recs), evs)
	}
	r := recs[0]
	keys := make([]string, 0, len(r))
	for k := range r {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	want := "attributes awsRegion body eventSource eventSourceARN md5OfBody md5OfMessageAttributes messageAttributes messageId receiptHandle"
	if strings.Join(keys, " ") != want {
		t.Errorf("record keys %v, want %s", keys, want)
	}
	if r["eventSource"] != "aws:sqs" || r["eventSourceARN"] != qARN || r["awsRegion"] != "us-east-1" || r["body"] != `{"n":1}` {
		t.Errorf("record %v", r)
	}
	// The message handled is deleted, and counted.
	testkit.Eventually(t, 10*time.Second, "the message deleted and counted", func() bool {
		return metric(t, e.d, "lambdad_esm_sqs_messages_deleted_total") == "1"
	})
	attrs := r["attributes"].(map[string]any)
	for _, k := range []string{"ApproximateReceiveCount", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"} {
		if _, ok := attrs[k]; !ok {
			t.Errorf("attributes lack %s: %v", k, attrs)
		}
	}
	ma := r["messageAttributes"].(map[string]any)
	// encoding/json sorts map keys: these are the whole attributes.
	author, _ := json.Marshal(ma["Author"])
	if string(author) != `{"binaryListValues":[],"dataType":"String","stringListValues":[],"stringValue":"John"}` {
		t.Errorf("Author attribute %s", author)
	}
	bin, _ := json.Marshal(ma["Bin"])
	if string(bin) != `{"binaryListValues":[],"binaryValue":"AQI=","dataType":"Binary","stringListValues":[]}` {
		t.Errorf("Bin attribute %s", bin)
	}
	// Success deletes the message.
	testkit.Eventually(t, 5*time.Second, "message deleted", func() bool { return e.visible(qURL) == 0 })
	got := e.waitState(*out.UUID, "Enabled")
	if aws.ToString(got.LastProcessingResult) != "OK" {
		t.Errorf("LastProcessingResult %q", aws.ToString(got.LastProcessingResult))
	}

	// Disabled: nothing delivered; enabled again: it is.
	up, err := e.c.UpdateEventSourceMapping(context.Background(), &lambda.UpdateEventSourceMappingInput{UUID: out.UUID, Enabled: aws.Bool(false)})
	if err != nil || aws.ToString(up.State) != "Disabling" {
		t.Fatalf("disable: %v %v", err, up)
	}
	e.waitState(*out.UUID, "Disabled")
	e.send(qURL, "while-disabled")
	if evs := e.events(probe, 1, 3*time.Second); len(evs) != 0 {
		t.Fatalf("delivered while disabled: %v", evs)
	}
	up, err = e.c.UpdateEventSourceMapping(context.Background(), &lambda.UpdateEventSourceMappingInput{UUID: out.UUID, Enabled: aws.Bool(true)})
	if err != nil || aws.ToString(up.State) != "Enabling" {
		t.Fatalf("enable: %v %v", err, up)
	}
	if b := e.bodies(e.events(probe, 1, 20*time.Second)); len(b) != 1 || b[0] != "while-disabled" {
		t.Fatalf("after enable got %v", b)
	}
	up, err = e.c.UpdateEventSourceMapping(context.Background(), &lambda.UpdateEventSourceMappingInput{UUID: out.UUID, BatchSize: aws.Int32(5)})
	if err != nil || aws.ToString(up.State) != "Updating" || aws.ToInt32(up.BatchSize) != 5 {
		t.Fatalf("update: %v %v", err, up)
	}

	// List, by function and by source, and pages.
	l, err := e.c.ListEventSourceMappings(context.Background(), &lambda.ListEventSourceMappingsInput{FunctionName: aws.String("esm-deliver")})
	if err != nil || len(l.EventSourceMappings) != 1 || aws.ToString(l.EventSourceMappings[0].UUID) != *out.UUID {
		t.Fatalf("list: %v %+v", err, l)
	}
	l, err = e.c.ListEventSourceMappings(context.Background(), &lambda.ListEventSourceMappingsInput{EventSourceArn: aws.String(qARN + "-other")})
	if err != nil || len(l.EventSourceMappings) != 0 {
		t.Fatalf("list other source: %v %+v", err, l)
	}

	del, err := e.c.DeleteEventSourceMapping(context.Background(), &lambda.DeleteEventSourceMappingInput{UUID: out.UUID})
	if err != nil || aws.ToString(del.State) != "Deleting" {
		t.Fatalf("delete: %v %v", err, del)
	}
	testkit.Eventually(t, 10*time.Second, "mapping gone", func() bool {
		_, err := e.c.GetEventSourceMapping(context.Background(), &lambda.GetEventSourceMappingInput{UUID: out.UUID})
		return err != nil && testkit.HTTPStatus(err) == 404
	})
	e.send(qURL, "after-delete")
	if evs := e.events(probe, 1, 3*time.Second); len(evs) != 0 {
		t.Fatalf("delivered after delete: %v", evs)
	}
}

// nodeProbeFn is the probe function in Node: it sends the event it got to
// the probe queue.
const nodeProbeFn = `export const handler = async (event) => {
  const body = new URLSearchParams({Action: "SendMessage", QueueUrl: process.env.PROBE, MessageBody: JSON.stringify(event)});
  const r = await fetch(process.env.AWS_ENDPOINT_URL, {method: "POST", body, headers: {
    "Content-Type": "application/x-www-form-urlencoded",
    "Authorization": "AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0"}});
  await r.text();
};
`

// A Node function gets the same records, in batches of BatchSize; a
// batching window gathers messages sent apart into one batch.
func TestESMNodeBatches(t *testing.T) {
	e := newESMEnv(t, nil)
	probe, _ := e.queue("esm-node-probe", nil)
	in := testkit.NodeFunction(t, "esm-node", "index.mjs", "index.handler", nodeProbeFn)
	in.Environment = &ltypes.Environment{Variables: map[string]string{"PROBE": probe}}
	testkit.CreateActive(t, e.c, in)
	qURL, qARN := e.queue("esm-node-q", nil)
	e.send(qURL, "a", "b", "c", "d", "e")
	e.mapping(&lambda.CreateEventSourceMappingInput{FunctionName: aws.String("esm-node"), EventSourceArn: aws.String(qARN), BatchSize: aws.Int32(2)})
	var evs []map[string]any
	deadline := time.Now().Add(30 * time.Second)
	for len(records(evs)) < 5 && time.Now().Before(deadline) {
		evs = append(evs, e.events(probe, 1, time.Second)...)
	}
	for _, ev := range evs {
		if n := len(ev["Records"].([]any)); n > 2 {
			t.Errorf("batch of %d, BatchSize 2", n)
		}
	}
	got := e.bodies(evs)
	sort.Strings(got)
	if strings.Join(got, "") != "abcde" {
		t.Fatalf("got %v", got)
	}
	r := records(evs)[0]
	if r["eventSource"] != "aws:sqs" || r["md5OfBody"] == nil {
		t.Errorf("record %v", r)
	}
	if _, ok := r["md5OfMessageAttributes"]; ok {
		t.Errorf("md5OfMessageAttributes without message attributes: %v", r)
	}

	// A 2 s window with BatchSize 20: messages sent a second apart
	// arrive as one batch.
	q2URL, q2ARN := e.queue("esm-node-q2", nil)
	e.mapping(&lambda.CreateEventSourceMappingInput{FunctionName: aws.String("esm-node"), EventSourceArn: aws.String(q2ARN), BatchSize: aws.Int32(20),
		MaximumBatchingWindowInSeconds: aws.Int32(2)})
	e.waitState(*e.mappingUUID(q2ARN), "Enabled")
	e.send(q2URL, "w1")
	time.Sleep(time.Second)
	e.send(q2URL, "w2")
	ev := e.events(probe, 1, 20*time.Second)
	if b := e.bodies(ev); len(ev) != 1 || len(b) != 2 {
		t.Fatalf("window: got events %v", ev)
	}
}

func (e *esmEnv) mappingUUID(sourceARN string) *string {
	e.t.Helper()
	l, err := e.c.ListEventSourceMappings(context.Background(), &lambda.ListEventSourceMappingsInput{EventSourceArn: aws.String(sourceARN)})
	if err != nil || len(l.EventSourceMappings) != 1 {
		e.t.Fatalf("list: %v %v", err, l)
	}
	return l.EventSourceMappings[0].UUID
}
