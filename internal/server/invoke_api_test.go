package server_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/server"
	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// pyEcho reports what the function saw; CODE tells code revisions apart and
// count shows whether the process stayed warm.
const pyEcho = `import os
CODE = %q
count = 0

def handler(event, context):
    global count
    count += 1
    print("hello from handler", event.get("say"))
    cc = context.client_context
    return {
        "event": event,
        "count": count,
        "code": CODE,
        "request_id": context.aws_request_id,
        "arn": context.invoked_function_arn,
        "version": os.environ["AWS_LAMBDA_FUNCTION_VERSION"],
        "custom": cc.custom if cc else None,
    }
`

type pyEchoResult struct {
	Event     map[string]any    `json:"event"`
	Count     int               `json:"count"`
	Code      string            `json:"code"`
	RequestID string            `json:"request_id"`
	ARN       string            `json:"arn"`
	Version   string            `json:"version"`
	Custom    map[string]string `json:"custom"`
}

func TestInvokePythonRequestResponse(t *testing.T) {
	t.Parallel()
	d, c := servertest.InvokeEnv(t, nil)
	ctx := context.Background()
	name := "py-echo"
	testkit.CreateActive(t, c, testkit.PyFunction(t, name, fmt.Sprintf(pyEcho, "v1")))

	var first pyEchoResult
	t.Run("payload and executed version", func(t *testing.T) {
		var st testkit.RawStatus
		out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte(`{"say":"hi","n":[1,2]}`)}, st.Option())
		if err != nil {
			t.Fatal(err)
		}
		if st.Code != 200 || out.StatusCode != 200 {
			t.Errorf("status = %d (StatusCode %d), want 200", st.Code, out.StatusCode)
		}
		if got := aws.ToString(out.ExecutedVersion); got != "$LATEST" {
			t.Errorf("ExecutedVersion = %q, want $LATEST", got)
		}
		if out.FunctionError != nil {
			t.Errorf("FunctionError = %q, want none", *out.FunctionError)
		}
		if out.LogResult != nil {
			t.Errorf("LogResult without LogType Tail: %q", *out.LogResult)
		}
		first = testkit.DecodeJSON[pyEchoResult](t, out.Payload)
		if want := map[string]any{"say": "hi", "n": []any{1.0, 2.0}}; !reflect.DeepEqual(first.Event, want) {
			t.Errorf("event = %v, want %v", first.Event, want)
		}
		if first.Code != "v1" || first.Version != "$LATEST" || !testkit.UUIDRe.MatchString(first.RequestID) {
			t.Errorf("result = %+v", first)
		}
		if want := testkit.InvokeARN(name); first.ARN != want {
			t.Errorf("invoked_function_arn = %q, want %q", first.ARN, want)
		}
	})

	t.Run("warm module state", func(t *testing.T) {
		a := testkit.DecodeJSON[pyEchoResult](t, testkit.Call(t, c, name, `{}`).Payload)
		b := testkit.DecodeJSON[pyEchoResult](t, testkit.Call(t, c, name, `{}`).Payload)
		if b.Count != a.Count+1 || a.Count < 2 {
			t.Errorf("module counter went %d then %d: the environment did not stay warm", a.Count, b.Count)
		}
		if a.RequestID == b.RequestID {
			t.Errorf("two invokes shared request id %s", a.RequestID)
		}
	})

	t.Run("empty payload is an empty object", func(t *testing.T) {
		out := testkit.MustInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String(name)})
		if r := testkit.DecodeJSON[pyEchoResult](t, out.Payload); r.Event == nil || len(r.Event) != 0 {
			t.Errorf("event for no payload = %v, want {}", r.Event)
		}
	})

	t.Run("log tail", func(t *testing.T) {
		out := testkit.MustInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte(`{"say":"tail-me"}`), LogType: types.LogTypeTail})
		r := testkit.DecodeJSON[pyEchoResult](t, out.Payload)
		log := testkit.Tail(t, out)
		id := r.RequestID
		for _, want := range []string{
			"START RequestId: " + id + " Version: $LATEST\n",
			"hello from handler tail-me\n",
			"END RequestId: " + id + "\n",
			"REPORT RequestId: " + id + "\tDuration: ",
		} {
			if !strings.Contains(log, want) {
				t.Errorf("tail lacks %q:\n%s", want, log)
			}
		}
		if s, p, e := strings.Index(log, "START"), strings.Index(log, "hello from handler"), strings.Index(log, "END"); !(s < p && p < e) {
			t.Errorf("tail out of order:\n%s", log)
		}
		if !regexp.MustCompile(`REPORT RequestId: \S+\tDuration: [0-9.]+ ms\tBilled Duration: \d+ ms\tMemory Size: 128 MB\tMax Memory Used: \d+ MB`).MatchString(log) {
			t.Errorf("REPORT line not in AWS's form:\n%s", log)
		}
	})

	t.Run("response request id is the invocation's", func(t *testing.T) {
		// AWS answers with x-amzn-RequestId = the id the function and its log see.
		out := testkit.Call(t, c, name, `{}`)
		r := testkit.DecodeJSON[pyEchoResult](t, out.Payload)
		if hdr, _ := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata); hdr != r.RequestID {
			t.Errorf("x-amzn-RequestId = %q, the function ran as %q", hdr, r.RequestID)
		}
	})

	t.Run("log tail is the last 4 KB", func(t *testing.T) {
		out := testkit.MustInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte(`{"say":"` + strings.Repeat("y", 10000) + `"}`), LogType: types.LogTypeTail})
		r := testkit.DecodeJSON[pyEchoResult](t, out.Payload)
		log := testkit.Tail(t, out)
		if len(log) != 4096 || strings.Contains(log, "START") || !strings.Contains(log, "REPORT RequestId: "+r.RequestID) || !strings.HasPrefix(log, "yyyy") {
			t.Errorf("tail of a 10 KB log: %d bytes: %q", len(log), testkit.Truncate([]byte(log)))
		}
	})

	t.Run("client context", func(t *testing.T) {
		cc := base64.StdEncoding.EncodeToString([]byte(`{"custom":{"tenant":"acme","k":"v"},"env":{"locale":"en"},"client":{"app_title":"t"}}`))
		out := testkit.MustInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String(name), ClientContext: aws.String(cc)})
		r := testkit.DecodeJSON[pyEchoResult](t, out.Payload)
		if want := map[string]string{"tenant": "acme", "k": "v"}; !reflect.DeepEqual(r.Custom, want) {
			t.Errorf("client_context.custom = %v, want %v", r.Custom, want)
		}
		// Without one, the context has none.
		if r := testkit.DecodeJSON[pyEchoResult](t, testkit.Call(t, c, name, `{}`).Payload); r.Custom != nil {
			t.Errorf("client_context.custom without ClientContext = %v", r.Custom)
		}
	})

	t.Run("published version keeps its code", func(t *testing.T) {
		if _, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String(name)}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String(name), ZipFile: testkit.HandlerZip(t, fmt.Sprintf(pyEcho, "v2"))}); err != nil {
			t.Fatal(err)
		}
		testkit.WaitUpdated(t, c, name)

		latest := testkit.Call(t, c, name, `{}`)
		if r := testkit.DecodeJSON[pyEchoResult](t, latest.Payload); r.Code != "v2" || r.Version != "$LATEST" || aws.ToString(latest.ExecutedVersion) != "$LATEST" {
			t.Errorf("$LATEST after update: code %q version %q executed %q, want v2 $LATEST $LATEST", r.Code, r.Version, aws.ToString(latest.ExecutedVersion))
		}
		for _, in := range []*lambda.InvokeInput{
			{FunctionName: aws.String(name), Qualifier: aws.String("1")},
			{FunctionName: aws.String(name + ":1")},
			{FunctionName: aws.String(testkit.InvokeARN(name) + ":1")},
			{FunctionName: aws.String(testkit.InvokeARN(name)), Qualifier: aws.String("1")},
		} {
			out := testkit.MustInvoke(t, c, in)
			r := testkit.DecodeJSON[pyEchoResult](t, out.Payload)
			if aws.ToString(out.ExecutedVersion) != "1" || r.Code != "v1" || r.Version != "1" || r.ARN != testkit.InvokeARN(name)+":1" {
				t.Errorf("%s (qualifier %q): executed %q code %q version %q arn %q, want 1 v1 1 %s:1",
					aws.ToString(in.FunctionName), aws.ToString(in.Qualifier), aws.ToString(out.ExecutedVersion), r.Code, r.Version, r.ARN, testkit.InvokeARN(name))
			}
		}
		// Qualifier $LATEST is the same as none.
		out := testkit.MustInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String(name), Qualifier: aws.String("$LATEST")})
		if r := testkit.DecodeJSON[pyEchoResult](t, out.Payload); r.Code != "v2" || aws.ToString(out.ExecutedVersion) != "$LATEST" {
			t.Errorf("Qualifier $LATEST ran code %q, executed %q", r.Code, aws.ToString(out.ExecutedVersion))
		}
	})

	t.Run("dry run", func(t *testing.T) {
		var st testkit.RawStatus
		out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(name), InvocationType: types.InvocationTypeDryRun}, st.Option())
		if err != nil {
			t.Fatal(err)
		}
		if st.Code != 204 || out.StatusCode != 204 || len(out.Payload) != 0 {
			t.Errorf("DryRun: status %d (%d), payload %q; want 204 and empty", st.Code, out.StatusCode, out.Payload)
		}
		// A dry run does not run the function: the counter moves by one only.
		a := testkit.DecodeJSON[pyEchoResult](t, testkit.Call(t, c, name, `{}`).Payload)
		testkit.MustInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String(name), InvocationType: types.InvocationTypeDryRun})
		b := testkit.DecodeJSON[pyEchoResult](t, testkit.Call(t, c, name, `{}`).Payload)
		if b.Count != a.Count+1 {
			t.Errorf("counter %d then %d around a DryRun: it ran the function", a.Count, b.Count)
		}
		// DryRun still checks that the function exists.
		_, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("nope"), InvocationType: types.InvocationTypeDryRun})
		testkit.APIErr(t, err, "ResourceNotFoundException", 404, "Function not found: "+testkit.InvokeARN("nope")+":$LATEST")
	})

	t.Run("unknown function and version", func(t *testing.T) {
		_, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("nope")})
		testkit.APIErr(t, err, "ResourceNotFoundException", 404, "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope:$LATEST")
		if !testkit.IsType[*types.ResourceNotFoundException](err) {
			t.Errorf("want *types.ResourceNotFoundException, got %T", err)
		}
		_, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(name), Qualifier: aws.String("7")})
		testkit.APIErr(t, err, "ResourceNotFoundException", 404, "Function not found: "+testkit.InvokeARN(name)+":7")
		_, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(name + ":7")})
		testkit.APIErr(t, err, "ResourceNotFoundException", 404, "Function not found: "+testkit.InvokeARN(name)+":7")
		_, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(name + ":1"), Qualifier: aws.String("2")})
		testkit.APIErr(t, err, "InvalidParameterValueException", 400, "The derived qualifier from the function name does not match the specified qualifier.")
		_, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("arn:aws:lambda:ap-southeast-1:" + testkit.InvokeAccount + ":function:" + name)})
		testkit.APIErr(t, err, "ResourceNotFoundException", 404, "Functions from 'ap-southeast-1' are not reachable in this region ('us-east-1')")
	})

	t.Run("payload limits", func(t *testing.T) {
		// A JSON string one byte over 6 MB in all.
		big := []byte(`"` + strings.Repeat("x", 6291456-1) + `"`)
		_, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(name), Payload: big})
		testkit.APIErr(t, err, "RequestTooLargeException", 413, "Request must be smaller than 6291456 bytes for the InvokeFunction operation")
		// Exactly 6 MB is accepted.
		ok := []byte(`"` + strings.Repeat("x", 6291456-2) + `"`)
		if _, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(name), Payload: ok, InvocationType: types.InvocationTypeDryRun}); err != nil {
			t.Errorf("payload of exactly 6291456 bytes: %v", err)
		}

		// Event payloads have their own, smaller limit (1 MB since 2025).
		event := []byte(`"` + strings.Repeat("x", 1048576-1) + `"`)
		_, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(name), Payload: event, InvocationType: types.InvocationTypeEvent})
		testkit.APIErr(t, err, "RequestTooLargeException", 413, "1048577 byte payload is too large for the Event invocation type (limit 1048576 bytes)")

		_, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte("not json")})
		testkit.APIErrPrefix(t, err, "InvalidRequestContentException", 400, "Could not parse request body into json: Could not parse payload into json: ")
		if !testkit.IsType[*types.InvalidRequestContentException](err) {
			t.Errorf("want *types.InvalidRequestContentException, got %T", err)
		}
		// The wire form: Type and lower-case message.
		raw := testkit.RawInvoke(t, d.URL, name, nil, []byte("{bad"))
		body := testkit.DecodeJSON[map[string]string](t, raw.Body)
		if raw.Status != 400 || !strings.HasPrefix(raw.Header.Get("X-Amzn-ErrorType"), "InvalidRequestContentException") ||
			body["Type"] != "User" || !strings.HasPrefix(body["message"], "Could not parse request body into json: ") || len(body) != 2 {
			t.Errorf("raw non-JSON invoke: %d %v %s", raw.Status, raw.Header, raw.Body)
		}
	})
}

