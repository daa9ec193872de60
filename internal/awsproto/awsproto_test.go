package awsproto

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/lambdad/lambdad/internal/spec"
)

func TestRouterMatchesModelBindings(t *testing.T) {
	r := NewRouter(spec.Operations())
	cases := []struct {
		method, path, query, op string
		params                  Params
	}{
		{"POST", "/2015-03-31/functions", "", "CreateFunction", nil},
		{"GET", "/2015-03-31/functions/", "", "ListFunctions", nil},
		{"GET", "/2015-03-31/functions/my-fn", "", "GetFunction", Params{"FunctionName": "my-fn"}},
		{"GET", "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Af/configuration", "", "GetFunctionConfiguration",
			Params{"FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:f"}},
		{"POST", "/2015-03-31/functions/f/invocations", "", "Invoke", Params{"FunctionName": "f"}},
		{"DELETE", "/2015-03-31/functions/f", "", "DeleteFunction", Params{"FunctionName": "f"}},
		{"GET", "/2018-10-31/layers", "find=LayerVersion", "GetLayerVersionByArn", nil},
		{"GET", "/2018-10-31/layers", "", "ListLayers", nil},
		{"GET", "/2016-08-19/account-settings/", "", "GetAccountSettings", nil},
	}
	for _, c := range cases {
		q, _ := url.ParseQuery(c.query)
		op, params, _ := r.Match(c.method, c.path, q)
		if op == nil || op.Name != c.op {
			t.Errorf("%s %s?%s: got %v, want %s", c.method, c.path, c.query, op, c.op)
			continue
		}
		for k, v := range c.params {
			if params[k] != v {
				t.Errorf("%s: param %s = %q, want %q", c.op, k, params[k], v)
			}
		}
	}
	if op, _, pathOK := r.Match("PATCH", "/2015-03-31/functions/f", nil); op != nil || !pathOK {
		t.Errorf("PATCH on a known path: op=%v pathOK=%v", op, pathOK)
	}
	if op, _, pathOK := r.Match("GET", "/nope", nil); op != nil || pathOK {
		t.Errorf("unknown path matched %v", op)
	}
}

func TestValidationMessages(t *testing.T) {
	in := &spec.CreateFunctionRequest{MemorySize: ptr(int32(100)), Timeout: ptr(int32(0))}
	err := Validate(in)
	e, ok := err.(*Error)
	if !ok {
		t.Fatalf("err = %v", err)
	}
	if e.Code != "ValidationException" || e.Status != 400 {
		t.Fatalf("code/status = %s/%d", e.Code, e.Status)
	}
	for _, part := range []string{
		"Value null at 'functionName' failed to satisfy constraint: Member must not be null",
		"Value '100' at 'memorySize' failed to satisfy constraint: Member must have value greater than or equal to 128",
		"Value '0' at 'timeout' failed to satisfy constraint: Member must have value greater than or equal to 1",
	} {
		if !strings.Contains(e.Message, part) {
			t.Errorf("message lacks %q:\n%s", part, e.Message)
		}
	}
	if !strings.HasPrefix(e.Message, "5 validation errors detected: ") || strings.Count(e.Message, "; ") != 4 {
		t.Errorf("message = %s", e.Message)
	}

	one := Validate(&spec.GetFunctionRequest{FunctionName: ptr("f"), Qualifier: ptr("bad qualifier!")})
	if one == nil || !strings.HasPrefix(one.(*Error).Message, "1 validation error detected: Value 'bad qualifier!' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: ") {
		t.Errorf("qualifier: %v", one)
	}
	arch := Validate(&spec.CreateFunctionRequest{FunctionName: ptr("f"), Role: ptr("arn:aws:iam::123456789012:role/r"), Code: &spec.FunctionCode{}, Architectures: []string{"x86_64", "arm64"}})
	if arch == nil || !strings.Contains(arch.(*Error).Message, "Value '[x86_64, arm64]' at 'architectures' failed to satisfy constraint: Member must have length less than or equal to 1") {
		t.Errorf("architectures: %v", arch)
	}
	if err := Validate(&spec.GetFunctionRequest{FunctionName: ptr("f")}); err != nil {
		t.Errorf("valid input: %v", err)
	}
}

func TestWriteErrorWireFormat(t *testing.T) {
	cases := []struct {
		err                 error
		status              int
		typ, message, upper string
	}{
		{NotFound("Function not found: x"), 404, "ResourceNotFoundException", "Function not found: x", "Function not found: x"},
		{InvalidParameter("bad"), 400, "InvalidParameterValueException", "bad", ""},
		{Errorf("TooManyRequestsException", "Rate Exceeded.").With("Reason", "R"), 429, "TooManyRequestsException", "Rate Exceeded.", ""},
		{io.ErrUnexpectedEOF, 500, "ServiceException", "An internal error occurred: unexpected EOF", "An internal error occurred: unexpected EOF"},
	}
	for _, c := range cases {
		w := httptest.NewRecorder()
		WriteError(w, slog.New(slog.DiscardHandler), c.err)
		if w.Code != c.status || w.Header().Get("X-Amzn-ErrorType") != c.typ {
			t.Errorf("%v: status %d type %q", c.err, w.Code, w.Header().Get("X-Amzn-ErrorType"))
		}
		var body map[string]string
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
		if body["message"] != c.message || body["Message"] != c.upper || body["Type"] == "" {
			t.Errorf("%v: body %v", c.err, body)
		}
	}
}

