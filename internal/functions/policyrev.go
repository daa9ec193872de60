package functions

import (
	"time"

	"github.com/lambdad/lambdad/internal/store"
)

// policyTarget is the RevisionId of what a policy is for (the function's
// $LATEST, a version or an alias) and how to give it a new one. On AWS a
// policy belongs to its function, version or alias: AddPermission and
// RemovePermission check the RevisionId GetFunction or GetAlias shows, a
// change gives the function a new one, and GetPolicy shows that same
// RevisionId (LocalStack's AWS-recorded test_function_revisions_permissions).
// checkTarget has run: what ref names exists.
func (s *Service) policyTarget(tx store.Tx, ref Ref, now time.Time) (string, func(rev string) error, error) {
	fn := ref.Unqualified()
	switch q := ref.Qualifier; {
	case q == "":
		rec, err := s.loadFunction(tx, fn)
		if err != nil {
			return "", nil, err
		}
		rec.Latest.settle(now)
		return rec.Latest.revision(now), func(rev string) error {
			rec.Latest.Config.RevisionId = &rev
			return s.save(tx, fn, rec)
		}, nil
	case isVersionNumber(q):
		n := versionNumber(q)
		v, err := s.loadVersion(tx, fn, n)
		if err != nil || v == nil {
			return "", nil, err
		}
		v.settle(now)
		return v.revision(now), func(rev string) error {
			v.Config.RevisionId = &rev
			return s.saveVersion(tx, fn, n, v)
		}, nil
	default:
		a, err := loadAlias(tx, fn, q)
		if err != nil || a == nil {
			return "", nil, err
		}
		return a.RevisionID, func(rev string) error {
			a.RevisionID = rev
			raw, err := encodeAlias(a)
			if err != nil {
				return err
			}
			return tx.Put(bAliases, aliasKey(fn, a.Name), raw)
		}, nil
	}
}
