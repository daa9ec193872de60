package server_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// TestInvokeGoBootstrap runs a provided.al2023 function compiled from
// testdata/goecho with aws-lambda-go, the way AWS documents Go functions.
func TestInvokeGoBootstrap(t *testing.T) {
	t.Parallel()
	_, c := servertest.InvokeEnv(t, nil)
	name := "go-echo"
	testkit.CreateActive(t, c, testkit.GoFunction(name, testkit.GoBootstrapZip(t, "testdata/goecho")))

	t.Run("echo", func(t *testing.T) {
		out := testkit.Call(t, c, name, `{"op":"echo","value":{"a":[1,"two",null]}}`)
		if got := string(out.Payload); got != `{"a":[1,"two",null]}` {
			t.Errorf("payload = %s", got)
		}
		if aws.ToString(out.ExecutedVersion) != "$LATEST" || out.FunctionError != nil {
			t.Errorf("executed %q, function error %v", aws.ToString(out.ExecutedVersion), out.FunctionError)
		}
	})

	t.Run("warm", func(t *testing.T) {
		a := testkit.DecodeJSON[int](t, testkit.Call(t, c, name, `{"op":"count"}`).Payload)
		b := testkit.DecodeJSON[int](t, testkit.Call(t, c, name, `{"op":"count"}`).Payload)
		if b != a+1 {
			t.Errorf("invocation counter %d then %d: not the same warm process", a, b)
		}
	})

	t.Run("crash", func(t *testing.T) {
		out := testkit.MustInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte(`{"op":"crash"}`), LogType: types.LogTypeTail})
		unhandled(t, out, nil, "$LATEST")
		body := testkit.DecodeJSON[map[string]string](t, out.Payload)
		id := testkit.RequestIDOf(t, body["errorMessage"])
		if want := `{"errorType":"Runtime.ExitError","errorMessage":"RequestId: ` + id + ` Error: Runtime exited with error: exit status 3"}`; string(out.Payload) != want {
			t.Errorf("crash payload:\n got: %s\nwant: %s", out.Payload, want)
		}
		log := testkit.Tail(t, out)
		if startID(t, log) != id || !strings.Contains(log, "goecho crashing") {
			t.Errorf("tail of a crash:\n%s", log)
		}
		// A new process serves the next invoke.
		if n := testkit.DecodeJSON[int](t, testkit.Call(t, c, name, `{"op":"count"}`).Payload); n != 1 {
			t.Errorf("first invoke after a crash counted %d, want 1 (a fresh process)", n)
		}
	})

	t.Run("response too large", func(t *testing.T) {
		out := testkit.Call(t, c, name, `{"op":"big","size":6400000}`)
		unhandled(t, out, nil, "$LATEST")
		if got, want := string(out.Payload), `{"errorMessage":"Response payload size exceeded maximum allowed payload size (6291556 bytes).","errorType":"Function.ResponseSizeTooLarge"}`; got != want {
			t.Errorf("payload = %s, want %s", testkit.Truncate(out.Payload), want)
		}
		// aws-lambda-go exits (status 1) when the Runtime API refuses its
		// response with 413; the next invoke, sent at once, must still run.
		// Just under the limit passes whole (the JSON string adds two quotes).
		out = testkit.Call(t, c, name, `{"op":"big","size":6291454}`)
		if out.FunctionError != nil || len(out.Payload) != 6291456 {
			t.Errorf("6291456-byte response: function error %q, %d bytes: %s", aws.ToString(out.FunctionError), len(out.Payload), testkit.Truncate(out.Payload))
		}
		// And the function still works afterwards.
		if got := string(testkit.Call(t, c, name, `{"op":"echo","value":"after"}`).Payload); got != `"after"` {
			t.Errorf("invoke after an oversized response = %s", got)
		}
	})

	t.Run("published version", func(t *testing.T) {
		v, err := c.PublishVersion(context.Background(), &lambda.PublishVersionInput{FunctionName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		out := testkit.MustInvoke(t, c, &lambda.InvokeInput{FunctionName: aws.String(name), Qualifier: v.Version, Payload: []byte(`{"op":"env"}`)})
		env := testkit.DecodeJSON[map[string]string](t, out.Payload)
		if aws.ToString(out.ExecutedVersion) != "1" || env["AWS_LAMBDA_FUNCTION_VERSION"] != "1" {
			t.Errorf("version 1: executed %q, AWS_LAMBDA_FUNCTION_VERSION %q", aws.ToString(out.ExecutedVersion), env["AWS_LAMBDA_FUNCTION_VERSION"])
		}
		if env["_HANDLER"] != "bootstrap" || env["AWS_LAMBDA_RUNTIME_API"] == "" {
			t.Errorf("_HANDLER %q, AWS_LAMBDA_RUNTIME_API %q", env["_HANDLER"], env["AWS_LAMBDA_RUNTIME_API"])
		}
	})
}
