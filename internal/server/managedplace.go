package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/functions"
	"github.com/lambdad/lambdad/internal/invoke"
	"github.com/lambdad/lambdad/internal/sandbox"
	"github.com/lambdad/lambdad/internal/store"
)

// Lambda Managed Instances in a cluster: one node, the owner of the
// capacity provider's placement key, runs the environments of every
// version on that provider, so that the provider's MaxVCpuCount budget
// holds for the whole cluster as it does on one node, and a version's
// minimum environments are started once. Synchronous invokes of those
// versions are forwarded to it and never spilled (no other node has their
// environments: a full owner throttles, as AWS does). The owner records
// each version's state in the store (functions.PutManagedState); a node
// asked about a version it does not run answers from that record, for the
// revision it names, if the node that wrote it still owns the provider or
// the record says Active (a version does not go back to Pending: the node
// that takes a provider over keeps its Active versions so, throttling
// their invokes until its environments start); else Pending.

// managedPrefix marks the placement key of a capacity provider.
const managedPrefix = "mi:"

// managedKey is the placement key of a capacity provider's versions.
func managedKey(provider string) string { return managedPrefix + provider }

// placeManaged makes the data plane run only the providers this node
// owns, when clustered.
func (s *Server) placeManaged() {
	if s.cfg.Cluster.URL == "" {
		return
	}
	s.invoke.SetManagedPlacement(invoke.ManagedPlacement{
		Owns: func(provider string) bool {
			n := s.cluster.node.Load()
			if n == nil {
				return false // not joined yet (or left): the first view reconciles
			}
			_, self := n.Owner(managedKey(provider))
			return self
		},
		Report: func(ref functions.Ref, provider, revision string, st functions.ManagedState) {
			n := s.cluster.node.Load()
			if n == nil {
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			rep := functions.ManagedReport{Node: n.ID(), Provider: provider, Revision: revision, ManagedState: st}
			if err := s.functions.PutManagedState(ctx, ref, rep); err != nil {
				s.log.Warn("managed instances: record state", "function", ref.QualifiedARN(), "err", err)
			}
		},
		RunElsewhere: s.runManagedElsewhere,
		Recorded: func(ref functions.Ref, revision string) (functions.ManagedState, bool) {
			rep, ok := s.recordedManaged(ref, revision)
			return rep.ManagedState, ok
		},
	})
	// Other nodes' changes. A change to a managed version is announced
	// (managedChanged): every node looks at every such function, since it
	// may own the provider. Any other write to versions, their scaling or
	// their functions is looked at by the functions running here only: a
	// version or function deleted, a scaling config changed.
	if w, ok := s.store.(store.Watcher); ok {
		w.Watch(func(buckets []string) {
			switch {
			case buckets == nil || slices.ContainsFunc(buckets, func(b string) bool { return b == bManagedChanged || b == "capacityproviders" }):
				s.invoke.ReconcileManaged(context.Background(), true)
			case slices.ContainsFunc(buckets, func(b string) bool {
				return b == "functions" || b == "versions" || b == "latestpublished" || b == "scaling"
			}):
				s.invoke.ReconcileManaged(context.Background(), false)
			}
		})
	}
}

// bManagedChanged is written (an empty delete, which names the bucket in
// the store's change feed) to tell the other nodes that a function's
// published versions on a capacity provider, or their scaling, changed.
const bManagedChanged = "managedchanged"

// managedChanged tells this node's data plane, and when clustered the
// other nodes, that fn's managed versions may have changed.
func (s *Server) managedChanged(fn functions.Ref) {
	s.invoke.ManagedChanged(fn)
	if s.cfg.Cluster.URL == "" {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.store.Update(ctx, func(tx store.Tx) error { return tx.Delete(bManagedChanged, "") }); err != nil {
			s.log.Warn("managed instances: announce a change", "function", fn.ARN(), "err", err)
		}
	}()
}

// managedState is the state of a published version on a capacity
// provider: this node's when it runs it, else as its owner recorded it.
func (s *Server) managedState(functionARN, version, revision string) (functions.ManagedState, bool) {
	if st, ok := s.invoke.ManagedState(functionARN, version, revision); ok {
		return st, true
	}
	n := s.cluster.node.Load()
	if n == nil {
		return functions.ManagedState{}, false
	}
	ref, ok := functions.RefOfARN(functionARN)
	if !ok {
		return functions.ManagedState{}, false
	}
	ref.Qualifier = version
	rep, ok := s.recordedManaged(ref, revision)
	if !ok {
		return functions.ManagedState{}, false
	}
	// A version once Active stays Active (the node that takes it over
	// keeps it so); any other state holds while its writer owns the
	// provider.
	if owner, _ := n.Owner(managedKey(rep.Provider)); owner.ID != rep.Node && rep.State != "Active" {
		return functions.ManagedState{}, false
	}
	return rep.ManagedState, true
}

// recordedManaged is the state of the version ref names as a node last
// recorded it, if for revision.
func (s *Server) recordedManaged(ref functions.Ref, revision string) (functions.ManagedReport, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rep, ok, err := s.functions.ManagedStateOf(ctx, ref)
	if err != nil || !ok || rep.Revision != revision {
		return functions.ManagedReport{}, false
	}
	return rep, true
}

// managedPlacement reports whether key is a capacity provider's: its
// invokes are not spilled.
func managedPlacement(key string) bool { return strings.HasPrefix(key, managedPrefix) }

// managedRunPath is where a node passes a managed version's invocation to
// the provider's owner (invoke.ManagedRun). Not AWS's API: only a request
// with a node's mark is answered.
const managedRunPath = "/_lambdad/managed-run"

// managedRunAnswer is the owner's answer to a ManagedRun: the run's result,
// or the fault that stopped it.
type managedRunAnswer struct {
	Payload       []byte     `json:"payload,omitempty"`
	FunctionError string     `json:"functionError,omitempty"`
	Fault         *wireFault `json:"fault,omitempty"`
}

// wireFault is a fault.Error between nodes.
type wireFault struct {
	Kind     fault.Kind `json:"kind"`
	Message  string     `json:"message"`
	Resource string     `json:"resource,omitempty"`
	Reason   string     `json:"reason,omitempty"`
}

// runManagedElsewhere passes run to the node that owns its provider and
// returns what the run there gave.
func (s *Server) runManagedElsewhere(ctx context.Context, run invoke.ManagedRun) (sandbox.Result, error) {
	p := s.cluster.place
	n := s.cluster.node.Load()
	if p == nil || n == nil {
		return sandbox.Result{}, fault.New(fault.Unavailable, "This node is not in its cluster: no node runs capacity provider %s.", run.Provider)
	}
	key := managedKey(run.Provider)
	owner, self := n.Owner(key)
	if self {
		// Owned here since the caller looked: the environments are starting.
		return sandbox.Result{}, invoke.ErrNoOwner
	}
	body, err := json.Marshal(run)
	if err != nil {
		return sandbox.Result{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(owner.Address, "/")+managedRunPath, bytes.NewReader(body))
	if err != nil {
		return sandbox.Result{}, err
	}
	req.Header.Set(hKey, key)
	req.Header.Set(hForwarded, p.sign(time.Now().Unix(), http.MethodPost, managedRunPath, key))
	resp, err := p.tr.RoundTrip(req)
	if err != nil {
		var de dialError
		if errors.As(err, &de) {
			// Gone, and not yet out of this node's view: no capacity
			// runs the provider until another node takes it over.
			s.log.Debug("managed instances: owner unreachable", "node", owner.ID, "err", err)
			return sandbox.Result{}, invoke.ErrNoOwner
		}
		return sandbox.Result{}, fault.New(fault.Unavailable, "Node %s, which runs capacity provider %s, did not answer: %v", owner.ID, run.Provider, err)
	}
	defer resp.Body.Close()
	var a managedRunAnswer
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
		return sandbox.Result{}, fault.New(fault.Unavailable, "Node %s, which runs capacity provider %s, answered %s: %s", owner.ID, run.Provider, resp.Status, bytes.TrimSpace(msg))
	}
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		return sandbox.Result{}, fault.New(fault.Unavailable, "Node %s, which runs capacity provider %s, answered in part: %v", owner.ID, run.Provider, err)
	}
	if f := a.Fault; f != nil {
		return sandbox.Result{}, &fault.Error{Kind: f.Kind, Message: f.Message, Resource: f.Resource, Reason: f.Reason}
	}
	return sandbox.Result{Payload: a.Payload, FunctionError: a.FunctionError}, nil
}

