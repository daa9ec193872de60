package main

import (
	"context"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/testkit"
)

// markerHandler writes one file per run into OUT, named
// <event name>-<request id>-<time>, so the test counts runs per event.
const markerHandler = `import os, time
def handler(event, context):
    name = "%s-%s-%d" % (event["name"], context.aws_request_id, time.time_ns())
    open(os.path.join(os.environ["OUT"], name), "w").write("ran")
    return "ok"
`

// TestCrashWithQueuedEvents kills lambdad with SIGKILL while Event invokes
// wait in its queue (the function is throttled to reserved concurrency 0, so
// none can run), restarts it, lifts the throttle and checks that every
// acknowledged event then ran exactly once.
func TestCrashWithQueuedEvents(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 test builds and runs the binary")
	}
	t.Parallel()
	bin := lambdadBin.Path(t)
	dir := filepath.Join(t.TempDir(), "data")
	out := t.TempDir()
	// Unconfined, so the function can write the markers the test reads.
	args := []string{"--listen", "127.0.0.1:0", "--data-dir", dir, "--transition", "20ms", "--log-level", "info",
		"--isolation", "off", "--event-retry-base", "100ms", "--event-throttle-base", "50ms", "--runtime-fallback"}
	p := testkit.StartProcess(t, bin, "", nil, args...)
	cl := newLambdaClient(p.Addr)
	ctx := context.Background()

	name := "queued"
	if _, err := cl.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String(name), Runtime: types.RuntimePython312, Role: aws.String(testkit.Role),
		Handler: aws.String("handler.handler"), Code: &types.FunctionCode{ZipFile: testkit.HandlerZip(t, markerHandler)},
		Environment: &types.Environment{Variables: map[string]string{"OUT": out}},
	}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "the function never became Active", func() bool {
		got, err := cl.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(name)})
		return err == nil && got.Configuration.State == types.StateActive
	})
	if _, err := cl.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{
		FunctionName: aws.String(name), ReservedConcurrentExecutions: aws.Int32(0)}); err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{} // event name -> request id
	for _, ev := range []string{"e0", "e1", "e2", "e3", "e4"} {
		res, err := cl.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(name),
			InvocationType: types.InvocationTypeEvent, Payload: []byte(`{"name":"` + ev + `"}`)})
		if err != nil || res.StatusCode != 202 {
			t.Fatalf("Event invoke %s: %v", ev, err)
		}
		ids[ev], _ = awsmiddleware.GetRequestIDMetadata(res.ResultMetadata)
	}
	// Let the queue retry the throttled events a few times, then crash.
	time.Sleep(1500 * time.Millisecond)
	p.Kill(syscall.SIGKILL)
	if ran := testkit.Markers(t, out, ""); len(ran) != 0 {
		t.Fatalf("events ran while throttled to 0: %v", ran)
	}

	p = testkit.StartProcess(t, bin, "", nil, args...)
	cl = newLambdaClient(p.Addr)
	if _, err := cl.DeleteFunctionConcurrency(ctx, &lambda.DeleteFunctionConcurrencyInput{FunctionName: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 20*time.Second, "the queued events did not all run after the restart", func() bool { return len(testkit.Markers(t, out, "")) >= len(ids) })
	time.Sleep(2 * time.Second) // a duplicate run would show by now
	ran := testkit.Markers(t, out, "")
	for ev, id := range ids {
		var got []string
		for _, r := range ran {
			if strings.HasPrefix(r, ev+"-") {
				got = append(got, r)
			}
		}
		if len(got) != 1 || !strings.HasPrefix(got[0], ev+"-"+id+"-") {
			t.Errorf("event %s (request %s) ran as %v, want once", ev, id, got)
		}
	}
	if t.Failed() {
		t.Logf("lambdad log after restart:\n%s", p.Log())
	}
}
