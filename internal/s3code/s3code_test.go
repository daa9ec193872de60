package s3code

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// s3Stub answers path-style GETs as S3 does, including its XML errors: it
// stands in for an S3-compatible endpoint, which this machine has none of.
func s3Stub(t *testing.T, objects map[string]string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
			t.Errorf("request not signed: %v", r.Header)
		}
		body, ok := objects[r.URL.Path+"?"+r.URL.Query().Get("versionId")]
		if !ok {
			body, ok = objects[r.URL.Path]
		}
		if !ok {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>`)
			return
		}
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestGetObject(t *testing.T) {
	srv := s3Stub(t, map[string]string{"/code/fn.zip": "zip-bytes", "/code/fn.zip?v2": "version-2"})
	c := New(srv.URL, "us-east-1")
	for _, tc := range []struct{ version, want string }{{"", "zip-bytes"}, {"v2", "version-2"}} {
		rc, err := c.GetObject(context.Background(), "code", "fn.zip", tc.version)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if string(got) != tc.want {
			t.Errorf("version %q: %q", tc.version, got)
		}
	}
	_, err := c.GetObject(context.Background(), "code", "missing.zip", "")
	var e *Error
	if !errors.As(err, &e) || e.ErrorCode() != "NoSuchKey" || e.Error() != "The specified key does not exist." {
		t.Errorf("missing key: %v", err)
	}
}
