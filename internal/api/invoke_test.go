package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/api/apitest"
	"github.com/lambdad/lambdad/internal/limits"
)

// auth is a SigV4 Authorization header of apitest's account; signatures are
// not checked by default, the identity is read from it.
const auth = "AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=0000"

// echo answers what the function saw.
const echo = `def handler(event, context):
    if event.get("fail"):
        raise RuntimeError("asked to")
    print("hello from handler")
    cc = context.client_context
    return {"event": event, "request_id": context.aws_request_id, "custom": cc.custom if cc else None}
`

type reply struct {
	status int
	header http.Header
	body   string
}

// post sends an Invoke of name (with "?query" if any) with the headers
// and body, as a client that is not the SDK would.
func post(t *testing.T, env *apitest.Env, name string, hdr map[string]string, body []byte) reply {
	t.Helper()
	name, query, _ := strings.Cut(name, "?")
	req, err := http.NewRequest("POST", env.URL+"/2015-03-31/functions/"+name+"/invocations?"+query, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", auth)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header, string(b)}
}

// awsError checks an error reply's status, type and message.
func awsError(t *testing.T, r reply, status int, code, msg string) {
	t.Helper()
	var body struct{ Message, Type, Reason string }
	json.Unmarshal([]byte(r.body), &body)
	if r.status != status || r.header.Get("X-Amzn-ErrorType") != code || body.Message != msg {
		t.Errorf("got %d %s %q\nwant %d %s %q", r.status, r.header.Get("X-Amzn-ErrorType"), body.Message, status, code, msg)
	}
}

func TestInvokeDecoding(t *testing.T) {
	env := apitest.New(t, apitest.Options{})
	env.Python(t, "echo", echo)
	cc := base64.StdEncoding.EncodeToString([]byte(`{"custom":{"k":"v"},"env":{},"client":{}}`))
	for _, tc := range []struct {
		name  string
		fn    string
		hdr   map[string]string
		body  string
		check func(t *testing.T, r reply)
	}{
		{"sync: 200, executed version, the request id the function ran as", "echo", nil, `{"say":"hi"}`, func(t *testing.T, r reply) {
			var got struct {
				Event     map[string]string `json:"event"`
				RequestID string            `json:"request_id"`
			}
			json.Unmarshal([]byte(r.body), &got)
			if r.status != 200 || r.header.Get("X-Amz-Executed-Version") != "$LATEST" || got.Event["say"] != "hi" {
				t.Errorf("%d %v %s", r.status, r.header, r.body)
			}
			if id := r.header.Get("X-Amzn-Requestid"); id == "" || id != got.RequestID {
				t.Errorf("x-amzn-RequestId %q, the function ran as %q", id, got.RequestID)
			}
			if r.header.Get("X-Amz-Log-Result") != "" || r.header.Get("X-Amz-Function-Error") != "" {
				t.Errorf("log or function error not asked for: %v", r.header)
			}
		}},
		{"explicit RequestResponse", "echo", map[string]string{"X-Amz-Invocation-Type": "RequestResponse"}, `{}`, func(t *testing.T, r reply) {
			if r.status != 200 || !strings.Contains(r.body, `"request_id"`) {
				t.Errorf("%d %s", r.status, r.body)
			}
		}},
		{"Event: 202 and no body", "echo", map[string]string{"X-Amz-Invocation-Type": "Event"}, `{}`, func(t *testing.T, r reply) {
			if r.status != 202 || r.body != "" || r.header.Get("X-Amz-Executed-Version") != "" {
				t.Errorf("%d %q %v", r.status, r.body, r.header)
			}
		}},
		{"DryRun: 204", "echo", map[string]string{"X-Amz-Invocation-Type": "DryRun"}, `{}`, func(t *testing.T, r reply) {
			if r.status != 204 || r.body != "" {
				t.Errorf("%d %q", r.status, r.body)
			}
		}},
		{"an unknown invocation type", "echo", map[string]string{"X-Amz-Invocation-Type": "Later"}, `{}`, func(t *testing.T, r reply) {
			if r.status != 400 || r.header.Get("X-Amzn-ErrorType") != "ValidationException" {
				t.Errorf("%d %s %s", r.status, r.header.Get("X-Amzn-ErrorType"), r.body)
			}
		}},
		{"tail log: base64 of the log's end", "echo", map[string]string{"X-Amz-Log-Type": "Tail"}, `{}`, func(t *testing.T, r reply) {
			log, err := base64.StdEncoding.DecodeString(r.header.Get("X-Amz-Log-Result"))
			if err != nil || !strings.Contains(string(log), "hello from handler") || !strings.Contains(string(log), "REPORT RequestId: "+r.header.Get("X-Amzn-Requestid")) {
				t.Errorf("log result %q: %v", log, err)
			}
		}},
		{"client context decoded for the function", "echo", map[string]string{"X-Amz-Client-Context": cc}, `{}`, func(t *testing.T, r reply) {
			if !strings.Contains(r.body, `"custom": {"k": "v"}`) {
				t.Errorf("function saw %s", r.body)
			}
		}},
		{"client context not base64", "echo", map[string]string{"X-Amz-Client-Context": "%%%"}, `{}`, func(t *testing.T, r reply) {
			awsError(t, r, 400, "InvalidRequestContentException", "Client context must be a valid Base64-encoded JSON object.")
		}},
		{"client context not JSON", "echo", map[string]string{"X-Amz-Client-Context": base64.StdEncoding.EncodeToString([]byte("{nope"))}, `{}`, func(t *testing.T, r reply) {
			awsError(t, r, 400, "InvalidRequestContentException", "Client context must be a valid Base64-encoded JSON object.")
		}},
		{"client context of an Event is not read", "echo", map[string]string{"X-Amz-Invocation-Type": "Event", "X-Amz-Client-Context": "%%%"}, `{}`, func(t *testing.T, r reply) {
			if r.status != 202 {
				t.Errorf("%d %s", r.status, r.body)
			}
		}},
		{"function error header", "echo", nil, `{"fail":true}`, func(t *testing.T, r reply) {
			if r.status != 200 || r.header.Get("X-Amz-Function-Error") != "Unhandled" || !strings.Contains(r.body, "asked to") {
				t.Errorf("%d %v %s", r.status, r.header, r.body)
			}
		}},
		{"qualifier in the query", "echo?Qualifier=7", nil, `{}`, func(t *testing.T, r reply) {
			awsError(t, r, 404, "ResourceNotFoundException", "Function not found: "+apitest.ARN("echo")+":7")
		}},
		{"missing function", "nope", nil, `{}`, func(t *testing.T, r reply) {
			awsError(t, r, 404, "ResourceNotFoundException", "Function not found: "+apitest.ARN("nope")+":$LATEST")
		}},
		{"payload not JSON", "echo", nil, `{"a":`, func(t *testing.T, r reply) {
			awsError(t, r, 400, "InvalidRequestContentException", "Could not parse request body into json: Could not parse payload into json: unexpected end of JSON input")
		}},
		{"Event payload over 1 MB", "echo", map[string]string{"X-Amz-Invocation-Type": "Event"}, `"` + strings.Repeat("x", 1048576) + `"`, func(t *testing.T, r reply) {
			awsError(t, r, 413, "RequestTooLargeException", "1048578 byte payload is too large for the Event invocation type (limit 1048576 bytes)")
		}},
		{"sync payload over 6 MB", "echo", nil, `"` + strings.Repeat("x", limits.InvokeRequestBytes) + `"`, func(t *testing.T, r reply) {
			awsError(t, r, 413, "RequestTooLargeException", "Request must be smaller than 6291456 bytes for the InvokeFunction operation")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.check(t, post(t, env, tc.fn, tc.hdr, []byte(tc.body)))
		})
	}
}

// TestInvokeThrottleAnswers: a concurrency limit is 429 with AWS's Reason
// on the API, and 429 "Rate Exceeded." on a function URL.
func TestInvokeThrottleAnswers(t *testing.T) {
	env := apitest.New(t, apitest.Options{})
	env.Python(t, "capped", echo)
	ctx := context.Background()
	c := env.Client
	if _, err := c.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("capped"), ReservedConcurrentExecutions: aws.Int32(0)}); err != nil {
		t.Fatal(err)
	}
	r := post(t, env, "capped", nil, []byte(`{}`))
	awsError(t, r, 429, "TooManyRequestsException", "Rate Exceeded.")
	if !strings.Contains(r.body, `"Reason":"ReservedFunctionConcurrentInvocationLimitExceeded"`) {
		t.Errorf("no Reason: %s", r.body)
	}

	cfg, err := c.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String("capped"), AuthType: types.FunctionUrlAuthTypeNone})
	if err != nil {
		t.Fatal(err)
	}
	fu, _ := url.Parse(aws.ToString(cfg.FunctionUrl))
	id, _, _ := strings.Cut(fu.Host, ".")
	get := func() (int, string) {
		resp, err := http.Get(env.URL + "/_lambdad/url/" + id + "/")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if status, body := get(); status != 429 || !strings.Contains(body, "Rate Exceeded.") {
		t.Errorf("function URL of a throttled function: %d %s", status, body)
	}
	// Once it may run, the URL runs it through the same core.
	if _, err := c.DeleteFunctionConcurrency(ctx, &lambda.DeleteFunctionConcurrencyInput{FunctionName: aws.String("capped")}); err != nil {
		t.Fatal(err)
	}
	if status, body := get(); status != 200 || !strings.Contains(body, `"rawPath": "/"`) {
		t.Errorf("function URL: %d %s", status, body)
	}
}
