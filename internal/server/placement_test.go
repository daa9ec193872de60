package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	neturl "net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/lambdad/lambdad/internal/server"
	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// sleeper sleeps for the event's "sleep" seconds and answers the event.
const sleeper = "import time\ndef handler(e, c):\n    time.sleep(e.get('sleep', 0))\n    return e\n"

// placementCluster starts three lambdads on one PostgreSQL (store and
// cluster) with their code in S3 (moto_server), signatures checked if signed, and waits
// until each sees the two others.
func placementCluster(t testing.TB, spillAfter int, signed bool, heartbeat time.Duration) ([]*servertest.Daemon, []*lambda.Client) {
	return placementClusterWith(t, spillAfter, signed, heartbeat, nil)
}

// placementClusterWith is placementCluster with tune applied to each
// node's configuration.
func placementClusterWith(t testing.TB, spillAfter int, signed bool, heartbeat time.Duration, tune func(*server.Config)) ([]*servertest.Daemon, []*lambda.Client) {
	url := testkit.Postgres(t)
	endpoint, _ := motoBucket(t, "code")
	var ds []*servertest.Daemon
	var cs []*lambda.Client
	for _, id := range []string{"n1", "n2", "n3"} {
		d := servertest.StartLambdad(t, t.TempDir(), func(c *server.Config) {
			c.Store = url
			c.Blobs, c.S3Endpoint = "s3://code/placement", endpoint
			c.Isolation = "off"
			if signed {
				c.Credentials = map[string]string{testkit.InvokeKey: "secret"}
			}
			c.Cluster = server.ClusterConfig{URL: url, NodeID: id, Heartbeat: heartbeat, SpillAfter: spillAfter}
			if tune != nil {
				tune(c)
			}
		})
		ds = append(ds, d)
		cs = append(cs, servertest.InvokeClient(d))
	}
	for _, d := range ds {
		deadline := time.Now().Add(10 * time.Second)
		for {
			if peers(t, d.URL) == 2 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s does not see its peers", d.URL)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return ds, cs
}

// peers is how many peers url's health lists.
func peers(t testing.TB, url string) int {
	t.Helper()
	resp, err := http.Get(url + "/_lambdad/health")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h struct{ Peers []json.RawMessage }
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		t.Fatal(err)
	}
	return len(h.Peers)
}

// metricSum is the sum of the samples of metric (any labels) in url's
// /_lambdad/metrics.
func metricSum(t testing.TB, url, metric string) float64 {
	t.Helper()
	resp, err := http.Get(url + "/_lambdad/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		name, rest, _ := strings.Cut(line, " ")
		if i := strings.IndexByte(name, '{'); i >= 0 {
			name = name[:i]
			_, rest, _ = strings.Cut(line, "} ")
		}
		if name != metric {
			continue
		}
		v, err := strconv.ParseFloat(strings.Fields(rest)[0], 64)
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		sum += v
	}
	return sum
}

func invokeSleeper(ctx context.Context, c *lambda.Client, sleep float64, i int) error {
	payload := fmt.Sprintf(`{"sleep": %g, "i": %d}`, sleep, i)
	out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("sleeper"), Payload: []byte(payload)})
	if err != nil {
		return err
	}
	if out.FunctionError != nil || string(out.Payload) != fmt.Sprintf(`{"sleep": %g, "i": %d}`, sleep, i) {
		return fmt.Errorf("invoke %d: %s %s", i, aws.ToString(out.FunctionError), out.Payload)
	}
	return nil
}

