package esm

import (
	"context"
	"strings"

	"github.com/lambdad/lambdad/internal/store"
)

// Reset removes every event source mapping of every account at once, with
// its checkpoints, and stops its poller (POST /_lambdad/reset); a batch
// being processed finishes. It answers how many there were.
func (s *Service) Reset(ctx context.Context) (int, error) {
	var refs []Ref
	err := s.cfg.Store.Update(ctx, func(tx store.Tx) error {
		refs = refs[:0]
		tx.Scan(bucket, "", "", func(k string, _ []byte) bool {
			if p := strings.SplitN(k, "/", 3); len(p) == 3 {
				refs = append(refs, Ref{Account: p[0], Region: p[1], UUID: p[2]})
			}
			return true
		})
		for _, r := range refs {
			if err := deleteCheckpoints(tx, r); err != nil {
				return err
			}
			if err := tx.Delete(bucket, r.key()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, r := range refs {
		s.run.changed(r) // gone from the store: its poller stops
	}
	return len(refs), nil
}
