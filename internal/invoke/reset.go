package invoke

import (
	"context"

	"github.com/lambdad/lambdad/internal/store"
)

// DropQueued forgets every queued Event invocation (POST /_lambdad/reset),
// so that none runs on a function created again under the same name; the
// queue skips an event whose record is gone. It answers how many.
func (s *Service) DropQueued(ctx context.Context) (int, error) {
	n := 0
	err := s.cfg.Store.Update(ctx, func(tx store.Tx) error {
		var keys []string
		tx.Scan(bEvents, "", "", func(k string, _ []byte) bool {
			keys = append(keys, k)
			return true
		})
		for _, k := range keys {
			if err := tx.Delete(bEvents, k); err != nil {
				return err
			}
		}
		n = len(keys)
		return nil
	})
	return n, err
}