func TestIdentityFromAuthorization(t *testing.T) {
	cases := []struct{ auth, account, region, fallback string }{
		{"", DefaultAccount, DefaultRegion, ""},
		{"", "123456789012", DefaultRegion, "123456789012"},
		{"AWS4-HMAC-SHA256 Credential=FOOBARKEY/20260101/us-east-1/lambda/aws4_request, SignedHeaders=host", "123456789012", DefaultRegion, "123456789012"},
		{"AWS4-HMAC-SHA256 Credential=111122223333/20260101/us-east-1/lambda/aws4_request, SignedHeaders=host", "111122223333", DefaultRegion, "123456789012"},
		{"AWS4-HMAC-SHA256 Credential=123456789012/20260101/eu-west-1/lambda/aws4_request, SignedHeaders=host, Signature=x", "123456789012", "eu-west-1", ""},
		{"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-west-2/lambda/aws4_request, SignedHeaders=host", DefaultAccount, "us-west-2", ""},
		{"AWS4-HMAC-SHA256 Credential=1234/20260101", DefaultAccount, DefaultRegion, ""},
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", "/", nil)
		if c.auth != "" {
			r.Header.Set("Authorization", c.auth)
		}
		id := IdentityFrom(r, c.fallback)
		if id.Account != c.account || id.Region != c.region {
			t.Errorf("%q: %+v", c.auth, id)
		}
	}
}

func TestServiceDecodesBindsAndRefusesUnimplemented(t *testing.T) {
	s := NewService(slog.New(slog.DiscardHandler))
	var got *spec.ListFunctionsRequest
	On(s, "ListFunctions", func(ctx context.Context, id Identity, in *spec.ListFunctionsRequest) (*spec.ListFunctionsResponse, error) {
		got = in
		return &spec.ListFunctionsResponse{Functions: []spec.FunctionConfiguration{}}, nil
	})
	w := httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest("GET", "/2015-03-31/functions/?MaxItems=7&FunctionVersion=ALL", nil))
	if w.Code != 200 || got == nil || *got.MaxItems != 7 || *got.FunctionVersion != "ALL" {
		t.Fatalf("status %d, input %+v", w.Code, got)
	}
	w = httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest("GET", "/2015-03-31/functions/?MaxItems=seven", nil))
	if w.Code != 400 || w.Header().Get("X-Amzn-ErrorType") != "ValidationException" {
		t.Errorf("bad MaxItems: %d %s", w.Code, w.Body)
	}
	w = httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest("POST", "/2015-03-31/functions/f/aliases", strings.NewReader(`{"Name":"a","FunctionVersion":"1"}`)))
	if w.Code != 501 || !strings.Contains(w.Body.String(), "CreateAlias") {
		t.Errorf("unimplemented: %d %s", w.Code, w.Body)
	}
	On(s, "CreateFunction", func(ctx context.Context, id Identity, in *spec.CreateFunctionRequest) (*spec.FunctionConfiguration, error) {
		return &spec.FunctionConfiguration{}, nil
	})
	w = httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest("POST", "/2015-03-31/functions", strings.NewReader(`{"FunctionName": `)))
	if w.Code != 400 || w.Header().Get("X-Amzn-ErrorType") != "InvalidRequestContentException" {
		t.Errorf("malformed JSON: %d %s", w.Code, w.Body)
	}
	s.Limit("CreateFunction", BodyLimit{Max: 10})
	w = httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest("POST", "/2015-03-31/functions", strings.NewReader(`{"FunctionName":"abcdefghijkl"}`)))
	if w.Code != 413 {
		t.Errorf("oversized: %d %s", w.Code, w.Body)
	}
}

func ptr[T any](v T) *T { return &v }

// levelCounter counts log records at ERROR.
type levelCounter struct{ errors atomic.Int32 }

func (h *levelCounter) Enabled(context.Context, slog.Level) bool { return true }
func (h *levelCounter) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError {
		h.errors.Add(1)
	}
	return nil
}
func (h *levelCounter) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *levelCounter) WithGroup(string) slog.Handler      { return h }

// A client that hangs up is not an internal error; a canceled context
// while the client still waits is.
func TestAbandonedRequestIsNotAnError(t *testing.T) {
	logs := &levelCounter{}
	s := NewService(slog.New(logs))
	On(s, "ListFunctions", func(ctx context.Context, id Identity, in *spec.ListFunctionsRequest) (*spec.ListFunctionsResponse, error) {
		return nil, fmt.Errorf("waiting: %w", context.Canceled)
	})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/2015-03-31/functions/", nil).WithContext(ctx))
	if n := logs.errors.Load(); n != 0 {
		t.Errorf("%d errors logged for a request the client abandoned", n)
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest("GET", "/2015-03-31/functions/", nil))
	if w.Code != 500 || logs.errors.Load() != 1 {
		t.Errorf("status %d, %d errors logged", w.Code, logs.errors.Load())
	}
}