// TestPlacementWarmOnOwner: 30 invokes of one function spread over three
// nodes start one environment in all (the owner's; the others forward,
// SigV4 checked on the owner); with the owner stopped the two others still
// answer every invoke, passing over the owner while their view still
// lists it.
func TestPlacementWarmOnOwner(t *testing.T) {
	ctx := context.Background()
	ds, cs := placementCluster(t, 0, true, 2*time.Second)
	testkit.CreateActive(t, cs[0], testkit.PyFunction(t, "sleeper", sleeper))
	for _, c := range cs[1:] {
		testkit.WaitActive(t, c, "sleeper")
	}
	// Half of them carry a mark of forwarding not made by a node: it is
	// ignored (they are still forwarded, the owner's environment serves all).
	forged := lambda.WithAPIOptions(func(st *middleware.Stack) error {
		return st.Finalize.Add(middleware.FinalizeMiddlewareFunc("forge", func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			if req, ok := in.Request.(*smithyhttp.Request); ok {
				req.Header.Set("X-Lambdad-Forwarded", fmt.Sprint(time.Now().Unix())+".00")
				req.Header.Set("X-Lambdad-Placement-Key", "k")
			}
			return next.HandleFinalize(ctx, in)
		}), middleware.After)
	})
	for i := range 30 {
		var opts []func(*lambda.Options)
		if i%2 == 0 {
			opts = append(opts, forged)
		}
		payload := fmt.Sprintf(`{"i": %d}`, i)
		out, err := cs[i%3].Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("sleeper"), Payload: []byte(payload)}, opts...)
		if err != nil {
			t.Fatal(err)
		}
		if out.FunctionError != nil || string(out.Payload) != payload {
			t.Fatalf("invoke %d: %s %s", i, aws.ToString(out.FunctionError), out.Payload)
		}
	}
	owner, cold, fwd := -1, 0.0, 0.0
	for i, d := range ds {
		n := metricSum(t, d.URL, "lambdad_function_cold_starts_total")
		if n > 0 {
			owner = i
		}
		cold += n
		fwd += metricSum(t, d.URL, "lambdad_placement_forwarded_total")
	}
	if cold != 1 || fwd != 20 {
		t.Fatalf("cold starts %v (want 1), forwarded %v (want 20)", cold, fwd)
	}

	// A payload past the limit is not forwarded: every node refuses it as
	// AWS does.
	big := []byte(`"` + strings.Repeat("x", 7<<20) + `"`)
	for _, c := range cs {
		_, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("sleeper"), Payload: big})
		testkit.APIErr(t, err, "RequestTooLargeException", 413, "Request must be smaller than 6291456 bytes for the InvokeFunction operation")
	}

	ds[owner].Stop()
	var rest []*lambda.Client
	for i, c := range cs {
		if i != owner {
			rest = append(rest, c)
		}
	}
	for i := range 10 {
		if err := invokeSleeper(ctx, rest[i%2], 0, i); err != nil {
			t.Fatalf("owner stopped: %v", err)
		}
	}
	var spilled float64
	for i, d := range ds {
		if i != owner {
			spilled += metricSum(t, d.URL, "lambdad_placement_spilled_total")
		}
	}
	// The others' view lists the stopped owner until their next heartbeat
	// (2 s): the first invoke on each found it unreachable, and spilled.
	if spilled < 1 {
		t.Fatalf("invokes spilled after the owner stopped: %v", spilled)
	}
}

