package server_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/ids"
	"github.com/lambdad/lambdad/internal/testkit"
)

// miNodeSrc answers which process ran it and on which node, after
// waiting ms; given a mark, it also writes that into $MARKS/<mark>.
const miNodeSrc = `const proc = require('node:crypto').randomUUID();
const fs = require('node:fs'), path = require('node:path');
exports.handler = async (event) => {
  await new Promise((r) => setTimeout(r, event.ms || 0));
  const out = { proc, node: process.env.AWS_ENDPOINT_URL_LAMBDA };
  if (event.mark) fs.writeFileSync(path.join(process.env.MARKS, event.mark), JSON.stringify(out));
  return out;
};
`

// miEvents sends n Event invokes of mi-place:1 through c, and returns
// where they ran, once each has.
func miEvents(t *testing.T, c *lambda.Client, marks string, n int) []outcome {
	t.Helper()
	names := make([]string, n)
	for i := range n {
		names[i] = ids.UUID()
		if _, err := c.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("mi-place"), Qualifier: aws.String("1"),
			InvocationType: types.InvocationTypeEvent, Payload: []byte(`{"mark":"` + names[i] + `"}`)}); err != nil {
			t.Fatal(err)
		}
	}
	var out []outcome
	testkit.Eventually(t, 30*time.Second, "every Event invoke ran", func() bool {
		out = out[:0]
		for _, name := range names {
			b, err := os.ReadFile(filepath.Join(marks, name))
			var r outcome
			if err != nil || json.Unmarshal(b, &r) != nil {
				return false
			}
			out = append(out, r)
		}
		return true
	})
	return out
}

// miTally is a burst's processes, nodes and throttles.
func miTally(runs []outcome) (procs, nodes map[string]bool, throttled int) {
	procs, nodes = map[string]bool{}, map[string]bool{}
	for _, r := range runs {
		if r.Throttled {
			throttled++
			continue
		}
		procs[r.Proc], nodes[r.Node] = true, true
	}
	return procs, nodes, throttled
}

