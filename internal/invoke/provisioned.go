package invoke

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lambdad/lambdad/internal/functions"
	"github.com/lambdad/lambdad/internal/sandbox"
)

// Provisioned concurrency: for each config the control plane keeps, the
// data plane keeps that many environments of the config's version
// initialized (sandbox.Provisioned), started eagerly with
// AWS_LAMBDA_INITIALIZATION_TYPE=provisioned-concurrency. An invoke of the
// version takes an idle one first and spills over to on-demand
// environments when all are busy. An alias's config provisions the
// alias's own version; invocations its routing sends to its other version
// run on demand.

// provisioner is the data plane's provisioned concurrency.
type provisioner struct {
	mu   sync.Mutex // serializes reconciles
	sets map[provKey]*provSet
	// byVersion finds a version's set on the invoke path.
	byVersion sync.Map // versionSlot -> *provSet
	// totals is each function's provisioned concurrency, which its
	// reserved concurrency covers before on-demand invocations.
	totals sync.Map // function ARN -> *atomic.Int32
	// owns and report place provisioned environments in a cluster
	// (provplace.go); nil: every version is this node's.
	owns   func(functionARN, version string) bool
	report func(ref functions.Ref, st functions.ProvisionedState)
}

// errPending says a version cannot be started yet; pendingRetry is when
// to try again.
var errPending = errors.New("invoke: version pending")

const pendingRetry = 50 * time.Millisecond

// provKey names one config: a function and the qualifier it is kept under.
type provKey struct{ functionARN, qualifier string }

// provSet is the environments of one config.
type provSet struct {
	ref       functions.Ref // the config's function and qualifier
	version   string
	requested int32
	pp        *sandbox.Provisioned
	failed    atomic.Bool
	starting  atomic.Int32 // environments being started
	reportMu  sync.Mutex   // orders the set's reports
	r         *runnable    // its environments' function, logs
	ctx       context.Context
	cancel    context.CancelFunc
}

// ProvisionedChanged makes the environments of fn's provisioned
// concurrency configs match them, in the background.
func (s *Service) ProvisionedChanged(fn functions.Ref) {
	go s.reconcile(fn.Unqualified())
}

// StartProvisioned brings up the provisioned environments of every
// config, as at start; it returns at once.
func (s *Service) StartProvisioned(ctx context.Context) {
	go func() {
		fns, err := s.cfg.Functions.ProvisionedFunctions(ctx)
		if err != nil {
			s.cfg.Logger.Warn("provisioned concurrency: list configs", "err", err)
			return
		}
		for _, fn := range fns {
			s.reconcile(fn)
		}
	}()
}

// ProvisionedState reports the environments of the config kept under ref.
func (s *Service) ProvisionedState(ref functions.Ref) (functions.ProvisionedState, bool) {
	p := &s.prov
	p.mu.Lock()
	defer p.mu.Unlock()
	set := p.sets[provKey{ref.ARN(), ref.Qualifier}]
	if set == nil {
		return functions.ProvisionedState{}, false
	}
	return functions.ProvisionedState{
		Requested: set.requested,
		Allocated: int32(set.pp.Count()),
		Failed:    set.failed.Load(),
		Version:   set.version,
	}, true
}

// reconcile makes fn's sets match its configs.
func (s *Service) reconcile(fn functions.Ref) {
	ctx := context.Background()
	p := &s.prov
	// Configs are read under the lock: reconciles of one function that
	// race apply the newest configs last.
	p.mu.Lock()
	defer p.mu.Unlock()
	targets, err := s.cfg.Functions.ProvisionedTargets(ctx, fn)
	if err != nil {
		s.cfg.Logger.Warn("provisioned concurrency: read configs", "function", fn.ARN(), "err", err)
		return
	}
	if p.sets == nil {
		p.sets = make(map[provKey]*provSet)
	}
	arn := fn.ARN()
	want := make(map[string]functions.ProvisionedTarget, len(targets))
	var total int32
	local := targets[:0:0]
	for _, t := range targets {
		total += t.Requested
		// In a cluster another node may own the version: its
		// environments live there, where its invokes are placed.
		if p.owns != nil && !p.owns(fn.ARN(), t.Version) {
			continue
		}
		want[t.Qualifier] = t
		local = append(local, t)
	}
	targets = local
	for k, set := range p.sets {
		if k.functionARN != arn {
			continue
		}
		if t, ok := want[k.qualifier]; !ok || t.Version != set.version || set.failed.Load() {
			s.retireSet(k, set)
		}
	}
	for _, t := range targets {
		k := provKey{arn, t.Qualifier}
		if set := p.sets[k]; set != nil {
			if set.requested != t.Requested {
				set.requested = t.Requested
				set.pp.Shrink(int(t.Requested))
				s.fill(set)
			}
			s.reportSet(set)
			continue
		}
		set, err := s.newSet(ctx, fn, t)
		if errors.Is(err, errPending) {
			// A version just published is Pending for a moment; its
			// config stays IN_PROGRESS until it can be started.
			time.AfterFunc(pendingRetry, func() { s.reconcile(fn) })
			continue
		}
		if err != nil {
			s.cfg.Logger.Warn("provisioned concurrency: cannot provision", "function", arn, "qualifier", t.Qualifier, "err", err)
			ref := fn
			ref.Qualifier = t.Qualifier
			set = &provSet{ref: ref, version: t.Version, requested: t.Requested, pp: s.cfg.Sandbox.Provision(&sandbox.Function{})}
			set.failed.Store(true)
			p.sets[k] = set
			s.reportSet(set)
			continue
		}
		p.sets[k] = set
		p.byVersion.Store(versionSlot{arn, t.Version}, set)
		s.fill(set)
		s.reportSet(set)
	}
	c, _ := p.totals.LoadOrStore(arn, new(atomic.Int32))
	c.(*atomic.Int32).Store(total)
}

