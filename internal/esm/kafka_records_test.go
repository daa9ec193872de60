package esm

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The MSK shape names its source and cluster; a self-managed one has no
// eventSourceArn; headers are byte lists; a record without key has no
// "key".
func TestKafkaPayload(t *testing.T) {
	recs := []*kgo.Record{
		{Topic: "t", Partition: 1, Offset: 7, Key: []byte("k"), Value: []byte("v"), Timestamp: time.UnixMilli(1545084650987),
			Headers: []kgo.RecordHeader{{Key: "h", Value: []byte{1, 255}}}},
		{Topic: "t", Partition: 0, Offset: 3, Value: []byte{}, Timestamp: time.UnixMilli(5)},
	}
	b, err := kafkaPayload([]string{"a:1", "b:2"}, "arn:aws:kafka:us-east-1:123456789012:cluster/c/x", recs)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"eventSource": "aws:kafka", "eventSourceArn": "arn:aws:kafka:us-east-1:123456789012:cluster/c/x", "bootstrapServers": "a:1,b:2",
		"records": map[string]any{
			"t-1": []any{map[string]any{"topic": "t", "partition": 1.0, "offset": 7.0, "timestamp": 1545084650987.0, "timestampType": "CREATE_TIME",
				"key": "aw==", "value": "dg==", "headers": []any{map[string]any{"h": []any{1.0, 255.0}}}}},
			"t-0": []any{map[string]any{"topic": "t", "partition": 0.0, "offset": 3.0, "timestamp": 5.0, "timestampType": "CREATE_TIME",
				"value": "", "headers": []any{}}},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %s", b)
	}
	b, _ = kafkaPayload([]string{"a:1"}, "", recs[:1])
	got = nil
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if _, ok := got["eventSourceArn"]; ok || got["eventSource"] != "SelfManagedKafka" {
		t.Fatalf("self-managed: %s", b)
	}
}