// TestInvokePythonReturnValues: what a handler returns is sent as AWS's
// runtime encodes it, None included. From python3.12 on, AWS sends non-ASCII
// characters as they are, not as \u escapes (AWS docs, "Response format").
func TestInvokePythonReturnValues(t *testing.T) {
	t.Parallel()
	_, c := servertest.InvokeEnv(t, nil)
	testkit.CreateActive(t, c, testkit.PyFunction(t, "py-returns", "def handler(event, context):\n    return eval(event['expr'])\n"))
	for expr, want := range map[string]string{
		"None":                     "null",
		"'text'":                   `"text"`,
		"1.5":                      "1.5",
		"[1, {'a': None}]":         `[1, {"a": null}]`,
		"{'u': '\\u00e9t\\u00e9'}": `{"u": "été"}`,
	} {
		payload := fmt.Sprintf(`{"expr":%q}`, expr)
		if got := string(testkit.Call(t, c, "py-returns", payload).Payload); got != want {
			t.Errorf("return %s: payload %s, want %s", expr, got, want)
		}
	}
}

// TestInvokePendingFunction: a function still being created cannot run yet.
func TestInvokePendingFunction(t *testing.T) {
	t.Parallel()
	_, c := servertest.InvokeEnv(t, func(cfg *server.Config) { cfg.Transition = 2 * time.Second })
	testkit.Create(t, c, testkit.PyFunction(t, "py-pending", "def handler(e, c):\n    return 1\n"))
	_, err := c.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("py-pending")})
	testkit.APIErr(t, err, "ResourceConflictException", 409, "The operation cannot be performed at this time. The function is currently in the following state: Pending")
}
