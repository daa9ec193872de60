package invoke

import (
	"time"
)

// On a shared store a durable execution's invocations are leased to the
// node that drives them (internal/durable lease.go): drive renews the
// lease while it runs, and every node looks for executions whose lease ran
// out (their node died) and takes them over, one node winning each.

// leased says this node leases invocations: another may share its store.
func (r *durableRunner) leased() bool { return !r.s.cfg.ExclusiveStore }

// enter notes that this node drives execution arn (until leave), starts
// renewing its lease, and answers the function that stops that.
func (r *durableRunner) enter(arn string) (leave func()) {
	r.mu.Lock()
	if r.driving == nil {
		r.driving = map[string]int{}
	}
	r.driving[arn]++
	r.mu.Unlock()
	stop := make(chan struct{})
	if r.leased() {
		go r.heartbeat(arn, stop)
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
func (r *durableRunner) heartbeat(arn string, stop <-chan struct{}) {
	t := time.NewTicker(max(r.s.cfg.LeaseTime/3, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-stop:
			return
		case <-t.C:
			held, err := r.d.RenewLease(r.ctx, arn)
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
	}
}
