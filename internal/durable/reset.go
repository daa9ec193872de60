package durable

import (
	"context"

	"github.com/lambdad/lambdad/internal/store"
)

// Reset removes every durable execution, running or not, with its
// operations, history and timers (POST /_lambdad/reset), and answers how
// many. An invocation of one still running finds it gone at its next
// checkpoint.
func (s *Service) Reset(ctx context.Context) (int, error) {
	n := 0
	err := s.cfg.Store.Update(ctx, func(tx store.Tx) error {
		n = 0
		var ids []string
		tx.Scan(bExec, "", "", func(k string, _ []byte) bool {
			ids = append(ids, k)
			return true
		})
		for _, id := range ids {
			ex, err := loadExec(tx, id)
			if err != nil {
				return err
			}
			if ex == nil {
				continue
			}
			if err := purge(tx, ex); err != nil {
				return err
			}
			n++
		}
		// Every execution is gone: so are their retention ends.
		var expire []string
		tx.Scan(bExpire, "", "", func(k string, _ []byte) bool {
			expire = append(expire, k)
			return true
		})
		for _, k := range expire {
			if err := tx.Delete(bExpire, k); err != nil {
				return err
			}
		}
		return nil
	})
	s.notify()
	return n, err
}
