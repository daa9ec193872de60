package awsproto

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http/httptest"
	"reflect"
	"strings"
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

// FuzzParseAuthorization throws arbitrary Authorization headers at the SigV4
// header parser: it never panics, answers AWS's errors only, and what it
// accepts has every part SigV4 needs and reads back the same when written
// out again.
func FuzzParseAuthorization(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=abcd")
	f.Add("AWS4-HMAC-SHA256 Credential=ASIAABCDEFGHIJKLMNOP/20250101/eu-west-1/lambda/aws4_request,SignedHeaders=content-length;host;x-amz-date;x-amz-security-token,Signature=00")
	f.Add("AWS4-HMAC-SHA256 Credential=/20250101/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=x")
	f.Add("AWS4-HMAC-SHA256 Credential=a/b/c/d, SignedHeaders=;;, Signature=")
	f.Add("AWS4-HMAC-SHA256 Credential=a=b/c/d/e/f, SignedHeaders=Host, Signature==,,")
	f.Add("Bearer x")
	f.Fuzz(func(t *testing.T, h string) {
		a, err := parseAuthorization(h)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code != "MissingAuthenticationTokenException" && e.Code != "IncompleteSignatureException" {
				t.Fatalf("%q: unexpected error %v", h, err)
			}
			return
		}
		if a.AccessKey == "" || a.Date == "" || a.Region == "" || a.Service == "" || a.Signature == "" || len(a.SignedHeaders) == 0 {
			t.Fatalf("%q: accepted with a part missing: %+v", h, a)
		}
		if a.Scope != a.Date+"/"+a.Region+"/"+a.Service+"/"+a.Scope[strings.LastIndex(a.Scope, "/")+1:] {
			t.Fatalf("%q: scope %q does not match its parts %+v", h, a.Scope, a)
		}
		again := sigV4Prefix + "Credential=" + a.AccessKey + "/" + a.Scope + ", SignedHeaders=" + strings.Join(a.SignedHeaders, ";") + ", Signature=" + a.Signature
		b, err := parseAuthorization(again)
		if err != nil || !reflect.DeepEqual(a, b) {
			t.Fatalf("%q: parsed %+v, written %q, reparsed %+v %v", h, a, again, b, err)
		}
	})
}