// TestPlacementBodyBudget: a body a node holds to forward counts against
// its API's memory budget (1.5 MB here) until the forward ends: while a
// 1 MB invoke is forwarded and runs on the owner, a 1.3 MB request to the
// receiving node is throttled as AWS throttles, and once it ended the
// budget is whole again.
func TestPlacementBodyBudget(t *testing.T) {
	ctx := context.Background()
	ds, cs := placementClusterWith(t, 0, false, 2*time.Second, func(c *server.Config) { c.BodyMemory = 1536 << 10 })
	testkit.CreateActive(t, cs[0], testkit.PyFunction(t, "sleeper", sleeper))
	for _, c := range cs[1:] {
		testkit.WaitActive(t, c, "sleeper")
	}
	if err := invokeSleeper(ctx, cs[0], 0, 0); err != nil {
		t.Fatal(err)
	}
	owner := -1
	for i, d := range ds {
		if metricSum(t, d.URL, "lambdad_function_cold_starts_total") > 0 {
			owner = i
		}
	}
	if owner < 0 {
		t.Fatal("no node ran the first invoke")
	}
	recv := (owner + 1) % 3
	done := make(chan error, 1)
	go func() {
		payload := `{"sleep": 2, "pad": "` + strings.Repeat("x", 1<<20) + `"}`
		_, err := cs[recv].Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("sleeper"), Payload: []byte(payload)})
		done <- err
	}()
	// The forwarded invoke runs once an environment of the owner is busy.
	deadline := time.Now().Add(20 * time.Second)
	for metricSum(t, ds[owner].URL, "lambdad_environments_busy") < 1 {
		if time.Now().After(deadline) {
			t.Fatal("the 1 MB invoke never reached the owner")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Not a valid zip: a budget with room would refuse it for that.
	create := &lambda.CreateFunctionInput{FunctionName: aws.String("budgeted"), Runtime: types.RuntimePython312, Role: aws.String(testkit.Role),
		Handler: aws.String("h.h"), Code: &types.FunctionCode{ZipFile: make([]byte, 1<<20)}}
	noRetry := func(o *lambda.Options) { o.RetryMaxAttempts = 1 }
	_, err := cs[recv].CreateFunction(ctx, create, noRetry)
	testkit.APIErr(t, err, "TooManyRequestsException", 429, "Rate Exceeded.")
	if err := <-done; err != nil {
		t.Fatalf("the forwarded invoke: %v", err)
	}
	_, err = cs[recv].CreateFunction(ctx, create, noRetry)
	if err == nil || testkit.IsType[*types.TooManyRequestsException](err) {
		t.Fatalf("CreateFunction after the forward ended: %v, want the zip refused", err)
	}
}

// TestPlacementSpill: six concurrent 200 ms invokes, more than the owner
// takes at once (SpillAfter 1), all succeed, some on other nodes.
func TestPlacementSpill(t *testing.T) {
	ctx := context.Background()
	ds, cs := placementCluster(t, 1, true, 200*time.Millisecond)
	testkit.CreateActive(t, cs[0], testkit.PyFunction(t, "sleeper", sleeper))
	for _, c := range cs[1:] {
		testkit.WaitActive(t, c, "sleeper")
	}
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range 6 {
		wg.Go(func() { errs[i] = invokeSleeper(ctx, cs[i%3], 0.2, i) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var spilled, busy float64
	nodesCold := 0
	for _, d := range ds {
		spilled += metricSum(t, d.URL, "lambdad_placement_spilled_total")
		busy += metricSum(t, d.URL, "lambdad_placement_busy_total")
		if metricSum(t, d.URL, "lambdad_function_cold_starts_total") > 0 {
			nodesCold++
		}
	}
	if spilled == 0 || busy == 0 || nodesCold < 2 {
		t.Fatalf("spilled %v, busy answers %v, nodes with environments %d", spilled, busy, nodesCold)
	}
}

// BenchmarkPlacementWarm: a warm invoke of the aws-lambda-go echo function
// on its owner, and through another node (one forwarding hop), in a
// three-node cluster (compare p50-µs).
func BenchmarkPlacementWarm(b *testing.B) {
	ds, cs := placementCluster(b, 0, false, 200*time.Millisecond)
	testkit.CreateActive(b, cs[0], testkit.GoFunction("go-bench", testkit.GoBootstrapZip(b, "testdata/goecho")))
	for _, c := range cs[1:] {
		testkit.WaitActive(b, c, "go-bench")
	}
	if _, err := cs[0].Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("go-bench")}); err != nil {
		b.Fatal(err)
	}
	owner, other := -1, -1
	for i, d := range ds {
		if metricSum(b, d.URL, "lambdad_function_cold_starts_total") > 0 {
			owner = i
		} else {
			other = i
		}
	}
	if owner < 0 {
		b.Fatal("no node started an environment")
	}
	warmOwnerAndForwarded(b, ds, owner, other, "/2015-03-31/functions/go-bench/invocations")
	if cold := metricSum(b, ds[0].URL, "lambdad_function_cold_starts_total") + metricSum(b, ds[1].URL, "lambdad_function_cold_starts_total") +
		metricSum(b, ds[2].URL, "lambdad_function_cold_starts_total"); cold != 1 {
		b.Fatalf("%v cold starts", cold)
	}
}

// warmOwnerAndForwarded times warm invokes at path through the owner node
// and through another (one forwarding hop).
func warmOwnerAndForwarded(b *testing.B, ds []*servertest.Daemon, owner, other int, path string) {
	for _, via := range []struct {
		name string
		node int
	}{{"owner", owner}, {"forwarded", other}} {
		b.Run(via.name, func(b *testing.B) { warmLatency(b, rawInvoker(b, ds[via.node].URL, path), false) })
	}
}

// TestPlacementStream: InvokeWithResponseStream is placed too, and a
// forwarded stream arrives chunk by chunk.
func TestPlacementStream(t *testing.T) {
	ds, cs := placementCluster(t, 0, true, 200*time.Millisecond)
	testkit.CreateActive(t, cs[0], testkit.NodeFunction(t, "streamer", "index.js", "index.handler", streamNode))
	for i, d := range ds {
		testkit.WaitActive(t, cs[i], "streamer")
		out := streamInvoke(t, streamClient(d), &lambda.InvokeWithResponseStreamInput{FunctionName: aws.String("streamer"), Payload: []byte(`{"op":"chunks"}`)})
		ev := readStream(t, out)
		checkIncremental(t, ev.chunks, ev.arrived)
	}
	var cold, fwd float64
	for _, d := range ds {
		cold += metricSum(t, d.URL, "lambdad_function_cold_starts_total")
		fwd += metricSum(t, d.URL, "lambdad_placement_forwarded_total")
	}
	if cold != 1 || fwd != 2 {
		t.Fatalf("cold starts %v (want 1), forwarded %v (want 2)", cold, fwd)
	}
}

// TestPlacementFunctionURL: a function URL's requests, by host and by
// path, are placed as invokes are: six GETs over three nodes, one
// environment, each answered with the function's own response.
func TestPlacementFunctionURL(t *testing.T) {
	ctx := context.Background()
	ds, cs := placementCluster(t, 0, true, 200*time.Millisecond)
	src := "def handler(e, c):\n    return {'statusCode': 201, 'body': e['rawPath']}\n"
	testkit.CreateActive(t, cs[0], testkit.PyFunction(t, "site", src))
	cfg, err := cs[0].CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String("site"), AuthType: types.FunctionUrlAuthTypeNone})
	if err != nil {
		t.Fatal(err)
	}
	fu, _ := neturl.Parse(aws.ToString(cfg.FunctionUrl))
	id, _, _ := strings.Cut(fu.Host, ".")
	for i := range 6 {
		d := ds[i%3]
		testkit.WaitActive(t, cs[i%3], "site")
		target, byHost := d.URL+"/_lambdad/url/"+id+"/p"+strconv.Itoa(i), i >= 3
		if byHost {
			target = d.URL + "/p" + strconv.Itoa(i)
		}
		req, _ := http.NewRequest("GET", target, nil)
		if byHost {
			req.Host = fu.Host
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 201 || string(b) != "/p"+strconv.Itoa(i) {
			t.Fatalf("request %d: %d %s", i, resp.StatusCode, b)
		}
	}
	var cold, fwd float64
	for _, d := range ds {
		cold += metricSum(t, d.URL, "lambdad_function_cold_starts_total")
		fwd += metricSum(t, d.URL, "lambdad_placement_forwarded_total")
	}
	if cold != 1 || fwd != 4 {
		t.Fatalf("cold starts %v (want 1), forwarded %v (want 4)", cold, fwd)
	}
}
