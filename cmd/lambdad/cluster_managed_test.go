package main

import (
	"context"
	"encoding/json"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/testkit"
)

// miNodeHandler answers which process ran it and on which node.
const miNodeHandler = `import os, uuid
PROC = uuid.uuid4().hex
def handler(e, c):
    return {'proc': PROC, 'node': os.environ.get('AWS_ENDPOINT_URL_LAMBDA')}
`

// TestClusterKillManaged: a version on a capacity provider runs on the
// provider's node. That node is killed with SIGKILL, so it never
// deregisters: once its heartbeats lapse another node starts the version's
// environments, and invokes through any live node run there (throttled
// until then, never refused otherwise). The version stays Active on every
// live node meanwhile.
func TestClusterKillManaged(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 test builds and runs the binary")
	}
	t.Parallel()
	ctx := context.Background()
	const heartbeat = 500 * time.Millisecond
	nodes, clients := killCluster(t, "mnode", heartbeat)
	if _, err := clients[0].CreateCapacityProvider(ctx, &lambda.CreateCapacityProviderInput{CapacityProviderName: aws.String("mi"),
		VpcConfig:         &types.CapacityProviderVpcConfig{SubnetIds: []string{"subnet-1"}, SecurityGroupIds: []string{"sg-1"}},
		PermissionsConfig: &types.CapacityProviderPermissionsConfig{CapacityProviderOperatorRoleArn: aws.String("arn:aws:iam::000000000000:role/op")},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := clients[0].CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("mi"), Runtime: types.RuntimePython313, Role: aws.String(testkit.Role), MemorySize: aws.Int32(2048),
		Handler: aws.String("handler.handler"), Code: &types.FunctionCode{ZipFile: testkit.HandlerZip(t, miNodeHandler)},
		CapacityProviderConfig: &types.CapacityProviderConfig{LambdaManagedInstancesCapacityProviderConfig: &types.LambdaManagedInstancesCapacityProviderConfig{
			CapacityProviderArn: aws.String("arn:aws:lambda:us-east-1:000000000000:capacity-provider:mi")}},
	}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 30*time.Second, "$LATEST never became Active", func() bool {
		got, err := clients[0].GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("mi")})
		return err == nil && got.State == types.StateActive
	})
	if _, err := clients[1].PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("mi")}); err != nil {
		t.Fatal(err)
	}
	active := func(c *lambda.Client) bool {
		got, err := c.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("mi"), Qualifier: aws.String("1")})
		return err == nil && got.State == types.StateActive
	}
	for _, c := range clients {
		testkit.Eventually(t, 60*time.Second, "version 1 never became Active", func() bool { return active(c) })
	}
	type run struct{ Proc, Node string }
	// invoke answers where the invoke ran, or nothing when it was
	// throttled (no environment yet).
	invoke := func(c *lambda.Client) (run, bool) {
		out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("mi"), Qualifier: aws.String("1")})
		if testkit.IsType[*types.TooManyRequestsException](err) {
			return run{}, false
		}
		if err != nil {
			t.Fatal(err)
		}
		var r run
		if out.FunctionError != nil || json.Unmarshal(out.Payload, &r) != nil {
			t.Fatalf("invoke: %s %s", aws.ToString(out.FunctionError), out.Payload)
		}
		return r, true
	}
	var first run
	testkit.Eventually(t, 30*time.Second, "the version's environment never served", func() bool {
		var ok bool
		first, ok = invoke(clients[0])
		return ok
	})
	owner := -1
	for i, n := range nodes {
		if n.Addr == first.Node {
			owner = i
		}
	}
	if owner < 0 {
		t.Fatalf("the version ran on %q, not a node", first.Node)
	}
	procs := map[string]bool{first.Proc: true}
	for i := range 3 {
		r, ok := invoke(clients[i])
		if !ok || r.Node != first.Node {
			t.Fatalf("invoke through %s: %+v (served %v), want it on %s", nodes[i].Addr, r, ok, first.Node)
		}
		procs[r.Proc] = true
	}

	nodes[owner].Kill(syscall.SIGKILL)
	killed := time.Now()
	var live []int
	for i := range nodes {
		if i != owner {
			live = append(live, i)
		}
	}
	var heir run
	testkit.Eventually(t, 30*time.Second, "no live node ran the version after its node was killed", func() bool {
		for _, i := range live {
			if !active(clients[i]) {
				t.Fatalf("version 1 is not Active through %s after the kill", nodes[i].Addr)
			}
		}
		r, ok := invoke(clients[live[0]])
		if ok {
			heir = r
		}
		return ok
	})
	took := time.Since(killed)
	if heir.Node == first.Node || procs[heir.Proc] {
		t.Fatalf("after the kill the version ran %+v, on the killed node %s", heir, first.Node)
	}
	for _, i := range live {
		testkit.Eventually(t, 30*time.Second, "a live node does not place the version on the heir", func() bool {
			r, ok := invoke(clients[i])
			return ok && r.Node == heir.Node
		})
	}
	t.Logf("killed the provider's node (heartbeat %v): %s served the version %v later", heartbeat, heir.Node, took.Round(10*time.Millisecond))
}
