package awsproto

import (
	"encoding/binary"
	"hash/crc32"
	"net/http"
)

// Streamer is an output that writes its own response after its handler
// returned: an event stream (InvokeWithResponseStream). An error it returns
// before it wrote anything is answered as the operation's error.
type Streamer interface {
	ServeStream(w http.ResponseWriter) error
}

// AppendEvent appends one message of AWS's event stream encoding
// (application/vnd.amazon.eventstream) carrying an event: its prelude
// (total and headers length, CRC), the headers :event-type, :content-type
// and :message-type as strings, the payload, and the message's CRC.
func AppendEvent(b []byte, eventType, contentType string, payload []byte) []byte {
	hdrLen := 0
	for _, h := range [...][2]string{{":event-type", eventType}, {":content-type", contentType}, {":message-type", "event"}} {
		hdrLen += 1 + len(h[0]) + 1 + 2 + len(h[1])
	}
	total := 12 + hdrLen + len(payload) + 4
	start := len(b)
	b = binary.BigEndian.AppendUint32(b, uint32(total))
	b = binary.BigEndian.AppendUint32(b, uint32(hdrLen))
	b = binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[start:start+8]))
	for _, h := range [...][2]string{{":event-type", eventType}, {":content-type", contentType}, {":message-type", "event"}} {
		b = append(b, byte(len(h[0])))
		b = append(b, h[0]...)
		b = append(b, 7) // string
		b = binary.BigEndian.AppendUint16(b, uint16(len(h[1])))
		b = append(b, h[1]...)
	}
	b = append(b, payload...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[start:]))
}
