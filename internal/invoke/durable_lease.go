package invoke

import (
	"strings"
	"time"

	"github.com/lambdad/lambdad/internal/durable"
)

// On a shared store a durable execution's invocations are leased to the
// node that drives them (internal/durable lease.go): drive renews the
// lease while it runs, and every node looks for executions whose lease ran
// out (their node died) and takes them over, one node winning each.

// leased says this node leases invocations: another may share its store.
func (r *durableRunner) leased() bool { return !r.s.cfg.ExclusiveStore }

// enter notes that this node drives execution arn (until leave), starts
// renewing its lease, and answers the function that stops that; for the
// target of a chained invoke, arn is "<execution arn>#<operation id>".
func (r *durableRunner) enter(arn string) (leave func()) {
	r.mu.Lock()
	if r.driving == nil {
		r.driving = map[string]int{}
	}
	r.driving[arn]++
	r.mu.Unlock()
	stop := make(chan struct{})
	if r.leased() {
		if exec, op, ok := strings.Cut(arn, "#"); ok {
			go r.heartbeat(arn, stop, func() (bool, error) { return r.d.RenewChained(r.ctx, exec, op) })
		} else {
			go r.heartbeat(arn, stop, func() (bool, error) { return r.d.RenewLease(r.ctx, arn) })
		}
	}
	return func() {
		close(stop)
		r.mu.Lock()
		if r.driving[arn]--; r.driving[arn] <= 0 {
			delete(r.driving, arn)
		}
		r.mu.Unlock()
	}
}

// drives says this node drives execution arn now.
func (r *durableRunner) drives(arn string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.driving[arn] > 0
}

// heartbeat renews this node's lease on execution arn every third of the
// lease time until stop is closed or the lease is lost (then the token of
// a newer invocation, another node's, refuses this one's checkpoints).
func (r *durableRunner) heartbeat(arn string, stop <-chan struct{}, renew func() (bool, error)) {
	t := time.NewTicker(max(r.s.cfg.LeaseTime/3, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-stop:
			return
		case <-t.C:
			held, err := renew()
			switch {
			case err != nil:
				if r.ctx.Err() == nil {
					r.s.cfg.Logger.Warn("durable: cannot renew an invocation's lease", "execution", arn, "err", err)
				}
			case !held:
				return
			}
		}
	}
}

// takeOver begins, every half lease time, the executions whose lease ran
// out, until lambdad stops.
func (r *durableRunner) takeOver() {
	t := time.NewTicker(max(r.s.cfg.LeaseTime/2, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-t.C:
		}
		arns, err := r.d.Orphans(r.ctx)
		if err != nil {
			if r.ctx.Err() == nil {
				r.s.cfg.Logger.Error("durable: listing executions whose lease ran out", "err", err)
			}
			continue
		}
		for _, arn := range arns {
			if r.drives(arn) {
				continue // this node's own, between its renewals
			}
			r.s.cfg.Logger.Info("durable: invocation lease expired: taking the execution over", "execution", arn, "node", r.s.cfg.NodeID)
			go r.begin(arn)
		}
		chained, err := r.d.ChainedOrphans(r.ctx)
		if err != nil {
			if r.ctx.Err() == nil {
				r.s.cfg.Logger.Error("durable: listing chained invokes whose lease ran out", "err", err)
			}
			continue
		}
		for _, c := range chained {
			if !r.drives(c.ARN + "#" + c.Operation.ID) {
				r.s.cfg.Logger.Info("durable: chained invoke lease expired: running its target again", "execution", c.ARN, "operation", c.Operation.ID, "node", r.s.cfg.NodeID)
				go r.chainClaimed(c)
			}
		}
	}
}

// chainClaimed runs the target of chained invoke c again (its run was lost
// with the node that ran it) if this node wins its lease.
func (r *durableRunner) chainClaimed(c durable.ChainedRun) {
	if c.Operation.Chained == nil {
		return
	}
	ok, err := r.d.ClaimChained(r.ctx, c.ARN, c.Operation.ID)
	if err != nil || !ok {
		if err != nil && r.ctx.Err() == nil {
			r.s.cfg.Logger.Error("durable: claiming a chained invoke", "execution", c.ARN, "operation", c.Operation.ID, "err", err)
		}
		return
	}
	r.chain(c.ARN, c.Operation.ID, *c.Operation.Chained)
}
