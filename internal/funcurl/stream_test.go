package funcurl

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// TestStreamWriterPrelude feeds a prelude split across writes, its
// delimiter included, and checks status, headers, cookies and body.
func TestStreamWriterPrelude(t *testing.T) {
	rec := httptest.NewRecorder()
	s := NewStreamWriter(rec)
	if err := s.Begin("1", HTTPIntegration); err != nil {
		t.Fatal(err)
	}
	whole := `{"statusCode":418,"headers":{"X-A":"b"},"cookies":["k=v","l=w"]}` + "\x00\x00\x00\x00\x00\x00\x00\x00" + "body-1"
	for _, part := range []string{whole[:10], whole[10 : len(whole)-10], whole[len(whole)-10:], "+body-2"} {
		if _, err := s.Write([]byte(part)); err != nil {
			t.Fatal(err)
		}
	}
	if !s.Finish(true) || rec.Code != 418 || rec.Header().Get("X-A") != "b" || strings.Join(rec.Header().Values("Set-Cookie"), ";") != "k=v;l=w" ||
		rec.Header().Get("Content-Type") != "application/octet-stream" || rec.Body.String() != "body-1+body-2" {
		t.Errorf("%d %v %q", rec.Code, rec.Header(), rec.Body.String())
	}
}

// TestStreamWriterPlain: without the prelude's content type the stream is
// a 200 of the function's content type; a prelude that is not JSON fails
// before anything is sent.
func TestStreamWriterPlain(t *testing.T) {
	rec := httptest.NewRecorder()
	s := NewStreamWriter(rec)
	s.Begin("1", "text/csv")
	s.Write([]byte("a,b\n"))
	if !s.Finish(true) || rec.Code != 200 || rec.Header().Get("Content-Type") != "text/csv" || rec.Body.String() != "a,b\n" {
		t.Errorf("%d %v %q", rec.Code, rec.Header(), rec.Body.String())
	}
	// A function that fails before its first byte gets no response here.
	rec = httptest.NewRecorder()
	s = NewStreamWriter(rec)
	s.Begin("1", "text/plain")
	if s.Finish(false) || s.Started() {
		t.Errorf("a stream that failed first was sent: %d", rec.Code)
	}
	rec = httptest.NewRecorder()
	s = NewStreamWriter(rec)
	s.Begin("1", HTTPIntegration)
	if _, err := s.Write([]byte("not json\x00\x00\x00\x00\x00\x00\x00\x00x")); err == nil || s.Started() {
		t.Errorf("bad prelude: %v, started %v", err, s.Started())
	}
}
