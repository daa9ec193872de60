package awsproto

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/lambdad/lambdad/internal/spec"
)

func TestVerifySignatureAgainstSDKSigner(t *testing.T) {
	now := time.Now().UTC()
	creds := Credentials(func(k string) (string, bool) { return map[string]string{"AKID": "secret"}[k], k == "AKID" })
	cases := []struct{ method, url, body string }{
		{"GET", "http://127.0.0.1:9001/2015-03-31/functions/", ""},
		{"GET", "http://127.0.0.1:9001/2015-03-31/functions/?FunctionVersion=ALL&MaxItems=5", ""},
		{"POST", "http://127.0.0.1:9001/2015-03-31/functions/caller%3A%24LATEST/invocations?Qualifier=%24LATEST", `{"a":1}`},
		{"DELETE", "http://127.0.0.1:9001/2017-03-31/tags/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Af?tagKeys=a&tagKeys=b%20c", ""},
	}
	for _, c := range cases {
		r, _ := http.NewRequest(c.method, c.url, strings.NewReader(c.body))
		sum := sha256.Sum256([]byte(c.body))
		hash := hex.EncodeToString(sum[:])
		if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret"}, r, hash, "lambda", "us-east-1", now); err != nil {
			t.Fatal(err)
		}
		if err := VerifySignature(r, creds, now); err != nil {
			t.Errorf("%s %s: %v", c.method, c.url, err)
		}
		r.Header.Set("X-Amz-Date", now.Add(time.Second).Format("20060102T150405Z"))
		if err := VerifySignature(r, creds, now); err == nil {
			t.Errorf("%s %s: a changed date still verifies", c.method, c.url)
		}
	}
}

// countingBody is a body of n zero bytes that counts what is read of it.
type countingBody struct {
	left, read int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	if b.left == 0 {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), b.left))
	clear(p[:n])
	b.left -= int64(n)
	b.read += int64(n)
	return n, nil
}

// TestUnsignedPayloadHashedWithinLimit: a signed request without
// X-Amz-Content-Sha256 has its body hashed while it is read, and no more of
// it than the operation's limit is read (before, all of it was, whatever
// its size). A body within the limit still verifies.
func TestUnsignedPayloadHashedWithinLimit(t *testing.T) {
	now := time.Now().UTC()
	s := NewService(slog.New(slog.DiscardHandler))
	s.VerifyWith(func(k string) (string, bool) { return "secret", k == "AKID" })
	var got []byte
	s.Handle("Invoke", func(ctx context.Context, id Identity, in spec.Input) (spec.Output, error) {
		got = in.(*spec.InvocationRequest).Payload
		return nil, nil
	})
	s.Limit("Invoke", BodyLimit{Max: 1 << 20})
	send := func(body io.Reader, size int64) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "http://127.0.0.1:9001/2015-03-31/functions/f/invocations", body)
		r.ContentLength = size
		// Signed over a hash the server must compute itself.
		payload := ""
		if size > 0 {
			payload = strings.Repeat("\x00", int(size))
		}
		sum := sha256.Sum256([]byte(payload))
		if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret"}, r, hex.EncodeToString(sum[:]), "lambda", "us-east-1", now); err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		return w
	}
	big := &countingBody{left: 64 << 20}
	w := send(big, -1) // chunked: no declared length to refuse early
	if w.Code != 413 || w.Header().Get("X-Amzn-ErrorType") != "RequestTooLargeException" {
		t.Errorf("a 64 MB body: %d %s", w.Code, w.Body)
	}
	if big.read > 2<<20 {
		t.Errorf("%d bytes of a body over the 1 MB limit were read", big.read)
	}
	ok := &countingBody{left: 1000}
	if w := send(ok, 1000); w.Code != 200 || len(got) != 1000 {
		t.Errorf("a 1000-byte body: %d %s (handler got %d bytes)", w.Code, w.Body, len(got))
	}
	bad := &countingBody{left: 999}
	if w := send(io.MultiReader(bad, strings.NewReader("x")), 1000); w.Code != 403 {
		t.Errorf("a body other than the signed one: %d %s", w.Code, w.Body)
	}
}

// BenchmarkVerifySignature is the per-request cost of checking a signed
// Invoke with a small body and no X-Amz-Content-Sha256.
func BenchmarkVerifySignature(b *testing.B) {
	now := time.Now().UTC()
	creds := Credentials(func(k string) (string, bool) { return "secret", k == "AKID" })
	body := `{"op":"echo","value":{"hello":"world"}}`
	r, _ := http.NewRequest("POST", "http://127.0.0.1:9001/2015-03-31/functions/go-bench/invocations", strings.NewReader(body))
	sum := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret"}, r, hex.EncodeToString(sum[:]), "lambda", "us-east-1", now); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		r.Body = io.NopCloser(strings.NewReader(body))
		if err := VerifySignature(r, creds, now); err != nil {
			b.Fatal(err)
		}
	}
}

// TestIdentityIsTheSignedOne: an Authorization header with two Credential
// parts cannot be signed by one key and read as another's account.
func TestIdentityIsTheSignedOne(t *testing.T) {
	now := time.Now().UTC()
	s := NewService(slog.New(slog.DiscardHandler))
	s.VerifyWith(func(k string) (string, bool) { return "secret", k == "AKIDALICE" })
	var got Identity
	s.Handle("ListFunctions", func(ctx context.Context, id Identity, in spec.Input) (spec.Output, error) { got = id; return nil, nil })
	r := httptest.NewRequest("GET", "http://127.0.0.1:9001/2015-03-31/functions/", nil)
	sum := sha256.Sum256(nil)
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "AKIDALICE", SecretAccessKey: "secret"}, r, hex.EncodeToString(sum[:]), "lambda", "us-east-1", now); err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	if w.Code != 200 || got.Account != DefaultAccount || got.AccessKey != "AKIDALICE" {
		t.Fatalf("a signed request: %d %s %+v", w.Code, w.Body, got)
	}
	auth := r.Header.Get("Authorization")
	r.Header.Set("Authorization", strings.Replace(auth, "Credential=", "SignedHeaders=x;Credential=999999999999/"+now.Format("20060102")+"/us-east-1/lambda/aws4_request, Credential=", 1))
	got = Identity{}
	w = httptest.NewRecorder()
	s.ServeHTTP(w, r)
	if w.Code != 403 || got.Account != "" {
		t.Errorf("a header naming two keys: %d %s, the handler saw %+v", w.Code, w.Body, got)
	}
}