// TestManagedOnOwner: a version on a capacity provider, published through
// one node of three, is Active through every node, and its three minimum
// environments are started once, on the provider's owner. Invokes through
// any node run on them and are not spilled elsewhere (a fourth at once is
// throttled, as on one node), nor are Event invokes, whichever node leases
// them. When the owner stops, another node starts
// the version's environments and serves its invokes.
func TestManagedOnOwner(t *testing.T) {
	ds, cs := placementCluster(t, 1, false, 500*time.Millisecond)
	marks := t.TempDir()
	in := onCapacityProvider(t, cs[0], testkit.NodeFunction(t, "mi-place", "index.js", "index.handler", miNodeSrc), 1)
	in.Environment = &types.Environment{Variables: map[string]string{"MARKS": marks}}
	testkit.CreateActive(t, cs[0], in)
	publishOne(t, cs[1], "mi-place")
	for _, c := range cs {
		testkit.WaitVersionActive(t, c, "mi-place", "1")
	}
	all := map[string]bool{}
	owner := ""
	for i, c := range cs {
		procs, nodes, thr := miTally(burst(t, c, "mi-place", "1", 3, 1000))
		if len(procs) != 3 || len(nodes) != 1 || thr != 0 {
			t.Fatalf("3 invokes through %s: %d processes on nodes %v, %d throttled", ds[i].URL, len(procs), nodes, thr)
		}
		for n := range nodes {
			if owner != "" && n != owner {
				t.Fatalf("invokes through %s ran on %s, earlier ones on %s", ds[i].URL, n, owner)
			}
			owner = n
		}
		for p := range procs {
			all[p] = true
		}
	}
	if len(all) != 3 {
		t.Fatalf("invokes through three nodes ran in %d processes, want the version's 3 environments", len(all))
	}
	ownerIdx := -1
	for i, d := range ds {
		if d.URL == owner {
			ownerIdx = i
		}
	}
	if ownerIdx < 0 {
		t.Fatalf("the version ran on %s, not a node", owner)
	}
	// Every slot taken: a fourth invoke at once is throttled on the owner,
	// not spilled to a node that would start an environment of its own.
	other := (ownerIdx + 1) % 3
	if procs, nodes, thr := miTally(burst(t, cs[other], "mi-place", "1", 4, 1000)); len(procs) != 3 || len(nodes) != 1 || !nodes[owner] || thr != 1 {
		t.Fatalf("4 invokes through %s: %d processes on nodes %v, %d throttled; want 3 on %s and 1 throttled", ds[other].URL, len(procs), nodes, thr, owner)
	}
	// Event invokes, leased by whichever node, run there too.
	for _, i := range []int{other, (ownerIdx + 2) % 3} {
		for _, r := range miEvents(t, cs[i], marks, 4) {
			if r.Node != owner || !all[r.Proc] {
				t.Fatalf("an Event invoke through %s ran in process %s on %s, not on the version's environments on %s", ds[i].URL, r.Proc, r.Node, owner)
			}
		}
	}

	ds[ownerIdx].Stop()
	rest := []int{(ownerIdx + 1) % 3, (ownerIdx + 2) % 3}
	heir := ""
	testkit.Eventually(t, 30*time.Second, "another node runs the version", func() bool {
		procs, nodes, thr := miTally(burst(t, cs[rest[0]], "mi-place", "1", 3, 300))
		if thr != 0 || len(procs) != 3 || len(nodes) != 1 {
			return false
		}
		for p := range procs {
			if all[p] {
				t.Fatalf("process %s of the stopped owner still answers", p)
			}
		}
		for n := range nodes {
			heir = n
		}
		return true
	})
	if heir == owner {
		t.Fatalf("the stopped owner %s still runs the version", owner)
	}
	procs, nodes, thr := miTally(burst(t, cs[rest[1]], "mi-place", "1", 3, 300))
	if len(procs) != 3 || len(nodes) != 1 || !nodes[heir] || thr != 0 {
		t.Fatalf("3 invokes through %s after the owner stopped: %d processes on %v, %d throttled; want 3 on %s", ds[rest[1]].URL, len(procs), nodes, thr, heir)
	}
	for _, i := range rest {
		testkit.WaitVersionActive(t, cs[i], "mi-place", "1")
	}
}

// BenchmarkManagedPlacementWarm: a warm invoke of the aws-lambda-go echo
// function's version 1 on a capacity provider, in a three-node cluster,
// through the provider's owner and through another node (one forwarding
// hop); compare p50-µs with BenchmarkPlacementWarm's.
func BenchmarkManagedPlacementWarm(b *testing.B) {
	ds, cs := placementCluster(b, 0, false, 200*time.Millisecond)
	testkit.CreateActive(b, cs[0], onCapacityProvider(b, cs[0], testkit.GoFunction("go-mi", testkit.GoBootstrapZip(b, "testdata/goecho")), 1))
	if _, err := cs[1].PublishVersion(context.Background(), &lambda.PublishVersionInput{FunctionName: aws.String("go-mi")}); err != nil {
		b.Fatal(err)
	}
	for _, c := range cs {
		testkit.WaitVersionActive(b, c, "go-mi", "1")
	}
	// The node that counts the invocation runs the provider.
	if _, err := cs[0].Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("go-mi"), Qualifier: aws.String("1")}); err != nil {
		b.Fatal(err)
	}
	owner, other := -1, -1
	for i, d := range ds {
		if metricSum(b, d.URL, "lambdad_function_invocations_total") > 0 {
			owner = i
		} else {
			other = i
		}
	}
	if owner < 0 || other < 0 {
		b.Fatalf("the invoke ran on node %d; a node that did not run it: %d", owner, other)
	}
	warmOwnerAndForwarded(b, ds, owner, other, "/2015-03-31/functions/go-mi/invocations?Qualifier=1")
}
