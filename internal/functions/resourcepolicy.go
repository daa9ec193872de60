package functions

import (
	"context"
	"encoding/json"

	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/ids"
	"github.com/lambdad/lambdad/internal/store"
)

// GetResourcePolicy, PutResourcePolicy and DeleteResourcePolicy (operations
// AWS added in 2026) read and write, as a whole document, the same
// resource-based policy AddPermission and RemovePermission edit statement by
// statement; so GetPolicy and GetResourcePolicy always agree. Like the rest
// of policy.go, lambdad stores policies and never enforces them.

// ResourcePolicy is a policy document and its revision.
type ResourcePolicy struct {
	Policy, RevisionID string
}

// GetResourcePolicy is GetResourcePolicy.
func (s *Service) GetResourcePolicy(ctx context.Context, ref Ref) (*ResourcePolicy, error) {
	out, err := s.GetPolicy(ctx, ref)
	if err != nil {
		return nil, err
	}
	return &ResourcePolicy{Policy: *out.Policy, RevisionID: *out.RevisionId}, nil
}

// PutResourcePolicy is PutResourcePolicy: doc's statements replace the
// policy's, when revision (if given) is the policy's current one.
func (s *Service) PutResourcePolicy(ctx context.Context, ref Ref, doc string, revision *string) (*ResourcePolicy, error) {
	if ref.Qualifier == Latest {
		return nil, fault.InvalidParameterf("We currently do not support adding policies for $LATEST.")
	}
	statements, err := policyStatements(doc)
	if err != nil {
		return nil, err
	}
	err = s.update(ctx, func(tx store.Tx) error {
		_, bump, err := s.changingPolicy(tx, ref, revision, false)
		if err != nil {
			return err
		}
		next := ids.UUID()
		if err := bump(next); err != nil {
			return err
		}
		b, _ := encodePolicy(&policy{Statements: statements, RevisionID: next})
		return tx.Put(bPolicies, policyKey(ref), b)
	})
	if err != nil {
		return nil, err
	}
	return s.GetResourcePolicy(ctx, ref)
}

// DeleteResourcePolicy is DeleteResourcePolicy; with no policy it answers
// RemovePermission's 404 [?].
func (s *Service) DeleteResourcePolicy(ctx context.Context, ref Ref, revision *string) error {
	return s.update(ctx, func(tx store.Tx) error {
		_, bump, err := s.changingPolicy(tx, ref, revision, true)
		if err != nil {
			return err
		}
		if err := bump(ids.UUID()); err != nil {
			return err
		}
		return tx.Delete(bPolicies, policyKey(ref))
	})
}

// policyStatements reads a policy document's statements: "Statement" is a
// statement object or a list of them.
func policyStatements(doc string) ([]json.RawMessage, error) {
	var d struct {
		Statement json.RawMessage `json:"Statement"`
	}
	// [?] AWS's wording for documents it cannot use was not found.
	bad := fault.InvalidParameterf("The policy document is not valid: it must be a JSON object with one or more statements in Statement.")
	if err := json.Unmarshal([]byte(doc), &d); err != nil || len(d.Statement) == 0 {
		return nil, bad
	}
	var list []json.RawMessage
	if d.Statement[0] == '[' {
		if err := json.Unmarshal(d.Statement, &list); err != nil {
			return nil, bad
		}
	} else {
		list = []json.RawMessage{d.Statement}
	}
	if len(list) == 0 {
		return nil, bad
	}
	for i, st := range list {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(st, &m); err != nil {
			return nil, bad
		}
		// Kept compact, as AddPermission's statements are.
		c, _ := json.Marshal(st)
		list[i] = c
	}
	return list, nil
}
