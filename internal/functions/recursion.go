package functions

import (
	"context"
	"time"

	"github.com/lambdad/lambdad/internal/store"
)

// Recursive loop settings (PutFunctionRecursionConfig's RecursiveLoop).
const (
	RecursionTerminate = "Terminate" // AWS's default
	RecursionAllow     = "Allow"
)

// PutRecursion is PutFunctionRecursionConfig: mode is Allow or Terminate
// (the model's enum). It belongs to the function, not a version, and does
// not change its RevisionId [?].
func (s *Service) PutRecursion(ctx context.Context, ref Ref, mode string) error {
	return s.withFunction(ctx, ref.Unqualified(), guard{}, func(_ store.Tx, rec *record, _ time.Time) error {
		rec.Recursion = ""
		if mode == RecursionAllow {
			rec.Recursion = RecursionAllow
		}
		return nil
	})
}

// GetRecursion is GetFunctionRecursionConfig's RecursiveLoop.
func (s *Service) GetRecursion(ctx context.Context, ref Ref) (string, error) {
	mode := RecursionTerminate
	err := s.cfg.Store.View(ctx, func(tx store.Tx) error {
		rec, err := s.loadFunction(tx, ref.Unqualified())
		if err == nil && rec.Recursion != "" {
			mode = rec.Recursion
		}
		return err
	})
	return mode, err
}
