package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/testkit"
)

// killCluster starts three lambdad processes (IDs prefix0..2) on one
// PostgreSQL and one S3 bucket, unconfined (the functions write markers
// the tests read), with heartbeat and a 2 s lease: a rig for killing one.
func killCluster(t *testing.T, prefix string, heartbeat time.Duration) ([]*testkit.Proc, []*lambda.Client) {
	t.Helper()
	pg, moto := clusterBacking(t, prefix+"code")
	bin := lambdadBin.Path(t)
	nodes := make([]*testkit.Proc, 3)
	clients := make([]*lambda.Client, 3)
	for i := range nodes {
		id := fmt.Sprintf("%s%d", prefix, i)
		nodes[i] = testkit.StartProcess(t, bin, "", nil, "--listen", "127.0.0.1:0", "--data-dir", filepath.Join(t.TempDir(), id),
			"--transition", "20ms", "--isolation", "off", "--runtime-fallback",
			"--store", pg, "--blobs", "s3://"+prefix+"code/cluster", "--s3-endpoint", moto,
			"--node-id", id, "--heartbeat", heartbeat.String(), "--lease-time", "2s")
		clients[i] = newLambdaClient(nodes[i].Addr)
	}
	return nodes, clients
}

// TestClusterKillProvisioned: a version's provisioned environments live on
// the node that owns it. That node is killed with SIGKILL, so it never
// deregisters: once its heartbeats lapse another node provisions the
// version, every live node reports the config READY again, and invokes
// through any live node run on the heir's provisioned environments.
func TestClusterKillProvisioned(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 test builds and runs the binary")
	}
	t.Parallel()
	ctx := context.Background()
	marks := t.TempDir()
	const heartbeat = 500 * time.Millisecond
	nodes, clients := killCluster(t, "pnode", heartbeat)
	if _, err := clients[0].CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("prov"), Runtime: types.RuntimePython312, Role: aws.String(testkit.Role),
		Handler: aws.String("handler.handler"), Code: &types.FunctionCode{ZipFile: testkit.HandlerZip(t, testkit.ProvisionedMarker)},
		Environment: &types.Environment{Variables: map[string]string{"MARKS": marks}}, Publish: true,
	}); err != nil {
		t.Fatal(err)
	}
	for _, c := range clients {
		testkit.Eventually(t, 30*time.Second, "version 1 never became Active", func() bool {
			got, err := c.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("prov"), Qualifier: aws.String("1")})
			return err == nil && got.State == types.StateActive
		})
	}
	if _, err := clients[2].PutProvisionedConcurrencyConfig(ctx, &lambda.PutProvisionedConcurrencyConfigInput{
		FunctionName: aws.String("prov"), Qualifier: aws.String("1"), ProvisionedConcurrentExecutions: aws.Int32(2)}); err != nil {
		t.Fatal(err)
	}
	ready := func(c *lambda.Client) bool {
		out, err := c.GetProvisionedConcurrencyConfig(ctx, &lambda.GetProvisionedConcurrencyConfigInput{FunctionName: aws.String("prov"), Qualifier: aws.String("1")})
		return err == nil && out.Status == types.ProvisionedConcurrencyStatusEnumReady &&
			aws.ToInt32(out.AllocatedProvisionedConcurrentExecutions) == 2
	}
	for _, c := range clients {
		testkit.Eventually(t, 60*time.Second, "the config never became READY with 2 allocated", func() bool { return ready(c) })
	}
	inits := func() map[string]int { return testkit.MarksByContent(t, marks) }
	type run struct{ Init, Node string }
	invoke := func(c *lambda.Client) run {
		out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("prov"), Qualifier: aws.String("1")})
		if err != nil {
			t.Fatal(err)
		}
		var r run
		if out.FunctionError != nil || json.Unmarshal(out.Payload, &r) != nil {
			t.Fatalf("invoke: %s %s", aws.ToString(out.FunctionError), out.Payload)
		}
		return r
	}
	got := inits()
	if len(got) != 1 {
		t.Fatalf("provisioned inits by node %v, want all on one node", got)
	}
	owner := -1
	for i, n := range nodes {
		if got[n.Addr] == 2 {
			owner = i
		}
	}
	if owner < 0 {
		t.Fatalf("provisioned inits by node %v, want 2 on one of the nodes", got)
	}
	for i := range 3 {
		if r := invoke(clients[i]); r.Init != "provisioned-concurrency" || r.Node != nodes[owner].Addr {
			t.Fatalf("invoke through %s: %+v, want a provisioned environment on %s", nodes[i].Addr, r, nodes[owner].Addr)
		}
	}

	nodes[owner].Kill(syscall.SIGKILL)
	killed := time.Now()
	var live []int
	for i := range nodes {
		if i != owner {
			live = append(live, i)
		}
	}
	heir := ""
	testkit.Eventually(t, 30*time.Second, "no live node provisioned the version after the owner was killed", func() bool {
		for n, k := range inits() {
			if n != nodes[owner].Addr && k >= 2 {
				heir = n
			}
		}
		return heir != ""
	})
	took := time.Since(killed)
	for _, i := range live {
		testkit.Eventually(t, 30*time.Second, "a live node never reported the config READY again", func() bool { return ready(clients[i]) })
		// and has dropped the dead owner from its view, so it places the
		// version's invokes on the heir.
		testkit.Eventually(t, 30*time.Second, "a live node still counts the killed owner among its peers", func() bool {
			var h struct{ Peers []struct{ ID string } }
			resp, err := http.Get(nodes[i].Addr + "/_lambdad/health")
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			return json.NewDecoder(resp.Body).Decode(&h) == nil && len(h.Peers) == 1
		})
	}
	if got := inits(); len(got) != 2 || got[nodes[owner].Addr] != 2 || got[heir] != 2 {
		t.Fatalf("provisioned inits by node after the kill %v: want 2 on the dead owner and 2 on one heir", got)
	}
	for _, i := range live {
		if r := invoke(clients[i]); r.Init != "provisioned-concurrency" || r.Node != heir {
			t.Fatalf("owner killed, invoke through %s: %+v, want a provisioned environment on %s", nodes[i].Addr, r, heir)
		}
	}
	t.Logf("killed the owner (heartbeat %v): %s had provisioned the version %v later", heartbeat, heir, took.Round(10*time.Millisecond))
}
