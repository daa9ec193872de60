package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	stypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/jackc/pgx/v5"

	"github.com/lambdad/lambdad/internal/testkit"
)

// clusterHandler writes one marker file per event it handles into OUT:
// an Event invoke's {"name": …}, or each SQS record's body.
const clusterHandler = `import os, time
def handler(event, context):
    names = [r["body"] for r in event["Records"]] if "Records" in event else [event["name"]]
    for n in names:
        open(os.path.join(os.environ["OUT"], "%s-%s-%d" % (n, context.aws_request_id, time.time_ns())), "w").write("ran")
    return "ok"
`

// clusterNode is one lambdad process of a cluster.
type clusterNode struct {
	id   string
	args []string
	p    *testkit.Proc
	cl   *lambda.Client
}

// TestClusterKill runs three lambdad processes on one PostgreSQL database
// and one S3 bucket (moto_server). Conflicting writes through two nodes:
// exactly one wins. Then, with Event invokes queued (the function throttled
// to reserved concurrency 0, so none is running) and an SQS mapping polled
// by one node, that node is killed with SIGKILL: the other two take its
// leased events and the mapping over, and every event and message runs
// exactly once.
func TestClusterKill(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 test builds and runs the binary")
	}
	t.Parallel()
	ctx := context.Background()
	pg, moto := clusterBacking(t, "code")
	sq := sqs.New(sqs.Options{Region: "us-east-1", BaseEndpoint: aws.String(moto), Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")})
	q, err := sq.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("cluster-src"), Attributes: map[string]string{"VisibilityTimeout": "5"}})
	if err != nil {
		t.Fatal(err)
	}
	qa, err := sq.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl, AttributeNames: []stypes.QueueAttributeName{stypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}

	bin := lambdadBin.Path(t)
	out := t.TempDir()
	nodes := make([]*clusterNode, 3)
	for i := range nodes {
		id := fmt.Sprintf("node%d", i)
		// Unconfined, so the function can write the markers the test reads.
		args := []string{"--listen", "127.0.0.1:0", "--data-dir", filepath.Join(t.TempDir(), id),
			"--transition", "20ms", "--log-level", "info", "--isolation", "off", "--runtime-fallback",
			"--store", pg, "--blobs", "s3://code/cluster", "--s3-endpoint", moto, "--aws-endpoint-url", moto,
			"--node-id", id, "--lease-time", "2s", "--event-throttle-base", "100ms", "--event-retry-base", "100ms"}
		p := testkit.StartProcess(t, bin, "", nil, args...)
		nodes[i] = &clusterNode{id: id, args: args, p: p, cl: newLambdaClient(p.Addr)}
	}

	name := "clustered"
	if _, err := nodes[0].cl.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String(name), Runtime: types.RuntimePython312, Role: aws.String(testkit.Role),
		Handler: aws.String("handler.handler"), Code: &types.FunctionCode{ZipFile: testkit.HandlerZip(t, clusterHandler)},
		Environment: &types.Environment{Variables: map[string]string{"OUT": out}}, Timeout: aws.Int32(30),
	}); err != nil {
		t.Fatal(err)
	}
	// Read back on another node.
	testkit.Eventually(t, 20*time.Second, "the function never became Active on node1", func() bool {
		got, err := nodes[1].cl.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(name)})
		return err == nil && got.Configuration.State == types.StateActive
	})

	// Two nodes change the function with the same RevisionId at once.
	for round := range 5 {
		cur, err := nodes[2].cl.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = nodes[i].cl.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{
					FunctionName: aws.String(name), RevisionId: cur.RevisionId, Description: aws.String(fmt.Sprintf("round %d by node%d", round, i))})
			}()
		}
		wg.Wait()
		var pre *types.PreconditionFailedException
		var conflict *types.ResourceConflictException
		won, lost := 0, 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case errors.As(err, &pre), errors.As(err, &conflict):
				// 412 for the stale RevisionId; 409 when the winner's
				// update is still in progress.
				lost++
			default:
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if won != 1 || lost != 1 {
			t.Fatalf("round %d: %d won and %d lost, want exactly one of each (%v)", round, won, lost, errs)
		}
		testkit.Eventually(t, 20*time.Second, "the update never finished", func() bool {
			got, err := nodes[2].cl.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(name)})
			return err == nil && got.LastUpdateStatus == types.LastUpdateStatusSuccessful
		})
	}

	// Event invokes queued through every node while none can run.
	if _, err := nodes[2].cl.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{
		FunctionName: aws.String(name), ReservedConcurrentExecutions: aws.Int32(0)}); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for i := range 30 {
		ev := fmt.Sprintf("e%02d", i)
		want[ev] = true
		res, err := nodes[i%3].cl.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(name),
			InvocationType: types.InvocationTypeEvent, Payload: []byte(`{"name":"` + ev + `"}`)})
		if err != nil || res.StatusCode != 202 {
			t.Fatalf("Event invoke %s: %v", ev, err)
		}
	}
	esm, err := nodes[0].cl.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{
		FunctionName: aws.String(name), EventSourceArn: aws.String(qa.Attributes["QueueArn"]), BatchSize: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	// The node that polls the queue is the one killed.
	var holder string
	testkit.Eventually(t, 20*time.Second, "no node took the mapping's lease", func() bool {
		holder = pollLeaseOwner(t, pg, aws.ToString(esm.UUID))
		return holder != ""
	})
	time.Sleep(time.Second) // the queue claims and throttles the events meanwhile
	if ran := testkit.Markers(t, out, ""); len(ran) != 0 {
		t.Fatalf("events ran while throttled to 0: %v", ran)
	}
	var killed *clusterNode
	var live []*clusterNode
	for _, n := range nodes {
		if n.id == holder {
			killed = n
		} else {
			live = append(live, n)
		}
	}
	if killed == nil {
		t.Fatalf("the mapping's lease names %q, no node of the cluster", holder)
	}
	killed.p.Kill(syscall.SIGKILL)
	killedAt := time.Now()

	if _, err := live[0].cl.DeleteFunctionConcurrency(ctx, &lambda.DeleteFunctionConcurrencyInput{FunctionName: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		m := fmt.Sprintf("m%02d", i)
		want[m] = true
		if _, err := sq.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: aws.String(m)}); err != nil {
			t.Fatal(err)
		}
	}
	ran := func(prefix string) int {
		got := map[string]bool{}
		for _, f := range testkit.Markers(t, out, prefix) {
			got[strings.SplitN(f, "-", 2)[0]] = true
		}
		return len(got)
	}
	var after string
	testkit.Eventually(t, 60*time.Second, "the mapping's lease never moved to a live node", func() bool {
		after = pollLeaseOwner(t, pg, aws.ToString(esm.UUID))
		return after != "" && after != killed.id
	})
	moved := time.Since(killedAt)
	testkit.Eventually(t, 60*time.Second, "not every queued event ran after the kill", func() bool { return ran("e") == 30 })
	events := time.Since(killedAt)
	// A receive the dead node had waiting at SQS may hold a message for its
	// visibility timeout (5 s), as on AWS.
	testkit.Eventually(t, 60*time.Second, "not every message ran after the kill", func() bool { return ran("m") == 10 })
	messages := time.Since(killedAt)
	time.Sleep(3 * time.Second) // a duplicate would land meanwhile
	runs := map[string]int{}
	for _, f := range testkit.Markers(t, out, "") {
		runs[strings.SplitN(f, "-", 2)[0]]++
	}
	for k := range want {
		if runs[k] != 1 {
			t.Errorf("%s ran %d times, want exactly once", k, runs[k])
		}
	}
	for k := range runs {
		if !want[k] {
			t.Errorf("unexpected run %s", k)
		}
	}
	// Restarted at once with its id after a kill -9, a node waits for its
	// last run's registration to lapse, then joins again and serves.
	back := testkit.StartProcess(t, bin, "", nil, killed.args...)
	back.Kill(syscall.SIGKILL)
	restarted := time.Now()
	back = testkit.StartProcess(t, bin, "", nil, killed.args...)
	if !strings.Contains(back.Log(), "waiting for it to lapse") {
		t.Errorf("the node restarted at once did not wait for its last registration (in %v):\n%s", time.Since(restarted), back.Log())
	}
	testkit.Eventually(t, 30*time.Second, "the restarted node never rejoined with its peers", func() bool {
		var h struct {
			Node  struct{ ID string }
			Peers []struct{ ID string }
		}
		resp, err := http.Get(back.Addr + "/_lambdad/health")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		return json.NewDecoder(resp.Body).Decode(&h) == nil && h.Node.ID == killed.id && len(h.Peers) == 2
	})
	if _, err := newLambdaClient(back.Addr).GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(name)}); err != nil {
		t.Fatalf("GetFunction on the restarted node: %v", err)
	}
	t.Logf("killed %s (lease time 2 s): its mapping's lease moved to %s after %v; every queued event had run after %v, every message after %v; each exactly once",
		killed.id, after, moved.Round(100*time.Millisecond), events.Round(100*time.Millisecond), messages.Round(100*time.Millisecond))
}

// clusterBacking starts what a cluster of lambdad processes shares: a
// PostgreSQL database and a moto_server with an S3 bucket for code.
func clusterBacking(t *testing.T, bucket string) (pg, moto string) {
	t.Helper()
	pg, moto = testkit.Postgres(t), testkit.Moto(t)
	s3c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(moto), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")})
	if _, err := s3c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	return pg, moto
}

// pollLeaseOwner reads which node holds the lease on mapping uuid's poller,
// straight from the database ("" when none holds it).
func pollLeaseOwner(t *testing.T, pg, uuid string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, pg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, `SELECT key, val FROM lambdad_kv WHERE bucket = 'eventsourcemappingleases'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var k, v []byte
		if err := rows.Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
		var l struct {
			Owner string    `json:"owner"`
			Until time.Time `json:"until"`
		}
		if strings.Contains(string(k), uuid) && json.Unmarshal(v, &l) == nil && time.Now().Before(l.Until) {
			return l.Owner
		}
	}
	return ""
}
