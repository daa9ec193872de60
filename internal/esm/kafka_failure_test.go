package esm

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// A ReportBatchItemFailures answer to a Kafka batch: what is tried again.
func TestKafkaFailed(t *testing.T) {
	recs := []*kgo.Record{
		{Topic: "t", Partition: 0, Offset: 5}, {Topic: "t", Partition: 0, Offset: 6}, {Topic: "t", Partition: 0, Offset: 7},
		{Topic: "t", Partition: 1, Offset: 2}, {Topic: "t", Partition: 1, Offset: 3},
	}
	offsets := func(rs []*kgo.Record) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.Topic+"-"+string(rune('0'+r.Partition))+"@"+string(rune('0'+r.Offset)))
		}
		return out
	}
	cases := []struct {
		answer string
		want   int // records tried again; -1: none
		first  string
	}{
		{``, 0, ""},
		{`null`, 0, ""},
		{`""`, 0, ""},
		{`[]`, 0, ""},
		{`{}`, 0, ""},
		{`{"batchItemFailures": null}`, 0, ""},
		{`{"batchItemFailures": []}`, 0, ""},
		{`{"batchItemFailures": [{"itemIdentifier": {"partition": "t-0", "offset": 6}}]}`, 2, "t-0@6"},
		{`{"batchItemFailures": [{"itemIdentifier": {"partition": "t-0", "offset": 7}}, {"itemIdentifier": {"partition": "t-0", "offset": 6}}]}`, 2, "t-0@6"},
		{`{"batchItemFailures": [{"itemIdentifier": {"partition": "t-1", "offset": 2}}]}`, 2, "t-1@2"},
		{`{"batchItemFailures": [{"itemIdentifier": {"partition": "t-0", "offset": 7}}, {"itemIdentifier": {"partition": "t-1", "offset": 3}}]}`, 2, "t-0@7"},
		// Not in the batch, not the shape, not JSON: the whole batch.
		{`{"batchItemFailures": [{"itemIdentifier": {"partition": "t-0", "offset": 9}}]}`, 5, "t-0@5"},
		{`{"batchItemFailures": [{"itemIdentifier": {"partition": "u-0", "offset": 5}}]}`, 5, "t-0@5"},
		{`{"batchItemFailures": [{"itemIdentifier": "t-0:5"}]}`, 5, "t-0@5"},
		{`{"batchItemFailures": [{"itemIdentifier": {"offset": 5}}]}`, 5, "t-0@5"},
		{`{"batchItemFailures": [{}]}`, 5, "t-0@5"},
		{`{"batchItemFailures": "x"}`, 5, "t-0@5"},
		{`"ok"`, 5, "t-0@5"},
	}
	for _, c := range cases {
		got := kafkaFailed([]byte(c.answer), recs)
		if len(got) != c.want || (c.want > 0 && offsets(got)[0] != c.first) {
			t.Errorf("%s: %v, want %d from %s", c.answer, offsets(got), c.want, c.first)
		}
	}
}
