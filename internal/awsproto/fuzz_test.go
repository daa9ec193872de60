package awsproto

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/lambdad/lambdad/internal/spec"
)

// FuzzDecode throws arbitrary paths, queries, headers and bodies at the
// decoder: it must answer every one with a response (never panic), and an
// error response must be AWS's JSON error shape.
func FuzzDecode(f *testing.F) {
	f.Add("POST", "/2015-03-31/functions", "", []byte(`{"FunctionName":"f","Role":"arn:aws:iam::123456789012:role/r","Code":{"ZipFile":"UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA=="},"MemorySize":128}`))
	f.Add("GET", "/2015-03-31/functions/", "MaxItems=5&Marker=abc&FunctionVersion=ALL", []byte{})
	f.Add("PUT", "/2015-03-31/functions/f%3A1/configuration", "", []byte(`{"Environment":{"Variables":{"A":"B"}},"Layers":["x"]}`))
	f.Add("POST", "/2015-03-31/functions/f/invocations", "Qualifier=%24LATEST", []byte(`{"x":1}`))
	f.Add("DELETE", "/2017-03-31/tags/arn", "tagKeys=a&tagKeys=b", []byte{})
	f.Add("POST", "/2015-03-31/functions", "", []byte(`{"Code":{"ZipFile":123},"Timeout":"x","VpcConfig":[]}`))
	f.Fuzz(func(t *testing.T, method, path, query string, body []byte) {
		s := NewService(slog.New(slog.DiscardHandler))
		ok := func(ctx context.Context, id Identity, in spec.Input) (spec.Output, error) { return nil, nil }
		for _, op := range spec.Operations() {
			s.Handle(op.Name, ok)
		}
		r := httptest.NewRequest("GET", "/", bytes.NewReader(body))
		r.Method = method
		r.URL.Path, r.URL.RawPath, r.URL.RawQuery = path, "", query
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		if w.Code >= 400 {
			var e map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || w.Header().Get("X-Amzn-ErrorType") == "" {
				t.Fatalf("%s %s: status %d body %q", method, path, w.Code, w.Body)
			}
		}
	})
}

// FuzzStreamDecode checks that the streaming decoder (lifting blobs from 8
// bytes on, through small buffers and reads) decodes exactly as
// encoding/json does, errors included, and that the sink gets every byte.
func FuzzStreamDecode(f *testing.F) {
	f.Add([]byte(`{"FunctionName":"f","Code":{"ZipFile":"UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA=="}}`), uint8(3), uint8(0))
	f.Add([]byte(`{"Code":{"ZipFile":"UEsFBg\/AAAAAAAAAAAAAAAAAAA=="},"Layers":["aaaaaaaaaaaa"]}`), uint8(1), uint8(5))
	f.Add([]byte(`{"Description":"aaaaaaaaaaaaaaa","Code":{"ZipFile":"!!!!!!!!!!!!"}}`), uint8(7), uint8(9))
	f.Add([]byte(`{"Code":{"ZipFile":"QUFBQUFB\nQUFB\u0051UFB","zipFile":null}}`), uint8(2), uint8(1))
	f.Fuzz(func(t *testing.T, body []byte, chunk, buf uint8) {
		if err := matchesJSON(body, 1+int(chunk%37), 8+int(buf%64), 8); err != nil {
			t.Fatal(err)
		}
	})
}
