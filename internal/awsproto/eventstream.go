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

// EventHead appends the start of an event message (AppendEvent) whose
// payload is n bytes and returns it with the CRC the message ends with so
// far: the payload can then be written as it is, uncopied, followed by
// EventTail.
func EventHead(b []byte, eventType, contentType string, n int) ([]byte, uint32) {
	start := len(b)
	b = AppendEvent(b, eventType, contentType, nil)
	b = b[:len(b)-4]
	binary.BigEndian.PutUint32(b[start:], binary.BigEndian.Uint32(b[start:])+uint32(n))
	binary.BigEndian.PutUint32(b[start+8:], crc32.ChecksumIEEE(b[start:start+8]))
	return b, crc32.ChecksumIEEE(b[start:])
}

// EventTail is the end of a message EventHead began: the CRC of the head
// (crc) and payload.
func EventTail(b []byte, crc uint32, payload []byte) []byte {
	return binary.BigEndian.AppendUint32(b, crc32.Update(crc, crc32.IEEETable, payload))
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
