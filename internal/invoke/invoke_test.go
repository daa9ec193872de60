package invoke_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/lambdad/lambdad/internal/api/apitest"
	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/invoke"
)

// echo reports what the function saw; count shows whether it ran, and
// "mark" makes it write its request id to a file (for queued runs).
const echo = `import os
count = 0

def handler(event, context):
    global count
    count += 1
    print("hello from handler", event.get("say", ""))
    if "mark" in event:
        open(event["mark"], "a").write(context.aws_request_id)
    cc = context.client_context
    return {
        "event": event,
        "count": count,
        "request_id": context.aws_request_id,
        "version": os.environ["AWS_LAMBDA_FUNCTION_VERSION"],
        "custom": cc.custom if cc else None,
    }
`

type echoed struct {
	Event     map[string]any    `json:"event"`
	Count     int               `json:"count"`
	RequestID string            `json:"request_id"`
	Version   string            `json:"version"`
	Custom    map[string]string `json:"custom"`
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

const parseErr = "Could not parse request body into json: Could not parse payload into json: "

func TestInvoke(t *testing.T) {
	env := apitest.New(t, apitest.Options{})
	env.Python(t, "echo", echo)
	ctx := context.Background()
	if _, err := env.Client.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("echo")}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Client.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("echo"), Name: aws.String("live"), FunctionVersion: aws.String("1")}); err != nil {
		t.Fatal(err)
	}
	// count is how many times the function ran, this call included.
	count := func(t *testing.T, qualifier string) int {
		t.Helper()
		res, err := env.Invoke.Invoke(ctx, apitest.Ref("echo", qualifier), nil, invoke.Options{})
		if err != nil {
			t.Fatal(err)
		}
		var e echoed
		if err := json.Unmarshal(res.Payload, &e); err != nil {
			t.Fatalf("%v: %s", err, res.Payload)
		}
		return e.Count
	}
	big := []byte(`{"say":"` + strings.Repeat("x", 1048576-9) + `"}`) // 1 MB + 1

	for _, tc := range []struct {
		name    string
		ref     string // name[:qualifier]
		payload []byte
		opts    invoke.Options
		// want: the error's kind and message (kind Internal: no error) ...
		kind fault.Kind
		msg  string
		// ... or a check of the result.
		check func(t *testing.T, res invoke.Result, e echoed)
		// ran says whether the function ran ($LATEST, or version 1 when
		// the case names it).
		ran bool
	}{
		{name: "sync runs with the payload and the request id given", ref: "echo", payload: []byte(`{"say":"hi","n":[1,2]}`), opts: invoke.Options{RequestID: "11111111-2222-4333-8444-555555555555"}, ran: true,
			check: func(t *testing.T, res invoke.Result, e echoed) {
				if !reflect.DeepEqual(e.Event, map[string]any{"say": "hi", "n": []any{1.0, 2.0}}) || e.RequestID != "11111111-2222-4333-8444-555555555555" {
					t.Errorf("function saw %+v", e)
				}
				if res.ExecutedVersion != "$LATEST" || res.FunctionError != "" || res.LogTail != nil || e.Custom != nil {
					t.Errorf("result %+v (no tail asked, no client context)", res)
				}
			}},
		{name: "an empty payload is {}", ref: "echo", ran: true,
			check: func(t *testing.T, res invoke.Result, e echoed) {
				if e.Event == nil || len(e.Event) != 0 {
					t.Errorf("event = %v, want {}", e.Event)
				}
			}},
		{name: "a request id is made when none is given", ref: "echo", ran: true,
			check: func(t *testing.T, res invoke.Result, e echoed) {
				if !uuidRE.MatchString(e.RequestID) {
					t.Errorf("request id %q is not a UUID v4", e.RequestID)
				}
			}},
		{name: "a version runs as itself", ref: "echo:1", ran: true,
			check: func(t *testing.T, res invoke.Result, e echoed) {
				if res.ExecutedVersion != "1" || e.Version != "1" {
					t.Errorf("executed %q, function saw version %q", res.ExecutedVersion, e.Version)
				}
			}},
		{name: "an alias runs its version", ref: "echo:live", ran: true,
			check: func(t *testing.T, res invoke.Result, e echoed) {
				if res.ExecutedVersion != "1" || e.Version != "1" {
					t.Errorf("executed %q, function saw version %q", res.ExecutedVersion, e.Version)
				}
			}},
		{name: "client context passes through decoded", ref: "echo", opts: invoke.Options{ClientContext: []byte(`{"custom":{"k":"v"},"env":{},"client":{}}`)}, ran: true,
			check: func(t *testing.T, res invoke.Result, e echoed) {
				if !reflect.DeepEqual(e.Custom, map[string]string{"k": "v"}) {
					t.Errorf("client_context.custom = %v", e.Custom)
				}
			}},
		{name: "tail is the raw end of the log", ref: "echo", payload: []byte(`{"say":"tail-me"}`), opts: invoke.Options{Tail: true, RequestID: "aaaaaaaa-2222-4333-8444-555555555555"}, ran: true,
			check: func(t *testing.T, res invoke.Result, e echoed) {
				log := string(res.LogTail)
				if !strings.Contains(log, "hello from handler tail-me") || !strings.Contains(log, "REPORT RequestId: aaaaaaaa-2222-4333-8444-555555555555") {
					t.Errorf("tail:\n%s", log)
				}
			}},
		{name: "tail is cut to 4 KB", ref: "echo", payload: []byte(`{"say":"` + strings.Repeat("y", 10000) + `"}`), opts: invoke.Options{Tail: true}, ran: true,
			check: func(t *testing.T, res invoke.Result, e echoed) {
				if len(res.LogTail) != 4096 || !bytes.HasPrefix(res.LogTail, []byte("yyyy")) || !bytes.Contains(res.LogTail, []byte("REPORT RequestId: "+e.RequestID)) {
					t.Errorf("tail of a 10 KB log: %d bytes", len(res.LogTail))
				}
			}},
		{name: "a sync payload over 1 MB runs (6 MB is the API's limit)", ref: "echo", payload: big, ran: true,
			check: func(t *testing.T, res invoke.Result, e echoed) {
				if len(e.Event["say"].(string)) != 1048576-9 {
					t.Errorf("payload cut")
				}
			}},
		{name: "an Event payload over 1 MB is refused", ref: "echo", payload: big, opts: invoke.Options{Type: invoke.Event},
			kind: fault.PayloadTooLarge, msg: "1048577 byte payload is too large for the Event invocation type (limit 1048576 bytes)"},
		{name: "payload not JSON", ref: "echo", payload: []byte(`{"a":`),
			kind: fault.InvalidContent, msg: parseErr + "unexpected end of JSON input"},
		{name: "payload not JSON, Event", ref: "echo", payload: []byte(`nope`), opts: invoke.Options{Type: invoke.Event},
			kind: fault.InvalidContent, msg: parseErr + "invalid character 'o' in literal null (expecting 'u')"},
		{name: "payload not UTF-8", ref: "echo", payload: []byte("{\"a\":\"\x80\"}"),
			kind: fault.InvalidContent, msg: parseErr + "Invalid UTF-8 start byte 0x80\n at [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled); line: 1, column: 8]"},
		{name: "payload checked before the function is looked up", ref: "nope", payload: []byte(`[`),
			kind: fault.InvalidContent, msg: parseErr + "unexpected end of JSON input"},
		{name: "dry run checks and does not run", ref: "echo", opts: invoke.Options{Type: invoke.DryRun},
			check: func(t *testing.T, res invoke.Result, e echoed) {
				if !reflect.DeepEqual(res, invoke.Result{}) {
					t.Errorf("DryRun answered %+v", res)
				}
			}},
		{name: "dry run of a missing function", ref: "nope", opts: invoke.Options{Type: invoke.DryRun},
			kind: fault.NotFound, msg: "Function not found: " + apitest.ARN("nope") + ":$LATEST"},
		{name: "missing function names $LATEST", ref: "nope",
			kind: fault.NotFound, msg: "Function not found: " + apitest.ARN("nope") + ":$LATEST"},
		{name: "missing version is named", ref: "echo:7",
			kind: fault.NotFound, msg: "Function not found: " + apitest.ARN("echo") + ":7"},
		{name: "missing alias is named", ref: "echo:gone",
			kind: fault.NotFound, msg: "Function not found: " + apitest.ARN("echo") + ":gone"},
		{name: "Event of a missing function", ref: "nope", opts: invoke.Options{Type: invoke.Event},
			kind: fault.NotFound, msg: "Function not found: " + apitest.ARN("nope") + ":$LATEST"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name, qualifier, _ := strings.Cut(tc.ref, ":")
			counted := ""
			if tc.ref == "echo:1" || tc.ref == "echo:live" {
				counted = "1"
			}
			before := count(t, counted)
			res, err := env.Invoke.Invoke(ctx, apitest.Ref(name, qualifier), tc.payload, tc.opts)
			if tc.msg != "" {
				f, ok := fault.As(err)
				if !ok || f.Kind != tc.kind || f.Message != tc.msg {
					t.Fatalf("error %v, want %v: %q", err, tc.kind, tc.msg)
				}
				if tc.kind == fault.NotFound && f.Resource != "Function" {
					t.Errorf("not found names %q, want Function", f.Resource)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			var e echoed
			if tc.ran {
				if err := json.Unmarshal(res.Payload, &e); err != nil {
					t.Fatalf("%v: %.200s", err, res.Payload)
				}
			}
			if tc.check != nil {
				tc.check(t, res, e)
			}
			if n := count(t, counted) - before - 1; (n > 0) != tc.ran {
				t.Errorf("ran %d times, want ran = %v", n, tc.ran)
			}
		})
	}
}

