package server_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/server"
	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// concCounter marks itself running in a directory the three nodes share,
// counts who runs, sleeps, and answers the count: the concurrency the
// function saw from inside.
const concCounter = `import os, time

def handler(event, context):
    d = os.environ["RUNNING_DIR"]
    me = os.path.join(d, context.aws_request_id)
    open(me, "w").close()
    n = len(os.listdir(d))
    time.sleep(0.3)
    os.remove(me)
    return n
`

// TestClusterReservedConcurrency: three lambdads on one PostgreSQL store,
// reserved concurrency 2: invokes spread over the three never run more than
// 2 at once, as the function sees it; the others are throttled as on one
// node. Lowered to 1, at most 1. Placement sends every invoke to the
// version's node first; a node busy with one invoke of it (SpillAfter 1)
// spills the others to the rest, so the limit is held across nodes.
func TestClusterReservedConcurrency(t *testing.T) {
	url := testkit.Postgres(t)
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	code := t.TempDir() // the nodes' code, shared (no S3 here)
	var clients []*lambda.Client
	var urls []string
	for i, id := range []string{"n1", "n2", "n3"} {
		data := t.TempDir()
		if err := os.Symlink(code, filepath.Join(data, "blobs")); err != nil {
			t.Fatal(err)
		}
		d := servertest.StartLambdad(t, data, func(c *server.Config) {
			servertest.IsolationOff(c)
			c.Store = url
			c.NodeID = id
			c.Cluster = server.ClusterConfig{Heartbeat: 500 * time.Millisecond, SpillAfter: 1}
		})
		c := servertest.InvokeClient(d)
		urls = append(urls, d.URL)
		if i == 0 {
			in := testkit.PyFunction(t, "conc", concCounter)
			in.Environment = &types.Environment{Variables: map[string]string{"RUNNING_DIR": dir}}
			testkit.CreateActive(t, c, in)
		}
		clients = append(clients, c)
	}
	reserve := func(n int32) {
		t.Helper()
		if _, err := clients[int(n)%3].PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("conc"), ReservedConcurrentExecutions: aws.Int32(n)}); err != nil {
			t.Fatal(err)
		}
	}
	// burst invokes per node at once; it returns the most the function saw
	// and how many ran and were throttled.
	burst := func(per int) (most, ran, throttled int) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i := range 3 * per {
			wg.Go(func() {
				out, err := clients[i%3].Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("conc"), Payload: []byte(`{}`)})
				mu.Lock()
				defer mu.Unlock()
				var tm *types.TooManyRequestsException
				switch {
				case err == nil && out.FunctionError == nil:
					n, perr := strconv.Atoi(string(out.Payload))
					if perr != nil {
						t.Errorf("payload %q", out.Payload)
					}
					most = max(most, n)
					ran++
				case testkit.IsType[*types.TooManyRequestsException](err):
					if errors.As(err, &tm); tm.Reason != types.ThrottleReasonReservedFunctionConcurrentInvocationLimitExceeded {
						t.Errorf("throttle reason %q", tm.Reason)
					}
					throttled++
				default:
					t.Errorf("invoke: %v %v", err, out)
				}
			})
		}
		wg.Wait()
		return most, ran, throttled
	}

	reserve(2)
	// Warm every node first, so cold starts do not spread the burst out.
	for _, c := range clients {
		if _, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("conc"), Payload: []byte(`{}`)}); err != nil {
			t.Fatalf("a lone invoke with the limit free: %v", err)
		}
	}
	most, ran, throttled := burst(4)
	t.Logf("limit 2: most at once %d, ran %d, throttled %d", most, ran, throttled)
	if most > 2 || ran < 2 || ran+throttled != 12 {
		t.Fatalf("limit 2 over three nodes: the function saw %d at once; %d ran, %d throttled", most, ran, throttled)
	}

	// The burst was not all on one node: the version's node spilled some.
	var spilled float64
	for _, u := range urls {
		spilled += metricSum(t, u, "lambdad_placement_spilled_total") + metricSum(t, u, "lambdad_placement_forwarded_total")
	}
	if spilled == 0 {
		t.Fatal("no invoke was forwarded or spilled: the limit was not tested across nodes")
	}

	reserve(1)
	most, ran, throttled = burst(3)
	t.Logf("limit 1: most at once %d, ran %d, throttled %d", most, ran, throttled)
	if most > 1 || ran < 1 || ran+throttled != 9 {
		t.Fatalf("limit 1 over three nodes: the function saw %d at once; %d ran, %d throttled", most, ran, throttled)
	}
}
