package testkit

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// MustInvoke invokes and fails the test on an API error.
func MustInvoke(t testing.TB, c *lambda.Client, in *lambda.InvokeInput) *lambda.InvokeOutput {
	t.Helper()
	out, err := c.Invoke(context.Background(), in)
	if err != nil {
		t.Fatalf("Invoke %s: %v", aws.ToString(in.FunctionName), err)
	}
	return out
}

// Call is a RequestResponse invoke of name with a JSON payload.
func Call(t testing.TB, c *lambda.Client, name, payload string) *lambda.InvokeOutput {
	t.Helper()
	return MustInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte(payload)})
}

// DecodeJSON unmarshals b into a T, failing the test when it cannot.
func DecodeJSON[T any](t testing.TB, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %q: %v", Truncate(b), err)
	}
	return v
}

// JSONKeys lists an object's top-level keys in wire order: AWS's error
// bodies have a fixed key order that clients may print verbatim.
func JSONKeys(t testing.TB, b []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not a JSON object: %q", Truncate(b))
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("keys of %q: %v", Truncate(b), err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatalf("keys of %q: %v", Truncate(b), err)
		}
	}
	return keys
}

// Tail decodes X-Amz-Log-Result.
func Tail(t testing.TB, out *lambda.InvokeOutput) string {
	t.Helper()
	if out.LogResult == nil {
		t.Fatal("no LogResult")
	}
	b, err := base64.StdEncoding.DecodeString(*out.LogResult)
	if err != nil {
		t.Fatalf("LogResult is not base64: %v", err)
	}
	return string(b)
}

// Truncate shortens b to 300 bytes for a failure message.
func Truncate(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

// RawResponse is an HTTP exchange with lambdad outside the SDK, for checks
// on the exact bytes AWS sends.
type RawResponse struct {
	Status int
	Header http.Header
	Body   []byte
}

// RawInvoke POSTs body to the Invoke route of name on the lambdad at url,
// as the invoke tests' account, with extra headers.
func RawInvoke(t testing.TB, url, name string, header map[string]string, body []byte) RawResponse {
	t.Helper()
	req, err := http.NewRequest("POST", url+"/2015-03-31/functions/"+name+"/invocations", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", InvokeAuth)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("raw invoke: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return RawResponse{resp.StatusCode, resp.Header, b}
}

// RequestIDOf pulls the request id out of "RequestId: <id> Error: ..." messages.
func RequestIDOf(t testing.TB, msg string) string {
	t.Helper()
	m := regexp.MustCompile(`^RequestId: (\S+) Error: `).FindStringSubmatch(msg)
	if m == nil || !UUIDRe.MatchString(m[1]) {
		t.Fatalf("message %q does not start with RequestId: <uuid> Error:", msg)
	}
	return m[1]
}
