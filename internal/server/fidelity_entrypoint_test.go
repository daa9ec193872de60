package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/archive/archivetest"
	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// invokeOnce invokes with the SDK's standard retryer (the one real callers
// have, which retries a 502) and fails unless it took one attempt.
func invokeOnce(t *testing.T, c *lambda.Client, name string) *lambda.InvokeOutput {
	t.Helper()
	out, err := c.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String(name), LogType: types.LogTypeTail},
		func(o *lambda.Options) { o.Retryer = retry.NewStandard() })
	if err != nil {
		t.Fatalf("Invoke %s: %v", name, err)
	}
	if r, ok := retry.GetAttemptResults(out.ResultMetadata); !ok || len(r.Results) != 1 {
		t.Errorf("Invoke %s: attempts %+v", name, r.Results)
	}
	return out
}

// wantEntrypointError checks AWS's answer for a function that cannot start:
// 200, Unhandled, Runtime.InvalidEntrypoint with message "RequestId: <id>
// Error: <want>".
func wantEntrypointError(t *testing.T, out *lambda.InvokeOutput, want string) {
	t.Helper()
	p := testkit.DecodeJSON[map[string]string](t, out.Payload)
	msg, ok := strings.CutPrefix(p["errorMessage"], "RequestId: ")
	_, rest, _ := strings.Cut(msg, " ")
	if out.StatusCode != 200 || aws.ToString(out.FunctionError) != "Unhandled" || p["errorType"] != "Runtime.InvalidEntrypoint" || !ok || rest != "Error: "+want || len(p) != 2 {
		t.Errorf("got %d %q %s; want 200 Unhandled Runtime.InvalidEntrypoint %q", out.StatusCode, aws.ToString(out.FunctionError), out.Payload, want)
	}
	if !strings.Contains(testkit.Tail(t, out), "Runtime.InvalidEntrypoint") {
		t.Errorf("log tail lacks the error:\n%s", testkit.Tail(t, out))
	}
}

// TestUnrunnableFunctionsFailFast: functions nothing can start answer at
// once, as AWS does, instead of a 502 the SDK retries for seconds.
func TestUnrunnableFunctionsFailFast(t *testing.T) {
	t.Parallel()
	_, c := servertest.InvokeEnv(t, nil)

	// provided.al2023 without a bootstrap, in the code or a layer.
	in := testkit.GoFunction("no-bootstrap", archivetest.Zip(t, archivetest.File{Name: "README", Body: "no bootstrap"}))
	testkit.CreateActive(t, c, in)
	wantEntrypointError(t, invokeOnce(t, c, "no-bootstrap"), "Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]")

	// A bootstrap for another machine, and one that is not executable.
	arm64ELF := "\x7fELF\x02\x01\x01\x00" + strings.Repeat("\x00", 8) + "\x02\x00\xb7\x00\x01\x00\x00\x00" + strings.Repeat("\x00", 40)
	for _, tc := range []struct {
		name string
		file archivetest.File
		want string
	}{
		{"wrong-arch", archivetest.File{Name: "bootstrap", Body: arm64ELF, Mode: 0o755}, "fork/exec /var/task/bootstrap: exec format error"},
		{"not-executable", archivetest.File{Name: "bootstrap", Body: "#!/bin/sh\n", Mode: 0o644}, "fork/exec /var/task/bootstrap: permission denied"},
		{"no-interpreter", archivetest.File{Name: "bootstrap", Body: "#!/no/such/interpreter\n", Mode: 0o755}, "fork/exec /var/task/bootstrap: no such file or directory"},
	} {
		testkit.CreateActive(t, c, testkit.GoFunction(tc.name, archivetest.Zip(t, tc.file)))
		wantEntrypointError(t, invokeOnce(t, c, tc.name), tc.want)
	}

	// A runtime this host has no interpreter for: the function says so in
	// its state, and invocations fail at once.
	java := testkit.PyFunction(t, "java-fn", "irrelevant")
	java.Runtime, java.Handler = types.RuntimeJava21, aws.String("example.Handler::handleRequest")
	testkit.Create(t, c, java)
	// The SDK's waiter for Active gives up at once on Failed.
	_, err := lambda.NewFunctionActiveV2Waiter(c).WaitForOutput(context.Background(), &lambda.GetFunctionInput{FunctionName: aws.String("java-fn")}, 20*time.Second,
		func(o *lambda.FunctionActiveV2WaiterOptions) {
			o.MinDelay, o.MaxDelay = 10*time.Millisecond, 50*time.Millisecond
		})
	if err == nil || !strings.Contains(err.Error(), "Failure") {
		t.Errorf("FunctionActiveV2 waiter on java-fn: %v; want it to stop on State Failed", err)
	}
	cfg, err := c.GetFunctionConfiguration(context.Background(), &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("java-fn")})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.State != types.StateFailed || cfg.StateReasonCode != types.StateReasonCodeInvalidRuntime || !strings.Contains(aws.ToString(cfg.StateReason), "java21") {
		t.Errorf("java21 function: State %s %s %q; want Failed InvalidRuntime naming java21", cfg.State, cfg.StateReasonCode, aws.ToString(cfg.StateReason))
	}
	out := invokeOnce(t, c, "java-fn")
	wantEntrypointError(t, out, aws.ToString(cfg.StateReason))
}
