package functions

import (
	"context"
	"encoding/json"

	"github.com/lambdad/lambdad/internal/store"
)

// bManagedState holds the state of published versions on a capacity
// provider as the node running their environments last reported it (in a
// cluster one node runs each provider's): acct/region/name/version. Not a
// control plane bucket: a write does not invalidate snapshots.
const bManagedState = "managedstate"

// storedManagedState is a version's state as the node running it reported
// it, for the revision it runs and the provider it placed.
type storedManagedState struct {
	Node       string `json:"node"`
	Provider   string `json:"provider"`
	Revision   string `json:"revision"`
	State      string `json:"state"`
	Reason     string `json:"reason,omitempty"`
	ReasonCode string `json:"reasonCode,omitempty"`
}

// ManagedReport is a version's state as a node reported it.
type ManagedReport struct {
	Node, Provider, Revision string
	ManagedState
}

// PutManagedState records the state node has of the version ref names
// (qualified by it), running revision on provider.
func (s *Service) PutManagedState(ctx context.Context, ref Ref, rep ManagedReport) error {
	raw, err := json.Marshal(storedManagedState{Node: rep.Node, Provider: rep.Provider, Revision: rep.Revision,
		State: rep.State, Reason: rep.Reason, ReasonCode: rep.ReasonCode})
	if err != nil {
		return err
	}
	return s.cfg.Store.Update(ctx, func(tx store.Tx) error {
		return tx.Put(bManagedState, provKey(ref.Unqualified(), ref.Qualifier), raw)
	})
}

// ManagedStateOf is the last state recorded of the version ref names; ok
// is false when none was.
func (s *Service) ManagedStateOf(ctx context.Context, ref Ref) (rep ManagedReport, ok bool, err error) {
	err = s.cfg.Store.View(ctx, func(tx store.Tx) error {
		raw := tx.Get(bManagedState, provKey(ref.Unqualified(), ref.Qualifier))
		if raw == nil {
			return nil
		}
		var st storedManagedState
		if json.Unmarshal(raw, &st) != nil {
			return nil
		}
		rep, ok = ManagedReport{Node: st.Node, Provider: st.Provider, Revision: st.Revision,
			ManagedState: ManagedState{State: st.State, Reason: st.Reason, ReasonCode: st.ReasonCode}}, true
		return nil
	})
	return rep, ok, err
}

// ManagedVersion reports whether snap is a published version on a
// capacity provider, which only that provider's environments run.
func ManagedVersion(snap *Snapshot) bool {
	return capacityARN(&snap.Config) != "" && snap.Version != Latest
}

// ManagedProvider is the capacity provider of a managed version ("" for
// any other).
func ManagedProvider(snap *Snapshot) string {
	if !ManagedVersion(snap) {
		return ""
	}
	return capacityARN(&snap.Config)
}
