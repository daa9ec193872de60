package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/server"
	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// fastQueue keeps the Event queue's delays short: failed invokes retry
// after 50 ms, throttled ones after 20 ms (up to 6 s).
func fastQueue(c *server.Config) {
	servertest.IsolationOff(c)
	c.RetryBase = 50 * time.Millisecond
	c.ThrottleBase = 20 * time.Millisecond
}

// TestInvokeEventThrottledRunsOnce: with reserved concurrency 1, six Event
// invokes of a 300 ms function are throttled while one runs, and each still
// runs exactly once: throttles are retried and are not attempts (AWS retries
// them for up to MaximumEventAgeInSeconds).
func TestInvokeEventThrottledRunsOnce(t *testing.T) {
	t.Parallel()
	_, c := servertest.InvokeEnv(t, fastQueue)
	ctx := context.Background()
	dir := t.TempDir()
	testkit.CreateActive(t, c, markerFunction(t, "go-throttled", testkit.GoBootstrapZip(t, "testdata/goecho"), dir))
	if _, err := c.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{
		FunctionName: aws.String("go-throttled"), ReservedConcurrentExecutions: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		invokeEvent(t, c, "go-throttled", fmt.Sprintf(`{"op":"marker","name":"thr%d","ms":300}`, i))
	}
	testkit.Eventually(t, 30*time.Second, "six throttled events did not all run", func() bool { return len(testkit.Markers(t, dir, "thr")) >= 6 })
	time.Sleep(time.Second) // a duplicate run would show by now
	for i := range 6 {
		if got := testkit.Markers(t, dir, fmt.Sprintf("thr%d-", i)); len(got) != 1 {
			t.Errorf("event %d ran %d times: %v", i, len(got), got)
		}
	}
}

// TestInvokeEventMaxAgeWhileThrottled: an event of a function throttled to
// reserved concurrency 0 is retried until MaximumEventAgeInSeconds (60, the
// model's minimum), and its EventAgeExceeded record reaches the OnFailure
// destination when the age expires, not at some later pick-up.
func TestInvokeEventMaxAgeWhileThrottled(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a 60 s maximum event age")
	}
	t.Parallel()
	_, c := servertest.InvokeEnv(t, fastQueue)
	ctx := context.Background()
	dir := t.TempDir()
	sink := testkit.PyFunction(t, "age-sink", "import json, os, uuid\ndef handler(e, c):\n    open(os.path.join(os.environ['OUT'], str(uuid.uuid4())), 'w').write(json.dumps(e))\n")
	sink.Environment = &types.Environment{Variables: map[string]string{"OUT": dir}}
	testkit.CreateActive(t, c, sink)
	testkit.CreateActive(t, c, testkit.PyFunction(t, "age-throttled", "def handler(e, c):\n    return 'ran'\n"))
	if _, err := c.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{
		FunctionName: aws.String("age-throttled"), ReservedConcurrentExecutions: aws.Int32(0)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{
		FunctionName: aws.String("age-throttled"), MaximumEventAgeInSeconds: aws.Int32(60),
		DestinationConfig: &types.DestinationConfig{OnFailure: &types.OnFailure{Destination: aws.String(testkit.InvokeARN("age-sink"))}},
	}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	id := invokeEvent(t, c, "age-throttled", `{"n": 7}`)
	var rec map[string]any
	testkit.Eventually(t, 80*time.Second, "no destination record", func() bool {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
			if json.Unmarshal(b, &rec) == nil {
				return true
			}
		}
		return false
	})
	took := time.Since(start)
	t.Logf("destination record after %v", took)
	if took < 60*time.Second || took > 66*time.Second { // the sink's cold start is in it
		t.Errorf("record after %v, want 60 s (+ delivery)", took)
	}
	rc, _ := rec["requestContext"].(map[string]any)
	if rc["condition"] != "EventAgeExceeded" || rc["requestId"] != id || rc["functionArn"] != testkit.InvokeARN("age-throttled")+":$LATEST" || rc["approximateInvokeCount"] != 0.0 {
		t.Errorf("record requestContext = %v (request id %s)", rc, id)
	}
	if rp, _ := rec["requestPayload"].(map[string]any); rp["n"] != 7.0 {
		t.Errorf("record requestPayload = %v", rec["requestPayload"])
	}
	if _, ok := rec["responseContext"]; ok {
		t.Errorf("an expired event's record has a responseContext: %v", rec)
	}
	if ts, _ := rec["timestamp"].(string); !strings.HasSuffix(ts, "Z") {
		t.Errorf("record timestamp = %q", ts)
	}
}
