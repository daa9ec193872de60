package capacity

import (
	"context"

	"github.com/lambdad/lambdad/internal/store"
)

// Reset removes every capacity provider of every account (POST
// /_lambdad/reset, once no function uses one) and answers how many.
func (s *Service) Reset(ctx context.Context) (int, error) {
	n := 0
	err := s.cfg.Store.Update(ctx, func(tx store.Tx) error {
		var keys []string
		tx.Scan(bucket, "", "", func(k string, _ []byte) bool {
			keys = append(keys, k)
			return true
		})
		for _, k := range keys {
			if err := tx.Delete(bucket, k); err != nil {
				return err
			}
		}
		n = len(keys)
		return nil
	})
	return n, err
}
