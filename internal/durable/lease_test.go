package durable

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/spec"
	"github.com/lambdad/lambdad/internal/store"
	"github.com/lambdad/lambdad/internal/testkit"
)

// nodes are durable services of several nodes over one store, on one
// clock, leasing invocations for lease.
func nodes(t *testing.T, st store.Store, lease time.Duration, ids ...string) (*env, map[string]*Service) {
	e := newEnv(t, st)
	out := map[string]*Service{}
	for _, id := range ids {
		out[id] = New(Config{Store: st, Now: func() time.Time { return e.now }, NodeID: id, LeaseTime: lease})
	}
	e.s = out[ids[0]]
	return e, out
}

func leaseOf(t *testing.T, s *Service, arn string) (string, time.Time) {
	t.Helper()
	ex, err := s.Get(ctx, arn)
	if err != nil {
		t.Fatal(err)
	}
	if ex.LeaseUntil == 0 {
		return ex.LeaseOwner, time.Time{}
	}
	return ex.LeaseOwner, time.Unix(0, ex.LeaseUntil).UTC()
}

func contains(arns []string, arn string) bool {
	for _, a := range arns {
		if a == arn {
			return true
		}
	}
	return false
}

// TestInvocationLease: an invocation is leased to the node that began it;
// another node neither resumes nor begins it while the lease lives; once
// it runs out (the node died) another takes it over, and the dead node's
// renewals and outcome then count for nothing. An execution that waits
// holds no lease, and the node whose timer woke it holds the next.
func TestInvocationLease(t *testing.T) {
	stores(t, func(t *testing.T, st store.Store) {
		const lease = 10 * time.Second
		e, n := nodes(t, st, lease, "a", "b")
		a, b := n["a"], n["b"]
		r := e.run("x")
		if o, until := leaseOf(t, a, r.arn); o != "a" || !until.Equal(e.now.Add(lease)) {
			t.Fatalf("started: lease %q until %v", o, until)
		}
		// b starting now resumes nothing of a's, and cannot begin it.
		if p, err := b.Pending(ctx); err != nil || contains(p, r.arn) {
			t.Fatalf("b.Pending = %v, %v: lists a's live invocation", p, err)
		}
		if _, err := b.BeginInvocation(ctx, r.arn); !fault.Is(err, fault.Conflict) {
			t.Fatalf("b began a's live invocation: %v", err)
		}
		if p, _ := a.Pending(ctx); !contains(p, r.arn) {
			t.Fatal("a restarted under its id must resume its own invocation")
		}
		// a renews; b finds no orphan before the renewed lease runs out.
		e.now = e.now.Add(lease * 2 / 3)
		if held, err := a.RenewLease(ctx, r.arn); !held || err != nil {
			t.Fatalf("a.RenewLease = %v, %v", held, err)
		}
		e.now = e.now.Add(lease * 2 / 3)
		if o, _ := b.Orphans(ctx); contains(o, r.arn) {
			t.Fatal("an orphan while a renews")
		}
		if held, _ := b.RenewLease(ctx, r.arn); held {
			t.Fatal("b renewed a's lease")
		}
		// a dies: its lease runs out and b takes the invocation over.
		e.now = e.now.Add(lease)
		if o, err := b.Orphans(ctx); err != nil || !contains(o, r.arn) {
			t.Fatalf("b.Orphans = %v, %v after a's lease ran out", o, err)
		}
		in, err := b.BeginInvocation(ctx, r.arn)
		if err != nil {
			t.Fatal(err)
		}
		if o, _ := leaseOf(t, b, r.arn); o != "b" {
			t.Fatalf("taken over: lease %q", o)
		}
		if held, _ := a.RenewLease(ctx, r.arn); held {
			t.Fatal("the dead node renewed a lease it lost")
		}
		if f, err := a.Finish(ctx, r.arn, Outcome{Invocation: r.inv, Output: []byte(`{"Status":"SUCCEEDED","Result":"old"}`)}); err != nil || f.Execution.Closed() {
			t.Fatalf("the dead node's outcome applied: %v", err)
		}
		if _, err := a.BeginInvocation(ctx, r.arn); !fault.Is(err, fault.Conflict) {
			t.Fatalf("a began b's invocation: %v", err)
		}
		r.tok, r.inv = in.CheckpointToken, in.Invocation()
		e.s = b
		r.mustCP(waitFor("w", 5))
		r.finish(`{"Status":"PENDING"}`)
		if o, until := leaseOf(t, b, r.arn); o != "" || !until.IsZero() {
			t.Fatalf("waiting: lease %q until %v", o, until)
		}
		if o, _ := a.Orphans(ctx); contains(o, r.arn) {
			t.Fatal("a waiting execution is no orphan")
		}
		// a's scheduler fires the wait: a holds the next invocation.
		e.now = e.now.Add(6 * time.Second)
		woke, err := a.Fire(ctx, e.now)
		if err != nil || !contains(woke, r.arn) {
			t.Fatalf("Fire = %v, %v", woke, err)
		}
		if o, _ := leaseOf(t, a, r.arn); o != "a" {
			t.Fatalf("woken by a: lease %q", o)
		}
		if _, err := b.BeginInvocation(ctx, r.arn); !fault.Is(err, fault.Conflict) {
			t.Fatalf("b began a's woken invocation: %v", err)
		}
		r.inv = 0
		in, err = a.BeginInvocation(ctx, r.arn)
		if err != nil {
			t.Fatal(err)
		}
		r.tok, r.inv, e.s = in.CheckpointToken, in.Invocation(), a
		r.finish(`{"Status":"SUCCEEDED","Result":"done"}`)
		ex := r.exec()
		if ex.Status != Succeeded || *ex.Result != "done" || ex.LeaseOwner != "" {
			t.Fatalf("ended: %s %v lease %q", ex.Status, ex.Result, ex.LeaseOwner)
		}
	})
}

