package awsproto

import (
	"bytes"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

// TestAppendEvent decodes what AppendEvent and EventHead/EventTail encode
// with the SDK's event stream decoder, which checks both CRCs.
func TestAppendEvent(t *testing.T) {
	payload := bytes.Repeat([]byte("abc"), 1000)
	whole := AppendEvent(nil, "PayloadChunk", "application/octet-stream", payload)
	head, crc := EventHead(nil, "PayloadChunk", "application/octet-stream", len(payload))
	split := append(append(append([]byte(nil), head...), payload...), EventTail(nil, crc, payload)...)
	if !bytes.Equal(whole, split) {
		t.Fatalf("EventHead+payload+EventTail differs from AppendEvent")
	}
	stream := append(whole, AppendEvent(nil, "InvokeComplete", "application/json", []byte(`{}`))...)
	dec := eventstream.NewDecoder()
	r := bytes.NewReader(stream)
	for _, want := range []struct{ event, ct, payload string }{
		{"PayloadChunk", "application/octet-stream", string(payload)},
		{"InvokeComplete", "application/json", `{}`},
	} {
		m, err := dec.Decode(r, nil)
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		got := map[string]string{}
		for _, h := range m.Headers {
			got[h.Name] = h.Value.String()
		}
		if got[":event-type"] != want.event || got[":content-type"] != want.ct || got[":message-type"] != "event" || string(m.Payload) != want.payload {
			t.Errorf("message %v, payload %d bytes", got, len(m.Payload))
		}
	}
}
