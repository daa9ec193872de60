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
func (s *Service) ChainedStarted(ctx context.Context) ([]ChainedRun, error) {
	var out []ChainedRun
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
				if op.Type == TypeChainedInvoke && op.Status == OpStarted && op.Chained != nil {
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
