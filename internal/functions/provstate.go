package functions

import (
	"context"
	"encoding/json"

	"github.com/lambdad/lambdad/internal/store"
)

// bProvState holds the state of provisioned concurrency configs as the
// node keeping their environments last reported it (a cluster's nodes
// share the store, only one keeps a version's environments):
// acct/region/name/qualifier. Not a control plane bucket: a write does not
// invalidate snapshots.
const bProvState = "provstate"

// StoredProvisionedState is a config's state as the node keeping it
// reported it.
type StoredProvisionedState struct {
	Node string `json:"node"`
	ProvisionedState
}

// PutProvisionedState records the state node has of the config kept under
// ref.
func (s *Service) PutProvisionedState(ctx context.Context, ref Ref, node string, st ProvisionedState) error {
	raw, err := json.Marshal(StoredProvisionedState{Node: node, ProvisionedState: st})
	if err != nil {
		return err
	}
	return s.cfg.Store.Update(ctx, func(tx store.Tx) error {
		return tx.Put(bProvState, provKey(ref.Unqualified(), ref.Qualifier), raw)
	})
}

// ProvisionedStateOf is the last state recorded of the config kept under
// ref; ok is false when none was.
func (s *Service) ProvisionedStateOf(ctx context.Context, ref Ref) (st StoredProvisionedState, ok bool, err error) {
	err = s.cfg.Store.View(ctx, func(tx store.Tx) error {
		raw := tx.Get(bProvState, provKey(ref.Unqualified(), ref.Qualifier))
		if raw == nil {
			return nil
		}
		ok = json.Unmarshal(raw, &st) == nil
		return nil
	})
	return st, ok, err
}
