package invoke

import (
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/lambdad/lambdad/internal/destinations"
	"github.com/lambdad/lambdad/internal/functions"
	"github.com/lambdad/lambdad/internal/spec"
)

// An event that grew too old after a failed run: its record carries that
// run's response, as AWS's EventAgeExceeded records do, and its dead-letter
// event has AWS's attributes.
func TestFinishAfterFailedRun(t *testing.T) {
	q := &eventQueue{s: &Service{cfg: Config{Logger: slog.New(slog.DiscardHandler)}}}
	ref := functions.Ref{Account: "000000000000", Region: "us-east-1", Name: "f"}
	queueARN := "arn:aws:sqs:us-east-1:123456789012:records"
	dlq := "arn:aws:sns:us-east-1:123456789012:dlq"
	cfg := &functions.EventConfig{OnFailure: queueARN}
	snap := &functions.Snapshot{Config: spec.FunctionConfiguration{DeadLetterConfig: &spec.DeadLetterConfig{TargetArn: &dlq}}}
	e := event{ID: "req-1", Payload: []byte(`{"n":1}`), Attempts: 1,
		Last: &lastRun{Version: "3", Error: "Unhandled", Payload: []byte(`{"errorMessage":"boom","errorType":"Exception"}`)}}
	next, out := q.finish(cfg, ref, e, "EventAgeExceeded", Result{}, snap)
	if next != nil || len(out) != 2 {
		t.Fatalf("finish = %v, %d deliveries; want two deliveries", next, len(out))
	}
	rec, dead := out[0].Message, out[1].Message
	var got map[string]any
	if err := json.Unmarshal(rec.Body, &got); err != nil || rec.Target != queueARN {
		t.Fatalf("record to %s: %s %v", rec.Target, rec.Body, err)
	}
	delete(got, "timestamp")
	g, _ := json.Marshal(got)
	const want = `{"requestContext":{"approximateInvokeCount":1,"condition":"EventAgeExceeded","functionArn":"arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST","requestId":"req-1"},` +
		`"requestPayload":{"n":1},"responseContext":{"executedVersion":"3","functionError":"Unhandled","statusCode":200},"responsePayload":{"errorMessage":"boom","errorType":"Exception"},"version":"1.0"}`
	if string(g) != want {
		t.Errorf("record:\n got %s\nwant %s", g, want)
	}
	if dead.Target != dlq || string(dead.Body) != `{"n":1}` || len(dead.Attributes) != 3 ||
		dead.Attributes["RequestID"] != (destinations.Attribute{Type: "String", Value: "req-1"}) ||
		dead.Attributes["ErrorCode"] != (destinations.Attribute{Type: "Number", Value: "200"}) ||
		dead.Attributes["ErrorMessage"] != (destinations.Attribute{Type: "String", Value: "boom"}) {
		t.Errorf("dead-letter event %+v", dead)
	}
	// A success goes to no dead-letter queue.
	if _, out := q.finish(&functions.EventConfig{}, ref, e, "Success", Result{ExecutedVersion: "3", Payload: []byte(`1`)}, snap); len(out) != 0 {
		t.Errorf("a success sent %+v", out)
	}
}

// TestDeliveryRecordGolden pins the JSON of a stored delivery (bucket
// deliveries), part of the stored schema like the events'.
func TestDeliveryRecordGolden(t *testing.T) {
	d := delivery{ID: "id", Message: destinations.Message{Target: "arn:aws:sqs:us-east-1:123456789012:q", Body: []byte(`{}`),
		Attributes: map[string]destinations.Attribute{"RequestID": {Type: "String", Value: "r"}}, DetailType: "t", Resources: []string{"a"}, Key: "k"}}
	raw, _ := json.Marshal(d)
	const want = `{"id":"id","message":{"target":"arn:aws:sqs:us-east-1:123456789012:q","body":"e30=","attributes":{"RequestID":{"type":"String","value":"r"}},"detailType":"t","resources":["a"],"key":"k"}}`
	if string(raw) != want {
		t.Errorf("stored delivery:\n got %s\nwant %s", raw, want)
	}
}
