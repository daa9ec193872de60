package invoke_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/lambdad/lambdad/internal/api/apitest"
	"github.com/lambdad/lambdad/internal/awsconn"
	"github.com/lambdad/lambdad/internal/destinations"
	"github.com/lambdad/lambdad/internal/destinations/awsdest"
	"github.com/lambdad/lambdad/internal/invoke"
	"github.com/lambdad/lambdad/internal/sandbox"
	"github.com/lambdad/lambdad/internal/store"
	"github.com/lambdad/lambdad/internal/testkit"
)

// TestDeliveryLeases: nodes sharing a store send each stored delivery
// once between them. A node starting sends its own earlier run's at once,
// leaves another live node's alone, and takes a dead node's over once its
// lease ran out, one node of two winning it; what a node sends is removed.
func TestDeliveryLeases(t *testing.T) {
	const lease = 500 * time.Millisecond
	endpoint := testkit.Moto(t)
	ctx := context.Background()
	// Node a only provides the store; it crashes at once, so that it
	// sends nothing.
	ctxA, crashA := context.WithCancel(ctx)
	env := apitest.New(t, apitest.Options{Ctx: ctxA, NodeID: "a", LeaseTime: lease, Shared: true})
	crashA()
	env.Invoke.Close()

	conn, err := awsconn.New(ctx, awsconn.Config{Endpoint: endpoint})
	if err != nil {
		t.Fatal(err)
	}
	sq := conn.SQS(apitest.Region)
	q, err := sq.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("records")})
	if err != nil {
		t.Fatal(err)
	}
	attrs, err := sq.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	queueARN := attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]

	now := time.Now()
	stored := map[string]struct {
		owner string
		until time.Time
	}{
		"dead":  {"gone", now.Add(3 * lease)}, // its node died: taken over later
		"own":   {"b", now.Add(time.Hour)},    // b's earlier run: sent at b's start
		"other": {"live", now.Add(time.Hour)}, // a live node's: never sent here
		"free":  {"", time.Time{}},            // leased to nobody: sent at once
	}
	err = env.Store.Update(ctx, func(tx store.Tx) error {
		for body, l := range stored {
			raw, _ := json.Marshal(map[string]any{"id": body, "message": destinations.Message{Target: queueARN, Body: []byte(body)},
				"owner": l.owner, "leaseUntil": l.until})
			if err := tx.Put("deliveries", body, raw); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"b", "c"} {
		deliveryNode(t, env, id, lease, awsdest.New(conn))
	}

	got := map[string]int{}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) && (got["dead"] == 0 || got["own"] == 0 || got["free"] == 0 || remaining(t, env.Store) > 1) {
		out, err := sq.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			got[*m.Body]++
			if _, err := sq.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: q.QueueUrl, ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Duplicates would arrive within a few more lease times.
	time.Sleep(3 * lease)
	out, err := sq.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range out.Messages {
		got[*m.Body]++
	}
	want := map[string]int{"dead": 1, "own": 1, "free": 1}
	for _, body := range []string{"dead", "own", "free", "other"} {
		if got[body] != want[body] {
			t.Errorf("delivery %q sent %d times, want %d (all: %v)", body, got[body], want[body], got)
		}
	}
	if n := remaining(t, env.Store); n != 1 {
		t.Errorf("%d deliveries stored, want 1 (the live node's)", n)
	}
}

// deliveryNode starts a data plane over env's store that sends deliveries
// through tr.
func deliveryNode(t *testing.T, env *apitest.Env, id string, lease time.Duration, tr destinations.Transport) {
	t.Helper()
	sb, err := sandbox.NewManager(sandbox.Config{WorkDir: filepath.Join(t.TempDir(), "sandbox"), IdleTimeout: time.Minute, Isolation: "off"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close(context.Background()) })
	disp := destinations.NewDispatcher(destinations.Config{Transport: tr})
	t.Cleanup(disp.Close)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	inv, err := invoke.New(ctx, invoke.Config{Functions: env.Functions, Blobs: env.Blobs, Sandbox: sb, Runtimes: env.Runtimes, Store: env.Store,
		NodeID: id, LeaseTime: lease, Destinations: disp})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(inv.Close)
}

// remaining counts the stored deliveries.
func remaining(t *testing.T, st store.Store) int {
	n := 0
	if err := st.View(context.Background(), func(tx store.Tx) error {
		return tx.Scan("deliveries", "", "", func(string, []byte) bool { n++; return true })
	}); err != nil {
		t.Fatal(err)
	}
	return n
}