// serveManagedRun runs an invocation another node passed on, if its mark
// verifies.
func (p *placement) serveManagedRun(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get(hKey)
	var run invoke.ManagedRun
	if !managedPlacement(key) || !p.verified(r, key) {
		http.Error(w, "not from a node of this cluster", http.StatusForbidden)
		return
	}
	// The payload (up to a batch's 6 MB) travels in base64.
	if err := json.NewDecoder(io.LimitReader(r.Body, maxForwardBody/3*4+64<<10)).Decode(&run); err != nil || managedKey(run.Provider) != key {
		http.Error(w, "not a managed run", http.StatusBadRequest)
		return
	}
	// The run is the sender's: it ends as runs do, not when the sender
	// hangs up.
	res, err := p.s.invoke.RunManagedHere(context.WithoutCancel(r.Context()), run)
	a := managedRunAnswer{Payload: res.Payload, FunctionError: res.FunctionError}
	if err != nil {
		f, ok := fault.As(err)
		if !ok {
			f = &fault.Error{Kind: fault.Internal, Message: err.Error()}
		}
		msg := f.Message
		if msg == "" {
			msg = f.Error()
		}
		a = managedRunAnswer{Fault: &wireFault{Kind: f.Kind, Message: msg, Resource: f.Resource, Reason: f.Reason}}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(a)
}