// TestInvokeEventRunsThroughTheQueue: an Event answers at once with an empty
// result and runs later under the request id the caller gave.
func TestInvokeEventRunsThroughTheQueue(t *testing.T) {
	env := apitest.New(t, apitest.Options{})
	env.Python(t, "echo", echo)
	mark := filepath.Join(t.TempDir(), "ran")
	payload, _ := json.Marshal(map[string]string{"mark": mark})
	const id = "eeeeeeee-2222-4333-8444-555555555555"
	res, err := env.Invoke.Invoke(context.Background(), apitest.Ref("echo", ""), payload, invoke.Options{Type: invoke.Event, RequestID: id})
	if err != nil || !reflect.DeepEqual(res, invoke.Result{}) {
		t.Fatalf("Event: %+v, %v", res, err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, _ := os.ReadFile(mark)
		if string(b) == id {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the event did not run as %s: marker %q", id, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestInvokeRefusals: the invocations invoke refuses before running
// anything, each as its fault.
func TestInvokeRefusals(t *testing.T) {
	env := apitest.New(t, apitest.Options{})
	ctx := context.Background()
	env.Python(t, "capped", echo)
	if _, err := env.Client.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("capped"), ReservedConcurrentExecutions: aws.Int32(0)}); err != nil {
		t.Fatal(err)
	}
	_, err := env.Invoke.Invoke(ctx, apitest.Ref("capped", ""), nil, invoke.Options{})
	if f, ok := fault.As(err); !ok || f.Kind != fault.TooManyRequests || f.Reason != fault.ReasonReservedConcurrency || f.Message != "Rate Exceeded." {
		t.Errorf("reserved concurrency 0: %v", err)
	}

	_, err = env.Invoke.Invoke(ctx, apitest.Ref("capped", ""), nil, invoke.Options{Type: invoke.DryRun + 1})
	if err == nil || fault.KindOf(err) != fault.Internal {
		t.Errorf("an unknown invocation type: %v, want an internal error", err)
	}

	// A function still Pending cannot run yet.
	slow := apitest.New(t, apitest.Options{Transition: time.Hour})
	if _, err := slow.Client.CreateFunction(ctx, apitest.PythonFunction(t, "pending", echo)); err != nil {
		t.Fatal(err)
	}
	_, err = slow.Invoke.Invoke(ctx, apitest.Ref("pending", ""), nil, invoke.Options{})
	if f, ok := fault.As(err); !ok || f.Kind != fault.Conflict || f.Message != "The operation cannot be performed at this time. The function is currently in the following state: Pending" {
		t.Errorf("Pending: %v", err)
	}
}
