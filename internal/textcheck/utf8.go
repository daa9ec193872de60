// Package textcheck holds the checks on request text that both the wire
// layer (request bodies) and the invoke core (payloads) make, worded as AWS
// words them.
package textcheck

import (
	"fmt"
	"unicode/utf8"
)

// InvalidUTF8 describes the first invalid UTF-8 sequence of b as AWS's JSON
// parser (Jackson) words it, with its location; bad is false when b is valid.
// Jackson reports the byte it choked on and a column one past it: bytes
// counted from the line's start, 1-based, after the offending byte.
func InvalidUTF8(b []byte) (msg string, bad bool) {
	if utf8.Valid(b) {
		return "", false
	}
	line, lineStart := 1, 0
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			if c == '\n' {
				line, lineStart = line+1, i+1
			}
			i++
			continue
		}
		if r, n := utf8.DecodeRune(b[i:]); r != utf8.RuneError || n > 1 {
			i += n
			continue
		}
		// The sequence's length as its first byte announces it.
		need := 0
		switch {
		case c&0xE0 == 0xC0:
			need = 1
		case c&0xF0 == 0xE0:
			need = 2
		case c&0xF8 == 0xF0:
			need = 3
		}
		for k := 1; k <= need && i+k < len(b); k++ {
			if b[i+k]&0xC0 != 0x80 {
				return where(fmt.Sprintf("Invalid UTF-8 middle byte 0x%x", b[i+k]), line, i+k-lineStart), true
			}
		}
		// A bad first byte, or a well-formed but invalid sequence
		// (overlong, surrogate, beyond U+10FFFF): named by its first byte.
		return where(fmt.Sprintf("Invalid UTF-8 start byte 0x%x", c), line, i-lineStart), true
	}
	return "Invalid UTF-8", true
}

func where(msg string, line, off int) string {
	return fmt.Sprintf("%s\n at [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled); line: %d, column: %d]", msg, line, off+2)
}