// retireSet stops a set's environments; p.mu held.
func (s *Service) retireSet(k provKey, set *provSet) {
	p := &s.prov
	delete(p.sets, k)
	p.byVersion.CompareAndDelete(versionSlot{k.functionARN, set.version}, set)
	if set.cancel != nil {
		set.cancel()
	}
	set.pp.Retire()
}

// newSet prepares the environments of target t of fn.
func (s *Service) newSet(ctx context.Context, fn functions.Ref, t functions.ProvisionedTarget) (*provSet, error) {
	ref := fn
	ref.Qualifier = t.Version
	snap, err := s.cfg.Functions.Resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	if snap.Pending {
		return nil, errPending
	}
	r, err := s.function(ctx, snap)
	if err != nil {
		return nil, err
	}
	// The provisioned environments' own function: the version's, but
	// initialized as provisioned concurrency, logging to a stream of
	// their own.
	f := *r.fn
	f.Env = make([]string, 0, len(r.fn.Env))
	stream := logStream(snap.Version)
	for _, kv := range r.fn.Env {
		switch {
		case strings.HasPrefix(kv, "AWS_LAMBDA_INITIALIZATION_TYPE="):
			kv = "AWS_LAMBDA_INITIALIZATION_TYPE=provisioned-concurrency"
		case strings.HasPrefix(kv, "AWS_LAMBDA_LOG_STREAM_NAME="):
			kv = "AWS_LAMBDA_LOG_STREAM_NAME=" + stream
		}
		f.Env = append(f.Env, kv)
	}
	cctx, cancel := context.WithCancel(context.Background())
	cref := fn
	cref.Qualifier = t.Qualifier
	return &provSet{
		ref:       cref,
		version:   t.Version,
		requested: t.Requested,
		pp:        s.cfg.Sandbox.Provision(&f),
		r:         &runnable{fn: &f, logGroup: r.logGroup, logStream: stream, m: r.m},
		ctx:       cctx,
		cancel:    cancel,
	}, nil
}

// fill starts the environments set lacks, all at once (the sandbox bounds
// how many start in parallel); an init that fails fails the set, whose
// environments then stop, as AWS shows FAILED with none allocated.
func (s *Service) fill(set *provSet) {
	// Starts still running count: a config raised twice quickly does not
	// start the difference twice.
	missing := int(set.requested) - set.pp.Count() - int(set.starting.Load())
	for range missing {
		set.starting.Add(1)
		go func() {
			err := set.pp.Start(set.ctx)
			set.starting.Add(-1)
			if set.ctx.Err() != nil {
				return
			}
			defer func() {
				// Under the lock: a retired set reports nothing, and
				// the counts are read as reconcile leaves them.
				s.prov.mu.Lock()
				defer s.prov.mu.Unlock()
				if s.prov.sets[provKey{set.ref.ARN(), set.ref.Qualifier}] == set {
					s.reportSet(set)
				}
			}()
			if err == nil {
				return
			}
			var ie *sandbox.InitError
			if errors.As(err, &ie) {
				if s.cfg.Logs != nil && len(ie.Log) > 0 {
					s.cfg.Logs.Append(set.r.logGroup, set.r.logStream, ie.Log)
				}
			} else {
				s.cfg.Logger.Warn("provisioned concurrency: start environment", "err", err)
			}
			if !set.failed.Swap(true) {
				set.pp.Retire()
			}
		}()
	}
}

// runProvisioned runs an invocation of snap on one of its version's idle
// provisioned environments; ok is false when there is none.
func (s *Service) runProvisioned(ctx context.Context, snap *functions.Snapshot, requestID string, payload []byte, clientContext string) (res sandbox.Result, ok bool, err error) {
	v, found := s.prov.byVersion.Load(versionSlot{snap.FunctionARN, snap.Version})
	if !found {
		return sandbox.Result{}, false, nil
	}
	set := v.(*provSet)
	if set.failed.Load() {
		return sandbox.Result{}, false, nil
	}
	// Provisioned concurrency was set aside when it was configured, out of
	// the function's reservation or the account's unreserved pool: its
	// invocations are never throttled.
	res, ok, err = set.pp.Invoke(ctx, invocation(ctx, snap, requestID, payload, clientContext))
	if !ok || err != nil {
		return res, ok, err
	}
	s.ran(set.r, requestID, &res)
	return res, true, nil
}

// provisionedTotal is the provisioned concurrency of a function, which its
// reserved concurrency covers first.
func (s *Service) provisionedTotal(functionARN string) int32 {
	if c, ok := s.prov.totals.Load(functionARN); ok {
		return c.(*atomic.Int32).Load()
	}
	return 0
}
