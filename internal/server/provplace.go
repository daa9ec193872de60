package server

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/lambdad/lambdad/internal/cluster"
	"github.com/lambdad/lambdad/internal/functions"
	"github.com/lambdad/lambdad/internal/store"
)

// Provisioned concurrency in a cluster: a version's provisioned
// environments live on its owner, the node placement forwards its
// synchronous invokes to (same key). The owner records each config's
// state in the store (functions.PutProvisionedState) as it changes; a node
// asked about a config whose environments it does not keep answers from
// that record, if the node that wrote it still owns the version (else the
// new owner has not reported yet: IN_PROGRESS, none allocated).

// provKey is the placement key of a function version (placement.key's,
// without a tenant: provisioned environments are not a tenant's).
func provKey(functionARN, version string) string { return functionARN + ":" + version }

// placeProvisioned makes the data plane keep only the provisioned
// environments of the versions this node owns, when clustered.
func (s *Server) placeProvisioned() {
	if s.cfg.Cluster.URL == "" {
		return
	}
	s.invoke.SetProvisionedPlacement(func(functionARN, version string) bool {
		n := s.cluster.node.Load()
		if n == nil {
			// Not joined yet (or left): the first view reconciles.
			return false
		}
		_, self := n.Owner(provKey(functionARN, version))
		return self
	}, func(ref functions.Ref, st functions.ProvisionedState) {
		n := s.cluster.node.Load()
		if n == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.functions.PutProvisionedState(ctx, ref, n.ID(), st); err != nil {
			s.log.Warn("provisioned concurrency: record state", "config", ref.QualifiedARN(), "err", err)
		}
	})
	// Other nodes' config changes (an alias moved, a config put or
	// deleted, a version deleted with its config).
	if w, ok := s.store.(store.Watcher); ok {
		w.Watch(func(buckets []string) {
			if buckets == nil || slices.ContainsFunc(buckets, func(b string) bool { return b == "provisioned" || b == "aliases" }) {
				s.invoke.ReconcileProvisioned(context.Background())
			}
		})
	}
}

// followMembers reconciles provisioned concurrency and Managed Instances
// when the live members change (ownership moves with them), checking each
// heartbeat until n is no longer this server's node.
func (s *Server) followMembers(n *cluster.Node, every time.Duration) {
	if every <= 0 {
		every = cluster.DefaultHeartbeat
	}
	ids := func() string {
		var b strings.Builder
		for _, m := range n.Members() {
			b.WriteString(m.ID)
			b.WriteByte('\n')
		}
		return b.String()
	}
	last := ""
	t := time.NewTicker(every)
	defer t.Stop()
	for s.cluster.node.Load() == n {
		if cur := ids(); cur != last {
			last = cur
			s.invoke.ReconcileProvisioned(context.Background())
			s.invoke.ReconcileManaged(context.Background(), true)
		}
		<-t.C
	}
}

// provisionedState is the state of the config kept under ref: this node's
// when it keeps its environments, else as its owner recorded it.
func (s *Server) provisionedState(ref functions.Ref) (functions.ProvisionedState, bool) {
	if st, ok := s.invoke.ProvisionedState(ref); ok {
		return st, true
	}
	n := s.cluster.node.Load()
	if n == nil {
		return functions.ProvisionedState{}, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rec, ok, err := s.functions.ProvisionedStateOf(ctx, ref)
	if err != nil || !ok {
		return functions.ProvisionedState{}, false
	}
	if owner, _ := n.Owner(provKey(ref.ARN(), rec.Version)); owner.ID != rec.Node {
		return functions.ProvisionedState{}, false
	}
	return rec.ProvisionedState, true
}
