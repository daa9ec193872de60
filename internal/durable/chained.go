package durable

import (
	"context"

	"github.com/lambdad/lambdad/internal/store"
)

// ChainedRun is a CHAINED_INVOKE operation whose target has not ended.
type ChainedRun struct {
	ARN       string
	Operation Operation
}

// ChainedStarted lists the CHAINED_INVOKE operations of running executions
// still STARTED: at start, their targets' runs were lost with the lambdad
// that ran them, so the invoker runs them again (at least once, as every
// invocation after a crash).
//
// On a shared store it lists only those no other live node runs (see
// ChainedOrphans for the ones whose node died later); the invoker claims
// each (ClaimChained) before it runs it.
func (s *Service) ChainedStarted(ctx context.Context) ([]ChainedRun, error) {
	return s.chainedRuns(ctx, true)
}

// ChainedOrphans lists, on a shared store, the CHAINED_INVOKE operations
// still STARTED whose lease ran out: their node died while it ran the
// target.
func (s *Service) ChainedOrphans(ctx context.Context) ([]ChainedRun, error) {
	if s.cfg.LeaseTime <= 0 {
		return nil, nil
	}
	return s.chainedRuns(ctx, false)
}

// chainedLeasedElsewhere says c's target is run by a live node: another
// one, or (own false) this one.
func (s *Service) chainedLeasedElsewhere(c *ChainedState, now int64, own bool) bool {
	if s.cfg.LeaseTime <= 0 || c.LeaseOwner == "" || c.LeaseUntil <= now {
		return false
	}
	return c.LeaseOwner != s.cfg.NodeID || !own
}

func (s *Service) chainedRuns(ctx context.Context, own bool) ([]ChainedRun, error) {
	var out []ChainedRun
	now := s.now().UnixNano()
	err := s.cfg.Store.View(ctx, func(tx store.Tx) error {
		out = nil
		return eachRunning(tx, runHadChained, func(ex *Execution) error {
			var bad error
			err := tx.Scan(bOp, ex.ID+"/", "", func(_ string, raw []byte) bool {
				op, err := decodeOp(raw)
				if err != nil {
					bad = err
					return false
				}
				if op.Type == TypeChainedInvoke && op.Status == OpStarted && op.Chained != nil && !s.chainedLeasedElsewhere(op.Chained, now, own) {
					out = append(out, ChainedRun{ARN: ex.ARN, Operation: *op})
				}
				return true
			})
			if err == nil {
				err = bad
			}
			return err
		})
	})
	return out, err
}

// ClaimChained leases the CHAINED_INVOKE operation opID of execution arn
// to this node, to run its target again, unless another live node runs it
// or it has ended; ok says whether it is this node's now. Without leases
// it always is.
func (s *Service) ClaimChained(ctx context.Context, arn, opID string) (ok bool, err error) {
	return s.chainedLease(ctx, arn, opID, true)
}

// RenewChained extends this node's lease on the CHAINED_INVOKE operation
// opID of execution arn; held is false once it is not this node's.
func (s *Service) RenewChained(ctx context.Context, arn, opID string) (held bool, err error) {
	return s.chainedLease(ctx, arn, opID, false)
}

func (s *Service) chainedLease(ctx context.Context, arn, opID string, claim bool) (ok bool, err error) {
	if s.cfg.LeaseTime <= 0 {
		return true, nil
	}
	err = s.update(ctx, arn, func(t *txn) error {
		ok = false
		op, err := t.op(opID)
		if err != nil || op == nil || op.Chained == nil || op.Status != OpStarted || t.ex.Closed() {
			return err
		}
		c := op.Chained
		mine := c.LeaseOwner == s.cfg.NodeID
		if claim && !mine && s.chainedLeasedElsewhere(c, t.now.UnixNano(), true) || !claim && !mine {
			return nil
		}
		ok = true
		c.LeaseOwner, c.LeaseUntil = s.cfg.NodeID, t.now.Add(s.cfg.LeaseTime).UnixNano()
		return t.put(op)
	})
	return ok, err
}
