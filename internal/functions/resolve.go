package functions

import (
	"context"
	"sync/atomic"

	"github.com/lambdad/lambdad/internal/spec"
	"github.com/lambdad/lambdad/internal/store"
)

// Snapshot is one version resolved for invoking: immutable once made.
type Snapshot struct {
	Ref      Ref    // Qualifier "" for $LATEST
	Version  string // "$LATEST" or the number
	Config   spec.FunctionConfiguration
	Code     Code
	Layers   []Code // in the configuration's order
	Reserved *int32
	// SetAside is the concurrency of the function's account that on-demand
	// invocations of functions without a reservation cannot use (what
	// others reserve, and provisioned concurrency outside reservations).
	SetAside int32
	// AllowRecursion is the function's PutFunctionRecursionConfig
	// Allow: invokes in a recursive loop are not stopped.
	AllowRecursion bool
	// Pending is true while the function is still being created.
	Pending bool
	// AltVersion receives AltWeight (0..1) of an alias's invocations.
	AltVersion string
	AltWeight  float64
	// FunctionARN is Ref.ARN() and QualifiedARN Ref.QualifiedARN(), built
	// once: every invoke of the snapshot needs them. Whoever changes Ref in
	// a copy sets QualifiedARN again.
	FunctionARN, QualifiedARN string
	// Attached is the data plane's own state for this snapshot (its
	// concurrency counters, what the sandbox runs), built on its first
	// invoke; nil in snapshots not made by Resolve. Copies share it, so it
	// holds nothing that depends on Ref's qualifier.
	Attached *atomic.Value
}

type cached struct {
	gen  uint64
	snap *Snapshot
}

// Resolve returns the version ref names, from memory when nothing was
// written since it was last read.
func (s *Service) Resolve(ctx context.Context, ref Ref) (*Snapshot, error) {
	g := s.gen.Load()
	if c, ok := s.cache.Load(ref); ok && c.(*cached).gen == g {
		return c.(*cached).snap, nil
	}
	var snap *Snapshot
	settled := true
	err := s.cfg.Store.View(ctx, func(tx store.Tx) error {
		rec, v, err := s.resolve(tx, ref)
		if err == nil {
			v, err = s.invokedVersion(tx, ref, rec, v)
		}
		if err != nil {
			return err
		}
		now := s.cfg.Now()
		settled = v.settled(now)
		snap = &Snapshot{Ref: ref, Version: *v.Config.Version, Config: v.view(now), Code: v.Code, Layers: v.Layers, Reserved: rec.Reserved, AllowRecursion: rec.Recursion == RecursionAllow}
		if !s.managedState(&snap.Config) {
			settled = false // the data plane's state changes without a write
		}
		snap.Pending = *snap.Config.State == "Pending"
		if rec.Reserved == nil {
			snap.SetAside = setAside(tx, ref.Account, ref.Region)
		}
		if ref.Qualifier != "" && ref.Qualifier != Latest && !isVersionNumber(ref.Qualifier) {
			if a, err := loadAlias(tx, ref, ref.Qualifier); err == nil && a != nil {
				rt := a.route()
				snap.AltVersion, snap.AltWeight = rt.Other, rt.Weight
			}
		}
		snap.FunctionARN = ref.ARN()
		snap.QualifiedARN = ref.QualifiedARN()
		snap.Attached = new(atomic.Value)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if settled {
		s.cache.Store(ref, &cached{gen: g, snap: snap})
	}
	return snap, nil
}
