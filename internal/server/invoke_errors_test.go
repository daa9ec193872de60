package server_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// unhandled checks the envelope of a function error: HTTP 200, Unhandled,
// and the version that ran.
func unhandled(t testing.TB, out *lambda.InvokeOutput, st *testkit.RawStatus, version string) {
	t.Helper()
	if st != nil && st.Code != 200 {
		t.Errorf("HTTP status = %d, want 200", st.Code)
	}
	if out.StatusCode != 200 {
		t.Errorf("StatusCode = %d, want 200", out.StatusCode)
	}
	if got := aws.ToString(out.FunctionError); got != "Unhandled" {
		t.Errorf("FunctionError = %q, want Unhandled (payload %s)", got, testkit.Truncate(out.Payload))
	}
	if got := aws.ToString(out.ExecutedVersion); got != version {
		t.Errorf("ExecutedVersion = %q, want %q", got, version)
	}
}

// startID is the request id of the START line of a log tail.
func startID(t testing.TB, log string) string {
	t.Helper()
	_, rest, ok := strings.Cut(log, "START RequestId: ")
	id, _, _ := strings.Cut(rest, " ")
	if !ok || !testkit.UUIDRe.MatchString(id) {
		t.Fatalf("no START line in tail:\n%s", log)
	}
	return id
}

func TestInvokeFunctionErrors(t *testing.T) {
	t.Parallel()
	_, c := servertest.InvokeEnv(t, nil)
	ctx := context.Background()

	t.Run("python", func(t *testing.T) {
		t.Parallel()
		testkit.CreateActive(t, c, testkit.PyFunction(t, "py-raise", "def handler(event, context):\n    raise Exception(\"Failed: \" + event[\"msg\"])\n"))
		var st testkit.RawStatus
		out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("py-raise"), Payload: []byte(`{"msg":"some_error_msg"}`), LogType: types.LogTypeTail}, st.Option())
		if err != nil {
			t.Fatal(err)
		}
		unhandled(t, out, &st, "$LATEST")
		if keys := testkit.JSONKeys(t, out.Payload); !slices.Equal(keys, []string{"errorMessage", "errorType", "requestId", "stackTrace"}) {
			t.Errorf("error keys = %v, want [errorMessage errorType requestId stackTrace]: %s", keys, out.Payload)
		}
		body := testkit.DecodeJSON[struct {
			ErrorMessage, ErrorType, RequestID string
			StackTrace                         []string
		}](t, out.Payload)
		if body.ErrorMessage != "Failed: some_error_msg" || body.ErrorType != "Exception" {
			t.Errorf("error = %s", out.Payload)
		}
		log := testkit.Tail(t, out)
		if id := startID(t, log); body.RequestID != id {
			t.Errorf("requestId = %q, START says %q", body.RequestID, id)
		}
		if len(body.StackTrace) == 0 || !strings.Contains(body.StackTrace[len(body.StackTrace)-1], "line 2, in handler") ||
			!strings.Contains(body.StackTrace[len(body.StackTrace)-1], "handler.py") {
			t.Errorf("stackTrace = %q", body.StackTrace)
		}
		// The error is in the log as AWS's runtime prints it.
		if !strings.Contains(log, "[ERROR] Exception: Failed: some_error_msg") {
			t.Errorf("tail lacks the error line:\n%s", log)
		}
	})

	t.Run("node", func(t *testing.T) {
		t.Parallel()
		testkit.CreateActive(t, c, testkit.NodeFunction(t, "node-throw", "index.mjs", "index.handler",
			"export const handler = async (event) => { throw new Error(event.msg); };\n"))
		out := testkit.Call(t, c, "node-throw", `{"msg":"some_error_msg"}`)
		unhandled(t, out, nil, "$LATEST")
		if keys := testkit.JSONKeys(t, out.Payload); !slices.Equal(keys, []string{"errorType", "errorMessage", "trace"}) {
			t.Errorf("error keys = %v, want [errorType errorMessage trace]: %s", keys, out.Payload)
		}
		body := testkit.DecodeJSON[struct {
			ErrorType, ErrorMessage string
			Trace                   []string
		}](t, out.Payload)
		if body.ErrorType != "Error" || body.ErrorMessage != "some_error_msg" {
			t.Errorf("error = %s", out.Payload)
		}
		if len(body.Trace) < 2 || body.Trace[0] != "Error: some_error_msg" || !strings.Contains(body.Trace[1], "index.mjs") {
			t.Errorf("trace = %q", body.Trace)
		}
	})

	t.Run("go", func(t *testing.T) {
		t.Parallel()
		testkit.CreateActive(t, c, testkit.GoFunction("go-error", testkit.GoBootstrapZip(t, "testdata/goecho")))
		out := testkit.Call(t, c, "go-error", `{"op":"error"}`)
		unhandled(t, out, nil, "$LATEST")
		// aws-lambda-go names the error by its Go type and adds no stack for a returned error.
		if got, want := string(out.Payload), `{"errorMessage":"goecho failed on purpose","errorType":"errorString"}`; got != want {
			t.Errorf("payload = %s, want %s", got, want)
		}
	})
}

