package httpwire

import "testing"

func TestRequestLine(t *testing.T) {
	for _, tc := range []struct {
		line                  string
		method, target, proto string
		ok                    bool
	}{
		{"POST /a?b=c HTTP/1.1", "POST", "/a?b=c", "HTTP/1.1", true},
		{"GET / HTTP/1.0", "GET", "/", "HTTP/1.0", true},
		{"GET  / HTTP/1.1", "", "", "", false}, // empty target
		{" GET / HTTP/1.1", "", "", "", false},
		{"GET /", "", "", "", false},
		{"G(T / HTTP/1.1", "", "", "", false}, // not a token
		{"", "", "", "", false},
	} {
		m, tg, p, ok := RequestLine([]byte(tc.line))
		if ok != tc.ok || string(m) != tc.method || string(tg) != tc.target || string(p) != tc.proto {
			t.Errorf("RequestLine(%q) = %q %q %q %v", tc.line, m, tg, p, ok)
		}
	}
}

func TestHeaderLine(t *testing.T) {
	for _, tc := range []struct {
		line, name, value string
		ok                bool
	}{
		{"Host: x", "Host", "x", true},
		{"X-A:\t v \t", "X-A", "v", true},
		{"E:", "E", "", true},
		{"Host : x", "", "", false}, // space before the colon
		{" folded", "", "", false},
		{": x", "", "", false},
		{"A: x\x00y", "", "", false},
		{"A: x\x7fy", "", "", false},
		{"A: caf\xc3\xa9", "A", "caf\xc3\xa9", true}, // obs-text passes, as in net/http
	} {
		n, v, ok := HeaderLine([]byte(tc.line))
		if ok != tc.ok || string(n) != tc.name || string(v) != tc.value {
			t.Errorf("HeaderLine(%q) = %q %q %v", tc.line, n, v, ok)
		}
	}
}

func TestParseLength(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "00": 0, "6291456": 6291456, "999999999999999999": 999999999999999999} {
		if n, ok := ParseLength([]byte(in)); !ok || n != want {
			t.Errorf("ParseLength(%q) = %d %v", in, n, ok)
		}
	}
	for _, in := range []string{"", "+1", "-1", " 1", "1 ", "0x10", "1e3", "1000000000000000000"} {
		if _, ok := ParseLength([]byte(in)); ok {
			t.Errorf("ParseLength(%q) accepted", in)
		}
	}
}

func TestEqualFold(t *testing.T) {
	if !EqualFold([]byte("content-LENGTH"), "Content-Length") || !EqualFold("Keep-Alive", "keep-alive") {
		t.Error("same names, other case")
	}
	if EqualFold([]byte("Content-Lengt"), "Content-Length") || EqualFold("Kelp-alive", "keep-alive") {
		t.Error("other names")
	}
}
