package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/jackc/pgx/v5"

	"github.com/lambdad/lambdad/internal/archive/archivetest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// TestClusterKillDurable runs three lambdad processes on one PostgreSQL
// database and one S3 bucket, and AWS's durable execution SDK on them
// (durableCrashSrc: a step, a wait of 3 s, a slow step of 3 s, a step).
// The execution starts through node0, which runs its first invocation;
// node0 is killed with SIGKILL while the execution waits: another node
// fires the wait and replays the execution. That node is killed in turn
// while the slow step runs: the last node takes the invocation over once
// its lease ran out. The execution ends SUCCEEDED; no acknowledged step ran
// twice (the slow step cut by the kill runs again: at least once, as on
// AWS), and no node replayed it while another held it.
func TestClusterKillDurable(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 test builds and runs the binary")
	}
	t.Parallel()
	node22 := testkit.DurableTools(t)
	files := append(testkit.DurableSDKFiles(t), archivetest.File{Name: "index.mjs", Body: durableCrashSrc})
	ctx := context.Background()
	pg, moto := clusterBacking(t, "code")
	bin := lambdadBin.Path(t)
	out := t.TempDir()
	nodes := map[string]*clusterNode{}
	for i := range 3 {
		id := fmt.Sprintf("node%d", i)
		// Unconfined, so the function can write the markers the test reads.
		p := testkit.StartProcess(t, bin, "", nil, "--listen", "127.0.0.1:0", "--data-dir", filepath.Join(t.TempDir(), id),
			"--transition", "20ms", "--log-level", "info", "--isolation", "off", "--node-binaries", node22,
			"--store", pg, "--blobs", "s3://code/durable", "--s3-endpoint", moto, "--aws-endpoint-url", moto,
			"--node-id", id, "--lease-time", "2s")
		nodes[id] = &clusterNode{id: id, p: p, cl: newLambdaClient(p.Addr)}
	}
	if _, err := nodes["node0"].cl.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("durable"), Runtime: types.RuntimeNodejs22x, Role: aws.String(testkit.Role),
		Handler: aws.String("index.handler"), Timeout: aws.Int32(30), MemorySize: aws.Int32(256),
		Code:          &types.FunctionCode{ZipFile: archivetest.Zip(t, files...)},
		Environment:   &types.Environment{Variables: map[string]string{"OUT": out}},
		DurableConfig: &types.DurableConfig{ExecutionTimeout: aws.Int32(300)},
	}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 20*time.Second, "the function never became Active", func() bool {
		got, err := nodes["node0"].cl.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("durable")})
		return err == nil && got.Configuration.State == types.StateActive
	})
	if _, err := nodes["node0"].cl.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("durable")}); err != nil {
		t.Fatal(err)
	}
	res, err := nodes["node0"].cl.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("durable"), Qualifier: aws.String("1"),
		InvocationType: types.InvocationTypeEvent, Payload: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(res.DurableExecutionArn)
	live := map[string]*clusterNode{}
	for id, n := range nodes {
		live[id] = n
	}
	kill := func(id string) {
		live[id].p.Kill(syscall.SIGKILL)
		delete(live, id)
	}
	anyLive := func() *clusterNode {
		for _, n := range live {
			return n
		}
		return nil
	}

	// The first invocation (on node0, which started it) ends PENDING: the
	// execution waits, and holds no lease.
	testkit.Eventually(t, 60*time.Second, "the first invocation never ended", func() bool {
		h, err := nodes["node1"].cl.GetDurableExecutionHistory(ctx, &lambda.GetDurableExecutionHistoryInput{DurableExecutionArn: &arn})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range h.Events {
			if e.EventType == types.EventTypeInvocationCompleted {
				return true
			}
		}
		return false
	})
	if owner, _ := durableLease(t, pg); owner != "" {
		t.Fatalf("a waiting execution is leased to %q", owner)
	}
	kill("node0")

	// Another node fires the wait and replays; kill it while the slow step runs.
	testkit.Eventually(t, 60*time.Second, "the slow step never started", func() bool { return len(testkit.Markers(t, out, "slow-")) > 0 })
	second, _ := durableLease(t, pg)
	if live[second] == nil {
		t.Fatalf("the replay after the wait is leased to %q, no live node", second)
	}
	kill(second)
	killed := time.Now()

	var ex *lambda.GetDurableExecutionOutput
	testkit.Eventually(t, 60*time.Second, "the execution never ended", func() bool {
		ex, err = anyLive().cl.GetDurableExecution(ctx, &lambda.GetDurableExecutionInput{DurableExecutionArn: &arn})
		if err != nil {
			t.Fatal(err)
		}
		return ex.Status != types.ExecutionStatusRunning
	})
	took := time.Since(killed)
	time.Sleep(3 * time.Second) // a duplicate replay would show by now
	if ex.Status != types.ExecutionStatusSucceeded || aws.ToString(ex.Result) != `"done"` {
		t.Errorf("execution ended %s with %s %+v", ex.Status, aws.ToString(ex.Result), ex.Error)
	}
	for step, want := range map[string]int{"before": 1, "slow": 2, "after": 1} {
		if got := len(testkit.Markers(t, out, step+"-")); got != want {
			t.Errorf("step %s ran %d times, want %d", step, got, want)
		}
	}
	if owner, _ := durableLease(t, pg); owner != "" {
		t.Errorf("the ended execution is still leased to %q", owner)
	}
	t.Logf("killed node0 while the execution waited, then %s (lease time 2 s) while its step ran: %s ended it %v after",
		second, anyLive().id, took.Round(100*time.Millisecond))
	if t.Failed() {
		for _, n := range nodes {
			t.Logf("%s log:\n%s", n.id, n.p.Log())
		}
	}
}

// durableLease reads the lease on the cluster's one durable execution
// straight from the database: its node ("" when none holds it) and end.
func durableLease(t *testing.T, pg string) (string, time.Time) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, pg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var v []byte
	if err := conn.QueryRow(ctx, `SELECT val FROM lambdad_kv WHERE bucket = 'durable-exec'`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	var l struct {
		Owner string `json:"lo"`
		Until int64  `json:"lu"`
	}
	if err := json.Unmarshal(v, &l); err != nil {
		t.Fatal(err)
	}
	return l.Owner, time.Unix(0, l.Until)
}
