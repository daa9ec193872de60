package server_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// markerFunction is goecho with MARKER_DIR set. Event tests run unconfined
// (isolation off) because an isolated environment sees only a private /tmp
// as writable, and the test must see the files it writes.
func markerFunction(t testing.TB, name string, zip []byte, dir string) *lambda.CreateFunctionInput {
	t.Helper()
	in := testkit.GoFunction(name, zip)
	in.Environment = &types.Environment{Variables: map[string]string{"MARKER_DIR": dir}}
	return in
}

// invokeEvent sends an Event invoke, checks AWS's 202 with an empty body
// and returns the response's x-amzn-RequestId.
func invokeEvent(t testing.TB, c *lambda.Client, name, payload string) string {
	t.Helper()
	var st testkit.RawStatus
	out, err := c.Invoke(context.Background(), &lambda.InvokeInput{
		FunctionName: aws.String(name), InvocationType: types.InvocationTypeEvent, Payload: []byte(payload),
	}, st.Option())
	if err != nil {
		t.Fatalf("Event invoke: %v", err)
	}
	if st.Code != 202 || out.StatusCode != 202 || len(out.Payload) != 0 {
		t.Errorf("Event invoke: HTTP %d, StatusCode %d, payload %q; want 202 and empty", st.Code, out.StatusCode, out.Payload)
	}
	if out.ExecutedVersion != nil || out.FunctionError != nil {
		t.Errorf("Event invoke: ExecutedVersion %v FunctionError %v, want neither", out.ExecutedVersion, out.FunctionError)
	}
	id, _ := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
	return id
}

func TestInvokeEvent(t *testing.T) {
	t.Parallel()
	d, c := servertest.InvokeEnv(t, servertest.IsolationOff)
	zip := testkit.GoBootstrapZip(t, "testdata/goecho")
	dir := t.TempDir()
	testkit.CreateActive(t, c, markerFunction(t, "go-event", zip, dir))

	t.Run("runs", func(t *testing.T) {
		hdr := invokeEvent(t, c, "go-event", `{"op":"marker","name":"ok","value":"ran"}`)
		testkit.Eventually(t, 10*time.Second, "the Event invoke never ran", func() bool { return len(testkit.Markers(t, dir, "ok-")) == 1 })
		m := testkit.Markers(t, dir, "ok-")[0]
		if b, _ := os.ReadFile(filepath.Join(dir, m)); string(b) != `"ran"` {
			t.Errorf("marker holds %q", b)
		}
		parts := strings.SplitN(strings.TrimPrefix(m, "ok-"), "-", 6)
		// AWS runs the event under the request id its 202 answer carried.
		if id := strings.Join(parts[:5], "-"); !testkit.UUIDRe.MatchString(id) || id != hdr {
			t.Errorf("the function saw request id %q, the 202 said %q", id, hdr)
		}
	})

	t.Run("failures are retried twice", func(t *testing.T) {
		invokeEvent(t, c, "go-event", `{"op":"marker","name":"fail","fail":true}`)
		testkit.Eventually(t, 10*time.Second, "fewer than 3 attempts", func() bool { return len(testkit.Markers(t, dir, "fail-")) >= 3 })
		// With RetryBase 50 ms the retries come after 50 and 100 ms; a
		// fourth would have come by now.
		time.Sleep(600 * time.Millisecond)
		got := testkit.Markers(t, dir, "fail-")
		if len(got) != 3 {
			t.Fatalf("attempts = %d (%v), want 3", len(got), got)
		}
		// Every attempt carries the same request id, as AWS's retries do.
		ids := map[string]bool{}
		for _, m := range got {
			ids[strings.Join(strings.SplitN(m, "-", 7)[1:6], "-")] = true
		}
		if len(ids) != 1 {
			t.Errorf("retries used request ids %v, want one", ids)
		}
	})

	t.Run("a crash does not stop the queue", func(t *testing.T) {
		invokeEvent(t, c, "go-event", `{"op":"crash"}`)
		invokeEvent(t, c, "go-event", `{"op":"marker","name":"aftercrash"}`)
		testkit.Eventually(t, 10*time.Second, "the event after a crash never ran", func() bool { return len(testkit.Markers(t, dir, "aftercrash-")) == 1 })
	})

	t.Run("durable across restart", func(t *testing.T) {
		testkit.CreateActive(t, c, markerFunction(t, "go-slow", zip, dir))
		// The function is still sleeping when lambdad stops; the event was
		// acknowledged, so the restarted lambdad must run it.
		invokeEvent(t, c, "go-slow", `{"op":"marker","name":"durable","ms":2000}`)
		time.Sleep(200 * time.Millisecond)
		d.Stop()
		if got := testkit.Markers(t, dir, "durable-"); len(got) != 0 {
			t.Fatalf("the event finished before the stop (%v): the test proves nothing", got)
		}
		d2 := servertest.StartLambdad(t, d.Dir, servertest.IsolationOff)
		testkit.Eventually(t, 15*time.Second, "the acknowledged event did not run after restart", func() bool { return len(testkit.Markers(t, dir, "durable-")) == 1 })
		// And the restarted server still serves the function.
		if out := testkit.Call(t, servertest.InvokeClient(d2), "go-slow", `{"op":"echo","value":1}`); string(out.Payload) != "1" {
			t.Errorf("after restart: %s", out.Payload)
		}
	})
}

// TestInvokeEventQueuedBeforeStop: events queued then the server closed
// (whether or not they ran yet) each run exactly once across a restart.
func TestInvokeEventQueuedBeforeStop(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	d := servertest.StartLambdad(t, dataDir, servertest.IsolationOff)
	c := servertest.InvokeClient(d)
	dir := t.TempDir()
	testkit.CreateActive(t, c, markerFunction(t, "go-queued", testkit.GoBootstrapZip(t, "testdata/goecho"), dir))
	for _, n := range []string{"a", "b", "c"} {
		invokeEvent(t, c, "go-queued", `{"op":"marker","name":"q`+n+`"}`)
	}
	d.Stop()
	before := len(testkit.Markers(t, dir, "q"))
	servertest.StartLambdad(t, dataDir, servertest.IsolationOff)
	testkit.Eventually(t, 15*time.Second, "queued events lost over a restart", func() bool { return len(testkit.Markers(t, dir, "q")) == 3 })
	var names []string
	for _, m := range testkit.Markers(t, dir, "q") {
		names = append(names, m[:2])
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"qa", "qb", "qc"}) {
		t.Errorf("markers = %v (%d before the restart)", names, before)
	}
	// Each ran once: nothing runs twice after the restart.
	time.Sleep(300 * time.Millisecond)
	if n := len(testkit.Markers(t, dir, "q")); n != 3 {
		t.Errorf("%d runs of 3 events", n)
	}
}
