package esm

import (
	"testing"
	"time"
)

func TestStreamARN(t *testing.T) {
	cases := []struct {
		arn, kind string
		ok        bool
	}{
		{"arn:aws:kinesis:us-east-1:123456789012:stream/s", streamKinesis, true},
		{"arn:aws:kinesis:us-east-1:123456789012:stream/", "", false},
		{"arn:aws:kinesis:us-east-1:123456789012:stream/s/consumer/c:1", "", false},
		{"arn:aws:kinesis:us-east-1::stream/s", "", false},
		{"arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2025-02-22T03:03:25.490", streamDynamoDB, true},
		{"arn:aws:dynamodb:us-east-1:123456789012:table/t", "", false},
		{"arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/", "", false},
		{"arn:aws:sqs:us-east-1:123456789012:q", "", false},
	}
	for _, c := range cases {
		kind, _, ok := streamARN(c.arn)
		if ok != c.ok || (ok && kind != c.kind) {
			t.Errorf("%s: %q %v, want %q %v", c.arn, kind, ok, c.kind, c.ok)
		}
	}
}

// firstFailed reads ReportBatchItemFailures as AWS does: the lowest failed
// record; success for an empty answer; the whole batch for anything it
// cannot use.
func TestFirstFailed(t *testing.T) {
	recs := []streamRecord{{Seq: "1"}, {Seq: "2"}, {Seq: "3"}}
	cases := map[string]int{
		``:     3,
		`null`: 3,
		`{}`:   3,
		`""`:   3,
		`[]`:   3,
		`"x"`:  0,
		`{"batchItemFailures": [{"itemIdentifier": 123}]}`:                          0,
		`{"batchItemFailures": null}`:                                               3,
		`{"batchItemFailures": []}`:                                                 3,
		`{"batchItemFailures": [{"itemIdentifier": "3"}, {"itemIdentifier": "2"}]}`: 1,
		`{"batchItemFailures": [{"itemIdentifier": ""}]}`:                           0,
		`{"batchItemFailures": [{"itemIdentifier": null}]}`:                         0,
		`{"batchItemFailures": [{"itemIdentifier": "9"}]}`:                          0,
		`{"batchItemFailures": [{"foo": "1"}]}`:                                     0,
		`{"batchItemFailures": "x"}`:                                                0,
		`[1]`:                                                                       0,
	}
	for payload, want := range cases {
		if got := firstFailed([]byte(payload), recs); got != want {
			t.Errorf("%s: %d, want %d", payload, got, want)
		}
	}
}

func TestExpired(t *testing.T) {
	p := &streamPoller{m: &mapping{Stream: &streamConf{MaxRetries: 2, MaxAge: 60}}}
	fresh := []streamRecord{{Arrival: time.Now()}}
	old := []streamRecord{{Arrival: time.Now().Add(-2 * time.Minute)}}
	if c := p.expired(fresh, 2); c != "" {
		t.Errorf("2 attempts of 2 retries: %q", c)
	}
	if c := p.expired(fresh, 3); c != "RetryAttemptsExhausted" {
		t.Errorf("3 attempts: %q", c)
	}
	if c := p.expired(old, 0); c != "RecordAgeExceeded" {
		t.Errorf("old record: %q", c)
	}
	p.m.Stream.MaxRetries, p.m.Stream.MaxAge = -1, -1
	if c := p.expired(old, 1000); c != "" {
		t.Errorf("forever: %q", c)
	}
}
