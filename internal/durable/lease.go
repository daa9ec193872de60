package durable

import (
	"context"
	"time"

	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/store"
)

// Invocations are leased when nodes share the store (Config.LeaseTime > 0),
// as Event invokes are: the execution record names the node that runs (or
// is about to run) its invocation and until when (LeaseOwner, LeaseUntil),
// written in the transaction that begins the invocation or wakes the
// execution. The node renews the lease while it drives the execution
// (RenewLease); BeginInvocation refuses an execution another node holds
// live; Orphans lists the executions whose lease ran out (their node died)
// for another node to take over, and the transactions of PostgreSQL's
// store (SERIALIZABLE) let one taker win. Waiting executions (no
// invocation needed) hold no lease and cost nothing.
//
// With a store of its own (LeaseTime 0) a node needs none: a crash ends
// every invocation with it, and Pending lists them at its next start.

// msgLeased is the refusal of an invocation another node runs.
const msgLeased = "Durable execution %s is being invoked by node %s."

// lease is the node's identity in leases; time 0 means none are taken.
type lease struct {
	node string
	time time.Duration
}

// newTxn is newTxn with the service's leases.
func (s *Service) newTxn(tx store.Tx, ex *Execution, now time.Time) *txn {
	t := newTxn(tx, ex, now)
	t.lease = lease{node: s.cfg.NodeID, time: s.cfg.LeaseTime}
	return t
}

// leasedElsewhere says another node than node holds ex's lease live at now.
func (ex *Execution) leasedElsewhere(node string, now time.Time) bool {
	return ex.LeaseOwner != "" && ex.LeaseOwner != node && ex.LeaseUntil > now.UnixNano()
}

// needsInvocation says an invocation runs or is owed.
func (ex *Execution) needsInvocation() bool {
	return !ex.Closed() && (ex.NeedsInvoke || !ex.InvocationStarted.IsZero())
}

// take leases the execution to this transaction's node.
func (t *txn) take() {
	if t.lease.time > 0 {
		t.ex.LeaseOwner, t.ex.LeaseUntil = t.lease.node, t.now.Add(t.lease.time).UnixNano()
	}
}

// settleLease, before each save: an execution that needs no invocation
// holds no lease; one woken in this transaction (it needs an invocation,
// none runs, nobody holds it) is this node's, whose caller invokes it
// next. A running invocation's lease whose node died is left for Orphans.
func (t *txn) settleLease() {
	if t.lease.time <= 0 {
		return
	}
	ex := t.ex
	switch {
	case !ex.needsInvocation():
		ex.LeaseOwner, ex.LeaseUntil = "", 0
	case ex.Paused != nil:
		// Resume wakes it (and takes it then).
	case ex.InvocationStarted.IsZero() && (ex.LeaseOwner == "" || ex.LeaseUntil <= t.now.UnixNano()):
		t.take()
	}
}

// RenewLease extends this node's lease on the execution arn names by the
// lease time; held is false when the lease is no longer this node's (or
// the execution needs no invocation any more): its invocation, if one
// still runs here, will be refused by its token once another begins.
func (s *Service) RenewLease(ctx context.Context, arn string) (held bool, err error) {
	if s.cfg.LeaseTime <= 0 {
		return true, nil
	}
	err = s.batch(ctx, func(tx store.Tx) error {
		held = false
		ex, err := loadARN(tx, arn)
		if err != nil {
			return err
		}
		if ex.LeaseOwner != s.cfg.NodeID || !ex.needsInvocation() {
			return nil
		}
		held = true
		t := s.newTxn(tx, ex, s.now())
		t.take()
		return t.save()
	})
	if fault.Is(err, fault.NotFound) {
		return false, nil
	}
	return held, err
}

// Orphans lists the executions that need an invocation and whose lease
// ran out (or that have none) and are not paused: their node died, or
// stopped, while running or about to run them. Another node begins them
// (BeginInvocation checks the lease again in its transaction). Without
// leases it lists nothing.
func (s *Service) Orphans(ctx context.Context) ([]string, error) {
	if s.cfg.LeaseTime <= 0 {
		return nil, nil
	}
	var arns []string
	err := s.cfg.Store.View(ctx, func(tx store.Tx) error {
		arns = nil
		now := s.now().UnixNano()
		return eachRunning(tx, runInvoke, func(ex *Execution) error {
			if ex.needsInvocation() && ex.Paused == nil && (ex.LeaseOwner == "" || ex.LeaseUntil <= now) {
				arns = append(arns, ex.ARN)
			}
			return nil
		})
	})
	return arns, err
}