// TestInvocationLeaseOneTaker: nodes that find the same orphan at once
// begin it once between them (PostgreSQL: serializable transactions).
func TestInvocationLeaseOneTaker(t *testing.T) {
	st, err := store.OpenPostgres(context.Background(), testkit.Postgres(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	const lease = time.Second
	ids := []string{"dead", "b", "c", "d"}
	e, n := nodes(t, st, lease, ids...)
	r := e.run("x")
	e.now = e.now.Add(2 * lease)
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := map[string]uint32{}
	for _, id := range ids[1:] {
		wg.Go(func() {
			in, err := n[id].BeginInvocation(ctx, r.arn)
			if err != nil {
				if !fault.Is(err, fault.Conflict) {
					t.Error(err)
				}
				return
			}
			mu.Lock()
			won[id] = in.Invocation()
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(won) != 1 {
		t.Fatalf("takers: %v, want exactly one", won)
	}
	for id, inv := range won {
		if o, _ := leaseOf(t, n[id], r.arn); o != id || inv != r.inv+1 {
			t.Fatalf("lease %q, invocation %d; want %s's, %d", o, inv, id, r.inv+1)
		}
	}
}

// TestNoLeaseWithoutSharing: a node with a store of its own leases
// nothing, as before leases.
func TestNoLeaseWithoutSharing(t *testing.T) {
	e := newEnv(t, testStore(t))
	r := e.run("x")
	if ex := r.exec(); ex.LeaseOwner != "" || ex.LeaseUntil != 0 {
		t.Fatalf("lease %q %d", ex.LeaseOwner, ex.LeaseUntil)
	}
	if o, _ := e.s.Orphans(ctx); len(o) != 0 {
		t.Fatalf("orphans %v", o)
	}
	if p, _ := e.s.Pending(ctx); !contains(p, r.arn) {
		t.Fatal("Pending must list the running invocation")
	}
}

// TestRunFiresOtherNodesTimers: on a shared store a node's scheduler is
// not told of the timers another node sets (that node may die before it
// fires them): it looks again every half lease time, and fires them.
func TestRunFiresOtherNodesTimers(t *testing.T) {
	st := store.NewMemory()
	const lease = 400 * time.Millisecond
	a := New(Config{Store: st, NodeID: "a", LeaseTime: lease})
	b := New(Config{Store: st, NodeID: "b", LeaseTime: lease})
	c, cancel := context.WithCancel(context.Background())
	defer cancel()
	woke := make(chan string, 4)
	go func() { _ = b.Run(c, func(arn string) { woke <- arn }) }()
	time.Sleep(50 * time.Millisecond) // b's scheduler sleeps with nothing due
	s, err := a.Start(c, StartInput{FunctionARN: fnARN, Version: "1", Payload: "{}"})
	if err != nil {
		t.Fatal(err)
	}
	arn := s.Execution.ARN
	if _, err := a.Checkpoint(c, arn, s.Input.CheckpointToken, "", []spec.OperationUpdate{waitFor("w", 1)}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Finish(c, arn, Outcome{Invocation: s.Input.Invocation(), Output: []byte(`{"Status":"PENDING"}`)}); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-woke:
		if got != arn {
			t.Fatalf("woke %s", got)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("b never fired a's timer")
	}
	if o, _ := leaseOf(t, b, arn); o != "b" {
		t.Fatalf("woken by b: lease %q", o)
	}
}

// TestChainedInvokeLease: the target of a chained invoke is leased to the
// node that took the checkpoint starting it; another node starting does
// not run it again while that node renews; once its lease ran out, one
// other node claims it, and the dead node's lease is lost.
func TestChainedInvokeLease(t *testing.T) {
	stores(t, func(t *testing.T, st store.Store) {
		const lease = 10 * time.Second
		e, n := nodes(t, st, lease, "a", "b", "c")
		a, b, c := n["a"], n["b"], n["c"]
		r := e.run("x")
		r.mustCP(with(up("k", TypeChainedInvoke, ActionStart), func(u *spec.OperationUpdate) {
			u.ChainedInvokeOptions = &spec.ChainedInvokeOptions{FunctionName: ptr("g:1")}
		}))
		listed := func(s *Service, orphans bool) bool {
			t.Helper()
			list, err := s.ChainedStarted(ctx)
			if orphans {
				list, err = s.ChainedOrphans(ctx)
			}
			if err != nil {
				t.Fatal(err)
			}
			return len(list) == 1 && list[0].ARN == r.arn && list[0].Operation.ID == "k"
		}
		if !listed(a, false) || listed(b, false) || listed(b, true) {
			t.Fatal("a live node's chained invoke listed for another node")
		}
		if ok, err := b.ClaimChained(ctx, r.arn, "k"); ok || err != nil {
			t.Fatalf("b claimed a's live chained invoke: %v", err)
		}
		e.now = e.now.Add(lease * 2 / 3)
		if held, err := a.RenewChained(ctx, r.arn, "k"); !held || err != nil {
			t.Fatalf("a.RenewChained = %v, %v", held, err)
		}
		e.now = e.now.Add(lease * 2 / 3)
		if listed(b, true) {
			t.Fatal("an orphan while a renews")
		}
		e.now = e.now.Add(lease)
		if !listed(b, true) || !listed(c, false) {
			t.Fatal("a's chained invoke not listed after its lease ran out")
		}
		if ok, err := b.ClaimChained(ctx, r.arn, "k"); !ok || err != nil {
			t.Fatalf("b.ClaimChained = %v, %v", ok, err)
		}
		if ok, _ := c.ClaimChained(ctx, r.arn, "k"); ok {
			t.Fatal("c claimed b's chained invoke too")
		}
		if held, _ := a.RenewChained(ctx, r.arn, "k"); held {
			t.Fatal("the dead node renewed a lease it lost")
		}
		if _, err := b.ChainedInvokeDone(ctx, r.arn, "k", OpSucceeded, ptr("1"), nil); err != nil {
			t.Fatal(err)
		}
		if ok, _ := b.ClaimChained(ctx, r.arn, "k"); ok || listed(c, true) || listed(c, false) {
			t.Fatal("an ended chained invoke is claimable")
		}
	})
}
