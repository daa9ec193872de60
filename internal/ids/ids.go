// Package ids makes the random identifiers AWS hands out in the form of
// version 4 UUIDs: request ids, RevisionIds, durable execution ids.
package ids

import (
	"crypto/rand"
	"encoding/hex"
)

// UUID returns a random version 4 UUID in its canonical 36-character form,
// with one allocation (the string).
func UUID() string {
	var u [16]byte
	rand.Read(u[:])         // never fails (crypto/rand panics rather than return short)
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	var out [36]byte
	hex.Encode(out[0:8], u[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], u[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], u[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], u[8:10])
	out[23] = '-'
	hex.Encode(out[24:], u[10:])
	return string(out[:])
}
