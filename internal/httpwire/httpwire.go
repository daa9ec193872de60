// Package httpwire holds the HTTP/1.1 request reading shared by lambdad's
// own small servers (the Runtime API, the API front): the request line, header
// lines and the lexical rules of RFC 9110/9112, strict where framing is at
// stake. It allocates nothing.
package httpwire

import "bytes"

// MaxHeaderBytes bounds a request's line and header block, as net/http's
// default does.
const MaxHeaderBytes = 1 << 20

// RequestLine splits "method SP request-target SP HTTP-version"; ok is
// false when the line has not that shape or the method is not a token.
func RequestLine(line []byte) (method, target, proto []byte, ok bool) {
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 <= 0 {
		return nil, nil, nil, false
	}
	rest := line[sp1+1:]
	sp2 := bytes.IndexByte(rest, ' ')
	if sp2 <= 0 {
		return nil, nil, nil, false
	}
	method, target, proto = line[:sp1], rest[:sp2], rest[sp2+1:]
	if !ValidName(method) {
		return nil, nil, nil, false
	}
	return method, target, proto, true
}

// HeaderLine splits "name: value", the value without surrounding blanks.
// ok is false for a nameless line, a name that is not a token (a space
// before the colon, obsolete line folding) or a value with control
// characters.
func HeaderLine(line []byte) (name, value []byte, ok bool) {
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 || !ValidName(line[:colon]) {
		return nil, nil, false
	}
	name, value = line[:colon], bytes.Trim(line[colon+1:], " \t")
	if !ValidValue(value) {
		return nil, nil, false
	}
	return name, value, true
}

// ParseLength parses a Content-Length value: digits only, no sign, no
// blanks, at most 18 of them.
func ParseLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, b := range v {
		if b < '0' || b > '9' {
			return 0, false
		}
		n = n*10 + int64(b-'0')
	}
	return n, true
}

// ValidName reports whether b is an HTTP token.
func ValidName[T []byte | string](b T) bool {
	if len(b) == 0 {
		return false
	}
	for i := range len(b) {
		if ch := b[i]; ch >= 0x80 || !tokenChar[ch] {
			return false
		}
	}
	return true
}

// ValidValue refuses control characters other than tab.
func ValidValue(b []byte) bool {
	for _, ch := range b {
		if ch < ' ' && ch != '\t' || ch == 0x7f {
			return false
		}
	}
	return true
}

var tokenChar = func() (t [128]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// EqualFold reports whether b and the ASCII string s are equal, ignoring
// ASCII case.
func EqualFold[T []byte | string](b T, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// TrimCR drops the CR of a line's CRLF (the LF already gone).
func TrimCR(line []byte) []byte {
	if n := len(line); n > 0 && line[n-1] == '\r' {
		return line[:n-1]
	}
	return line
}
