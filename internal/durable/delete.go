package durable

import (
	"context"
	"time"

	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/store"
)

// Delete is DeleteDurableExecution: a closed execution (SUCCEEDED, FAILED,
// STOPPED, TIMED_OUT) goes now, with everything Purge would remove at the
// end of its retention; a running one is refused with ResourceConflict, as
// AWS documents. AWS shows DELETING while it deletes; lambdad deletes in
// the request's transaction, so nothing ever reads that state.
func (s *Service) Delete(ctx context.Context, arn string) (time.Time, error) {
	var at time.Time
	err := s.batch(ctx, func(tx store.Tx) error {
		ex, err := loadARN(tx, arn)
		if err != nil {
			return err
		}
		if !ex.Closed() {
			// [?] AWS's wording not found
			return fault.Conflictf("DurableExecution", "The durable execution %s is %s: only an execution in a terminal state (SUCCEEDED, FAILED, STOPPED or TIMED_OUT) can be deleted.", arn, ex.Status)
		}
		at = s.now()
		// Its retention timer; one left behind (a close at another
		// instant) finds nothing when it comes due.
		expire := ex.Ended.Add(time.Duration(ex.RetentionDays) * 24 * time.Hour)
		if err := tx.Delete(bExpire, nanoKey(expire)+"/"+ex.ID); err != nil {
			return err
		}
		return purge(tx, ex)
	})
	return at, err
}
