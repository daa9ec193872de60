package esm_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/lambdad/lambdad/internal/api/apitest"
	"github.com/lambdad/lambdad/internal/awsconn"
	"github.com/lambdad/lambdad/internal/caller"
	"github.com/lambdad/lambdad/internal/esm"
	"github.com/lambdad/lambdad/internal/invoke"
	"github.com/lambdad/lambdad/internal/sandbox"
	"github.com/lambdad/lambdad/internal/spec"
	"github.com/lambdad/lambdad/internal/store"
	"github.com/lambdad/lambdad/internal/testkit"
)

// recorder appends each record's body to OUT, one line per record.
const recorder = `import os
def handler(event, context):
    with open(os.environ["OUT"], "a") as f:
        for r in event["Records"]:
            f.write(r["body"] + "\n")
    return {}
`

// TestPollerLeaseTwoNodes: two nodes share one store and one SQS mapping.
// Only the node holding the mapping's lease polls it; when that node
// crashes (no clean stop, so its lease stays until it runs out), the other
// takes the lease over and polls, and every message is handled once.
func TestPollerLeaseTwoNodes(t *testing.T) {
	const lease = 600 * time.Millisecond
	endpoint := testkit.Moto(t)
	ctx := context.Background()
	out := filepath.Join(t.TempDir(), "bodies")
	env := apitest.New(t, apitest.Options{NodeID: "a", Shared: true})
	fn := apitest.PythonFunction(t, "recorder", recorder)
	fn.Environment = &lambdatypes.Environment{Variables: map[string]string{"OUT": out}}
	env.Create(t, fn)

	conn, err := awsconn.New(ctx, awsconn.Config{Endpoint: endpoint})
	if err != nil {
		t.Fatal(err)
	}
	sq := conn.SQS(apitest.Region)
	// A receive the crashed node had in flight hides what it got from the
	// survivor for the visibility timeout, as on AWS: a short one, but
	// longer than a cold start on a loaded machine, or a message handled
	// but not yet deleted would come back.
	q, err := sq.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("leased"), Attributes: map[string]string{"VisibilityTimeout": "10"}})
	if err != nil {
		t.Fatal(err)
	}
	attrs, err := sq.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}

	// Node b: a data plane of its own (its invocations count apart) over
	// the same store.
	sb, err := sandbox.NewManager(sandbox.Config{WorkDir: filepath.Join(t.TempDir(), "sandbox"), IdleTimeout: time.Minute, Isolation: "off"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close(context.Background()) })
	invB, err := invoke.New(ctx, invoke.Config{Functions: env.OwnFunctions(), Blobs: env.Blobs, Sandbox: sb, Runtimes: env.Runtimes, Store: env.Store, NodeID: "b"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(invB.Close)

	mk := func(id string, inv esm.Invoker) *esm.Service {
		return esm.New(esm.Config{Store: env.Store, Functions: env.Functions, Invoker: inv, AWS: conn,
			Transition: 10 * time.Millisecond, NodeID: id, LeaseTime: lease})
	}
	a, b := mk("a", env.Invoke), mk("b", invB)
	ctxA, crashA := context.WithCancel(ctx)
	defer crashA()
	ctxB, stopB := context.WithCancel(ctx)
	a.Start(ctxA)
	b.Start(ctxB)
	t.Cleanup(func() { crashA(); stopB(); a.Wait(); b.Wait() })

	id := caller.Identity{Account: apitest.Account, Region: apitest.Region}
	if _, err := b.Create(ctx, id, &spec.CreateEventSourceMappingRequest{EventSourceArn: aws.String(attrs.Attributes["QueueArn"]),
		FunctionName: aws.String("recorder"), BatchSize: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	send := func(from, to int) {
		for i := from; i < to; i++ {
			if _, err := sq.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: aws.String(fmt.Sprintf("m%03d", i))}); err != nil {
				t.Fatal(err)
			}
		}
	}
	handled := func() map[string]int {
		raw, _ := os.ReadFile(out)
		n := map[string]int{}
		for _, l := range strings.Fields(string(raw)) {
			n[l]++
		}
		return n
	}
	// Created through b, the mapping is most likely b's, but a's lease
	// round may come first: whichever polls, the other must stay idle.
	send(0, 10)
	testkit.Eventually(t, 30*time.Second, "the first 10 messages were not handled", func() bool { return len(handled()) == 10 })
	// and deleted: a crash between a batch's run and its deletion would
	// rightly run it again (at least once).
	testkit.Eventually(t, 30*time.Second, "the first 10 messages were not deleted", func() bool {
		at, err := sq.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{
			sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
		return err == nil && at.Attributes["ApproximateNumberOfMessages"] == "0" && at.Attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
	})
	ranA, ranB := env.Invoke.Counts().Invocations.Load(), invB.Counts().Invocations.Load()
	if (ranA == 0) == (ranB == 0) {
		t.Fatalf("invocations: node a %d, node b %d; want one node polling", ranA, ranB)
	}
	// Crash the polling node (end its context, without Wait, which would
	// give its lease up).
	survivor, survivorID := env.Invoke, "a"
	if ranA > 0 {
		crashA()
		survivor, survivorID = invB, "b"
	} else {
		stopB()
	}
	crashed := time.Now()
	testkit.Eventually(t, 10*time.Second, "the survivor never took the lease", func() bool {
		var l struct{ Owner string }
		env.Store.View(ctx, func(tx store.Tx) error {
			return tx.Scan("eventsourcemappingleases", "", "", func(_ string, raw []byte) bool {
				json.Unmarshal(raw, &l)
				return false
			})
		})
		return l.Owner == survivorID
	})
	leased := time.Since(crashed)
	time.Sleep(100 * time.Millisecond) // the dead node's pollers see it end
	before := survivor.Counts().Invocations.Load()
	send(10, 20)
	testkit.Eventually(t, 30*time.Second, "the survivor did not take the mapping over", func() bool { return len(handled()) == 20 })
	took := time.Since(crashed)
	// An invocation is counted when it ends, after its record is written:
	// count once a duplicate would show anyway.
	time.Sleep(2 * lease)
	if n := survivor.Counts().Invocations.Load() - before; n < 10 {
		t.Errorf("the survivor ran %d invocations for 10 messages", n)
	}
	for body, n := range handled() {
		if n != 1 {
			t.Errorf("%s handled %d times", body, n)
		}
	}
	// A receive the dead node had in flight may hide a message for the
	// visibility timeout (10 s).
	t.Logf("lease taken over %s after the crash, 10 messages handled after %s (lease %s)", leased.Round(time.Millisecond), took.Round(time.Millisecond), lease)
	if leased > lease+lease/3+time.Second {
		t.Errorf("the lease moved %s after the crash, lease time %s", leased, lease)
	}
}