func TestInvokeTimeout(t *testing.T) {
	t.Parallel()
	_, c := servertest.InvokeEnv(t, nil)
	name := "py-timeout"
	// TOKEN is new in every process; the file lives in the environment's /tmp.
	in := testkit.PyFunction(t, name, `import os, tempfile, time, uuid
TOKEN = str(uuid.uuid4())
PATH = os.path.join(tempfile.gettempdir(), "survivor")

def handler(event, context):
    if "write" in event:
        with open(PATH, "w") as f:
            f.write(event["write"])
    if "sleep" in event:
        print("going to sleep")
        time.sleep(event["sleep"])
    kept = open(PATH).read() if os.path.exists(PATH) else None
    return {"token": TOKEN, "tmp": kept}
`)
	in.Timeout = aws.Int32(1)
	testkit.CreateActive(t, c, in)
	type result struct{ Token, Tmp string }

	before := testkit.DecodeJSON[result](t, testkit.Call(t, c, name, `{"write":"kept"}`).Payload)
	if before.Tmp != "kept" {
		t.Fatalf("first invoke = %+v", before)
	}

	start := time.Now()
	out := testkit.MustInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte(`{"sleep":3}`), LogType: types.LogTypeTail})
	took := time.Since(start)
	unhandled(t, out, nil, "$LATEST")
	body := testkit.DecodeJSON[map[string]string](t, out.Payload)
	id := testkit.RequestIDOf(t, body["errorMessage"])
	if want := `{"errorType":"Sandbox.Timedout","errorMessage":"RequestId: ` + id + ` Error: Task timed out after 1.00 seconds"}`; string(out.Payload) != want {
		t.Errorf("timeout payload:\n got: %s\nwant: %s", out.Payload, want)
	}
	log := testkit.Tail(t, out)
	if startID(t, log) != id {
		t.Errorf("timeout names %s, START line another:\n%s", id, log)
	}
	if !strings.Contains(log, "going to sleep") || !strings.Contains(log, "Task timed out after 1.00 seconds") {
		t.Errorf("tail of a timeout:\n%s", log)
	}
	if took < time.Second || took > 2500*time.Millisecond {
		t.Errorf("a 1 s timeout answered after %v", took)
	}

	// The next invoke runs in a fresh process, and /tmp survived.
	after := testkit.DecodeJSON[result](t, testkit.Call(t, c, name, `{}`).Payload)
	if after.Token == before.Token {
		t.Errorf("same process (token %s) after a timeout: it should have been replaced", after.Token)
	}
	if after.Tmp != "kept" {
		t.Errorf("/tmp after a timeout: %q, want the file written before", after.Tmp)
	}
}

func TestInvokeInitErrors(t *testing.T) {
	t.Parallel()
	_, c := servertest.InvokeEnv(t, nil)

	cases := []struct {
		name, handler, src string
		errType, msg       string
	}{
		{
			name: "py-import-error", handler: "handler.handler",
			src:     "import no_such_module_xyz\n\ndef handler(event, context):\n    return 1\n",
			errType: "Runtime.ImportModuleError", msg: "Unable to import module 'handler': No module named 'no_such_module_xyz'",
		},
		{
			name: "py-no-handler", handler: "handler.nope",
			src:     "def handler(event, context):\n    return 1\n",
			errType: "Runtime.HandlerNotFound", msg: "Handler 'nope' missing on module 'handler'",
		},
		{
			name: "py-no-module", handler: "missing.handler",
			src:     "def handler(event, context):\n    return 1\n",
			errType: "Runtime.ImportModuleError", msg: "Unable to import module 'missing': No module named 'missing'",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := testkit.PyFunction(t, tc.name, tc.src)
			in.Handler = aws.String(tc.handler)
			testkit.CreateActive(t, c, in)
			// Twice: an init error is not cached as a broken environment.
			for range 2 {
				out := testkit.MustInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String(tc.name), LogType: types.LogTypeTail})
				unhandled(t, out, nil, "$LATEST")
				if keys := testkit.JSONKeys(t, out.Payload); !slices.Equal(keys, []string{"errorMessage", "errorType", "requestId", "stackTrace"}) {
					t.Errorf("error keys = %v: %s", keys, out.Payload)
				}
				body := testkit.DecodeJSON[struct {
					ErrorMessage, ErrorType string
					RequestID               *string
				}](t, out.Payload)
				if body.ErrorType != tc.errType || body.ErrorMessage != tc.msg || body.RequestID == nil || *body.RequestID != "" {
					t.Errorf("payload = %s\nwant errorType %s, errorMessage %q, requestId \"\"", out.Payload, tc.errType, tc.msg)
				}
				if log := testkit.Tail(t, out); !strings.Contains(log, tc.errType) {
					t.Errorf("tail lacks %s:\n%s", tc.errType, log)
				}
			}
		})
	}
}
