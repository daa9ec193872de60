package esm

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
)

// kafkaEvent is the event a Kafka mapping hands its function, with
// exactly AWS's keys ("Using Lambda with self-managed Apache Kafka", and
// the MSK event example): records grouped by "<topic>-<partition>".
type kafkaEvent struct {
	EventSource      string                   `json:"eventSource"`
	EventSourceARN   string                   `json:"eventSourceArn,omitempty"` // MSK only
	BootstrapServers string                   `json:"bootstrapServers"`
	Records          map[string][]kafkaRecord `json:"records"`
}

// kafkaRecord is one record: key and value in base64, each header's value
// as its list of bytes (0..255, as AWS's example shows them).
type kafkaRecord struct {
	Topic         string                `json:"topic"`
	Partition     int32                 `json:"partition"`
	Offset        int64                 `json:"offset"`
	Timestamp     int64                 `json:"timestamp"`
	TimestampType string                `json:"timestampType"`
	Key           *string               `json:"key,omitempty"` // absent for a record without a key [?]
	Value         string                `json:"value"`
	Headers       []map[string]byteList `json:"headers"`
}

// byteList renders as a JSON array of numbers, not base64 as []byte would.
type byteList []byte

func (b byteList) MarshalJSON() ([]byte, error) {
	var sb strings.Builder
	sb.Grow(len(b)*4 + 2)
	sb.WriteByte('[')
	for i, c := range b {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(strconv.Itoa(int(c)))
	}
	sb.WriteByte(']')
	return []byte(sb.String()), nil
}

// Event sources as AWS names them.
const (
	eventSourceSelfManaged = "SelfManagedKafka"
	eventSourceMSK         = "aws:kafka"
)

// kafkaPayload is the event for recs. mskARN is "" for a self-managed
// cluster.
func kafkaPayload(brokers []string, mskARN string, recs []*kgo.Record) ([]byte, error) {
	ev := kafkaEvent{EventSource: eventSourceSelfManaged, EventSourceARN: mskARN,
		BootstrapServers: strings.Join(brokers, ","), Records: map[string][]kafkaRecord{}}
	if mskARN != "" {
		ev.EventSource = eventSourceMSK
	}
	for _, r := range recs {
		k := r.Topic + "-" + strconv.Itoa(int(r.Partition))
		ev.Records[k] = append(ev.Records[k], wireRecord(r))
	}
	return json.Marshal(ev)
}

func wireRecord(r *kgo.Record) kafkaRecord {
	out := kafkaRecord{
		Topic: r.Topic, Partition: r.Partition, Offset: r.Offset,
		Timestamp: r.Timestamp.UnixMilli(), TimestampType: "CREATE_TIME",
		Value:   base64.StdEncoding.EncodeToString(r.Value),
		Headers: make([]map[string]byteList, 0, len(r.Headers)),
	}
	if r.Attrs.TimestampType() == 1 {
		out.TimestampType = "LOG_APPEND_TIME"
	}
	if r.Key != nil {
		k := base64.StdEncoding.EncodeToString(r.Key)
		out.Key = &k
	}
	for _, h := range r.Headers {
		out.Headers = append(out.Headers, map[string]byteList{h.Key: byteList(h.Value)})
	}
	return out
}
