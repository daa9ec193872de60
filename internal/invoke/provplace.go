package invoke

import (
	"context"

	"github.com/lambdad/lambdad/internal/functions"
)

// Provisioned concurrency in a cluster (docs/cluster.md): a version's
// provisioned environments live on the node that owns the version, where
// its synchronous invokes are placed. Each node keeps only the configs of
// the versions it owns, reconciles all of them again when another node
// changes configs or when members come and go, and reports its sets'
// state, which the other nodes read to answer the API.

// SetProvisionedPlacement makes this node keep only the provisioned
// environments of versions owns says are its own, and hands each set's
// state to report when it changes. Call before StartProvisioned.
func (s *Service) SetProvisionedPlacement(owns func(functionARN, version string) bool, report func(ref functions.Ref, st functions.ProvisionedState)) {
	s.prov.mu.Lock()
	defer s.prov.mu.Unlock()
	s.prov.owns, s.prov.report = owns, report
}

// ReconcileProvisioned reconciles every function that has provisioned
// configs or environments here, in the background: after another node's
// change or a change of ownership.
func (s *Service) ReconcileProvisioned(ctx context.Context) {
	go func() {
		fns, err := s.cfg.Functions.ProvisionedFunctions(ctx)
		if err != nil {
			s.cfg.Logger.Warn("provisioned concurrency: list configs", "err", err)
			return
		}
		seen := make(map[string]bool, len(fns))
		for _, fn := range fns {
			seen[fn.ARN()] = true
		}
		p := &s.prov
		p.mu.Lock()
		for k := range p.sets {
			if seen[k.functionARN] {
				continue
			}
			if ref, ok := functions.RefOfARN(k.functionARN); ok {
				seen[k.functionARN] = true
				fns = append(fns, ref.Unqualified())
			}
		}
		p.mu.Unlock()
		for _, fn := range fns {
			s.reconcile(fn)
		}
	}()
}

// reportSet hands set's state to the report hook, if any; p.mu held.
func (s *Service) reportSet(set *provSet) {
	report := s.prov.report
	if report == nil || set.ref.Name == "" {
		return
	}
	set.reportMu.Lock()
	defer set.reportMu.Unlock()
	report(set.ref, functions.ProvisionedState{
		Requested: set.requested,
		Allocated: int32(set.pp.Count()),
		Failed:    set.failed.Load(),
		Version:   set.version,
	})
}
