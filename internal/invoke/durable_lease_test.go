package invoke_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/api/apitest"
	"github.com/lambdad/lambdad/internal/durable"
	"github.com/lambdad/lambdad/internal/invoke"
	"github.com/lambdad/lambdad/internal/sandbox"
	"github.com/lambdad/lambdad/internal/testkit"
)

// slowDurable speaks the durable invocation protocol by hand: each
// invocation notes its start and end in the file its input names, sleeping
// between, and ends the execution with its input's sleep.
const slowDurable = `import json, time
def handler(event, context):
    first = event["InitialExecutionState"]["Operations"][0]
    p = json.loads(first["ExecutionDetails"]["InputPayload"])
    with open(p["out"], "a") as f:
        f.write("start\n")
    time.sleep(p["sleep"])
    with open(p["out"], "a") as f:
        f.write("end\n")
    return {"Status": "SUCCEEDED", "Result": json.dumps(p["sleep"])}
`

// durableNode starts another data plane with a durable service of its own
// over env's store, as a second lambdad of a cluster would.
func durableNode(t *testing.T, env *apitest.Env, ctx context.Context, id string, lease time.Duration) *durable.Service {
	t.Helper()
	sb, err := sandbox.NewManager(sandbox.Config{WorkDir: filepath.Join(t.TempDir(), "sandbox"), IdleTimeout: time.Minute, Isolation: "off"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close(context.Background()) })
	dur := durable.New(durable.Config{Store: env.Store, NodeID: id, LeaseTime: lease})
	inv, err := invoke.New(ctx, invoke.Config{Functions: env.Functions, Blobs: env.Blobs, Sandbox: sb, Runtimes: env.Runtimes, Store: env.Store,
		Durable: dur, RetryBase: 50 * time.Millisecond, ThrottleBase: 50 * time.Millisecond, NodeID: id, LeaseTime: lease})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(inv.Close)
	inv.SetLambdaEndpoint(env.URL)
	inv.StartDurable()
	return dur
}

// TestDurableLeasesTwoNodes: a node starting while another runs a
// durable execution's invocation does not replay it (the runner renews
// its lease past the lease time); when the running node crashes, the other
// replays the execution once its lease ran out, and it ends there.
func TestDurableLeasesTwoNodes(t *testing.T) {
	const lease = 600 * time.Millisecond
	ctx := context.Background()
	ctxA, crashA := context.WithCancel(ctx)
	defer crashA()
	env := apitest.New(t, apitest.Options{Ctx: ctxA, NodeID: "a", LeaseTime: lease, Shared: true})
	fn := apitest.PythonFunction(t, "slow", slowDurable)
	fn.DurableConfig = &types.DurableConfig{ExecutionTimeout: aws.Int32(120)}
	fn.Timeout = aws.Int32(60)
	env.Create(t, fn)
	if _, err := env.Client.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("slow")}); err != nil {
		t.Fatal(err)
	}
	start := func(out string, sleep float64) string {
		t.Helper()
		payload, _ := json.Marshal(map[string]any{"out": out, "sleep": sleep})
		res, err := env.Invoke.Invoke(ctx, apitest.Ref("slow", "1"), payload, invoke.Options{Type: invoke.Event})
		if err != nil || res.DurableExecutionArn == "" {
			t.Fatalf("Invoke = %+v, %v", res, err)
		}
		testkit.Eventually(t, 30*time.Second, "the invocation never started", func() bool { return runs(t, out)["start"] == 1 })
		return res.DurableExecutionArn
	}
	dir := t.TempDir()

	// 1. b starts while a runs an invocation for five lease times.
	first := filepath.Join(dir, "first")
	arn := start(first, 3)
	b := durableNode(t, env, ctx, "b", lease)
	var ex *durable.Execution
	testkit.Eventually(t, 30*time.Second, "the first execution never ended", func() bool {
		var err error
		ex, err = b.Get(ctx, arn)
		return err == nil && ex.Closed()
	})
	if got := runs(t, first); ex.Status != durable.Succeeded || got["start"] != 1 || got["end"] != 1 || ex.Invocation != 1 {
		t.Fatalf("first: %s after %d invocations; runs %v: b replayed a's live invocation", ex.Status, ex.Invocation, got)
	}

	// 2. a crashes while it runs an invocation: b replays it, once.
	second := filepath.Join(dir, "second")
	arn = start(second, 2)
	crashA()
	crashed := time.Now()
	testkit.Eventually(t, 30*time.Second, "the crashed node's execution never ended", func() bool {
		var err error
		ex, err = b.Get(ctx, arn)
		return err == nil && ex.Closed()
	})
	took := time.Since(crashed)
	time.Sleep(2 * lease) // another replay would start by now
	if got := runs(t, second); ex.Status != durable.Succeeded || *ex.Result != "2" || got["start"] != 2 || ex.Invocation != 2 || ex.LeaseOwner != "" {
		t.Fatalf("second: %s %v after %d invocations, lease %q; runs %v", ex.Status, ex.Result, ex.Invocation, ex.LeaseOwner, got)
	}
	t.Logf("b ended the crashed node's execution %s after the crash", took.Round(time.Millisecond))
}
