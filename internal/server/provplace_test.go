package server_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/testkit"
)

type provRun struct{ Init, Node string }

func invokeProv(t *testing.T, c *lambda.Client) provRun {
	t.Helper()
	out, err := c.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("prov"), Qualifier: aws.String("1")})
	if err != nil {
		t.Fatal(err)
	}
	var r provRun
	if out.FunctionError != nil || json.Unmarshal(out.Payload, &r) != nil {
		t.Fatalf("invoke: %s %s", aws.ToString(out.FunctionError), out.Payload)
	}
	return r
}

// waitProvReady waits until c answers READY with 2 allocated.
func waitProvReady(t *testing.T, c *lambda.Client, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		out, err := c.GetProvisionedConcurrencyConfig(context.Background(), &lambda.GetProvisionedConcurrencyConfigInput{FunctionName: aws.String("prov"), Qualifier: aws.String("1")})
		if err != nil {
			t.Fatal(err)
		}
		if out.Status == types.ProvisionedConcurrencyStatusEnumReady && aws.ToInt32(out.AllocatedProvisionedConcurrentExecutions) == 2 && aws.ToInt32(out.AvailableProvisionedConcurrentExecutions) == 2 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("status %s, allocated %d", out.Status, aws.ToInt32(out.AllocatedProvisionedConcurrentExecutions))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestProvisionedOnOwner: provisioned concurrency put through a node that
// does not own the version is provisioned once, on the owner; every node
// reports it READY, and invokes through any node run on it. With the owner
// stopped, another node provisions it within a few heartbeats.
func TestProvisionedOnOwner(t *testing.T) {
	ctx := context.Background()
	ds, cs := placementCluster(t, 0, false, 500*time.Millisecond)
	marks := t.TempDir()
	in := testkit.PyFunction(t, "prov", testkit.ProvisionedMarker)
	in.Environment = &types.Environment{Variables: map[string]string{"MARKS": marks}}
	in.Publish = true
	testkit.CreateActive(t, cs[0], in)
	for _, c := range cs {
		testkit.WaitVersionActive(t, c, "prov", "1")
	}
	// An on-demand invoke runs on the owner.
	first := invokeProv(t, cs[0])
	owner := -1
	for i, d := range ds {
		if d.URL == first.Node {
			owner = i
		}
	}
	if owner < 0 || first.Init != "on-demand" {
		t.Fatalf("first invoke: %+v", first)
	}
	other := (owner + 1) % 3
	if _, err := cs[other].PutProvisionedConcurrencyConfig(ctx, &lambda.PutProvisionedConcurrencyConfigInput{
		FunctionName: aws.String("prov"), Qualifier: aws.String("1"), ProvisionedConcurrentExecutions: aws.Int32(2)}); err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		waitProvReady(t, c, 60*time.Second)
	}
	for i, c := range cs {
		out, err := c.ListProvisionedConcurrencyConfigs(ctx, &lambda.ListProvisionedConcurrencyConfigsInput{FunctionName: aws.String("prov")})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.ProvisionedConcurrencyConfigs) != 1 || out.ProvisionedConcurrencyConfigs[0].Status != types.ProvisionedConcurrencyStatusEnumReady ||
			aws.ToInt32(out.ProvisionedConcurrencyConfigs[0].AllocatedProvisionedConcurrentExecutions) != 2 {
			t.Fatalf("list through %s: %+v", ds[i].URL, out.ProvisionedConcurrencyConfigs)
		}
	}
	if got := testkit.MarksByContent(t, marks); len(got) != 1 || got[ds[owner].URL] != 2 {
		t.Fatalf("provisioned inits by node %v, want 2 on %s", got, ds[owner].URL)
	}
	for i := range 6 {
		if r := invokeProv(t, cs[i%3]); r.Init != "provisioned-concurrency" || r.Node != ds[owner].URL {
			t.Fatalf("invoke through %s: %+v", ds[i%3].URL, r)
		}
	}

	ds[owner].Stop()
	var rest []int
	for i := range ds {
		if i != owner {
			rest = append(rest, i)
		}
	}
	// Another node takes the version over once its view drops the owner
	// (at once on a clean stop, which deregisters; else after three
	// heartbeats without one).
	var heir string
	deadline := time.Now().Add(15 * time.Second)
	for heir == "" {
		got := testkit.MarksByContent(t, marks)
		for n, k := range got {
			if n == ds[owner].URL {
				continue
			}
			if len(got) != 2 || k > 2 {
				t.Fatalf("provisioned inits by node after the owner stopped: %v", got)
			}
			if k == 2 {
				heir = n
			}
		}
		if heir == "" && time.Now().After(deadline) {
			t.Fatalf("provisioned inits by node after the owner stopped: %v", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, i := range rest {
		waitProvReady(t, cs[i], 15*time.Second)
	}
	if got := testkit.MarksByContent(t, marks); len(got) != 2 || got[heir] != 2 {
		t.Fatalf("provisioned inits by node after the owner stopped: %v", got)
	}
	for _, i := range rest {
		if r := invokeProv(t, cs[i]); r.Init != "provisioned-concurrency" || r.Node != heir {
			t.Fatalf("owner stopped, invoke through %s: %+v", ds[i].URL, r)
		}
	}
}
