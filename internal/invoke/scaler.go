package invoke

import (
	"bufio"
	"context"
	"errors"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/functions"
	"github.com/lambdad/lambdad/internal/sandbox"
)

// Lambda Managed Instances scaling, as AWS's "Scaling Lambda Managed
// Instances" guide has it:
//
//   - publishing a version on a capacity provider starts its minimum
//     execution environments (the function scaling config's Min; 3 by
//     default) before the version is Active: it is Pending until they are
//     initialized, and Failed if their init fails;
//   - Managed Instances "do not scale when invocations arrive and do not
//     support cold starts": an invoke runs on a free slot of a started
//     environment, or is throttled (HTTP 429) when every slot is taken;
//   - a scaler adds environments asynchronously, on CPU utilisation and
//     multi-concurrency saturation, up to Max and within the capacity
//     provider's budget, and removes them gradually when they are idle,
//     never below Min.
//
// The budget of a provider is its CapacityProviderScalingConfig.MaxVCpuCount
// vCPUs, shared by every version on it (an environment takes
// MemorySize/(ExecutionEnvironmentMemoryGiBPerVCpu*1024) vCPUs, enforced as
// a CFS quota of that many host CPUs), and this host's memory, shared by
// every environment of every provider (an environment takes its MemorySize,
// its cgroup's hard limit). The host's CPUs are no cap: a vCPU is a quota,
// and quotas may add up past the host's CPUs as AWS's vCPUs are time shares
// of an instance's (three 1-vCPU environments, AWS's default minimum, must
// fit a 2-core machine).
//
// Only published versions ($LATEST.PUBLISHED and numbers) run this way:
// how AWS runs an invoke of the unpublished $LATEST of such a function is
// not documented [?]; lambdad runs it on environments started on demand.

const (
	// defaultScaleInterval is how often the scaler looks at utilisation.
	defaultScaleInterval = time.Second
	// scaleDownTicks is how many looks in a row an environment must be
	// spare before one is removed: scaling down is gradual ("Lambda
	// Managed Instances scale down gradually", AWS's troubleshooting guide).
	scaleDownTicks = 10
	// defaultTargetUtilization is the multi-concurrency saturation the
	// scaler keeps environments at, and their CPU utilisation without a
	// target tracking policy [?]: AWS documents neither, but says traffic
	// that "more than doubles within 5 minutes" may be throttled, which is
	// the headroom of 50%.
	defaultTargetUtilization = 0.5
)

// AWS's StateReasonCodes for a managed-instances version.
const (
	reasonCreating     = "Creating"
	reasonFunctionErr  = "FunctionError"
	reasonScalingLimit = "CapacityProviderScalingLimitExceeded"
)

// scaler is the data plane of Lambda Managed Instances.
type scaler struct {
	mu     sync.Mutex // serializes reconciles, ticks and budget changes
	fleets map[versionSlot]*fleet
	live   sync.Map           // versionSlot -> *fleet, for the invoke path and states
	vcpus  map[string]float64 // provider ARN -> vCPUs of environments started or starting
	memMB  int                // memory of every environment started or starting
	nudge  chan struct{}      // an invoke was throttled: look now
	start  sync.Once
	// exhausted remembers the providers whose budget stopped a start, so
	// that it is logged once until it frees up.
	exhausted map[string]bool
	// place is how this node shares Managed Instances in a cluster (nil
	// alone): SetManagedPlacement.
	place atomic.Pointer[ManagedPlacement]
}

// fleet is one published version's environments.
type fleet struct {
	slot     versionSlot
	ref      functions.Ref // qualified by the version
	provider string
	revision string
	fl       *sandbox.Fleet
	r        *runnable
	vcpus    float64
	memMB    int
	// Guarded by scaler.mu.
	min, max  int
	starting  int
	reserved  int // environments counted in the budget
	spare     int // looks in a row with an environment to spare
	failed    bool
	activated bool

	state     atomic.Pointer[functions.ManagedState]
	stateSeq  atomic.Uint64 // states set, so that only the last is reported
	reportMu  sync.Mutex    // one report at a time
	inflight  atomic.Int32
	peak      atomic.Int32 // most invocations at once since the last look
	throttled atomic.Int32 // since the last look
	ctx       context.Context
	cancel    context.CancelFunc
}

// managed reports whether snap is a published version on a capacity
// provider, which only its fleet runs.
func managed(snap *functions.Snapshot) bool {
	cp := snap.Config.CapacityProviderConfig
	return cp != nil && cp.LambdaManagedInstancesCapacityProviderConfig != nil && snap.Version != functions.Latest
}

// ManagedChanged makes the fleets of fn's published versions on a capacity
// provider match them and their scaling configs, in the background.
func (s *Service) ManagedChanged(fn functions.Ref) {
	go s.reconcileManaged(context.Background(), fn.Unqualified())
}

// StartManaged starts the minimum environments of every published version
// on a capacity provider, as after a restart; it returns at once.
func (s *Service) StartManaged(ctx context.Context) {
	go func() {
		fns, err := s.cfg.Functions.ManagedFunctions(ctx)
		if err != nil {
			s.cfg.Logger.Warn("managed instances: list functions", "err", err)
			return
		}
		for _, fn := range fns {
			s.reconcileManaged(ctx, fn)
		}
	}()
}

// ManagedPlacement is how the nodes of a cluster share Lambda Managed
// Instances: one node runs each capacity provider's versions, so that the
// provider's budget holds, and the others pass it their invocations.
type ManagedPlacement struct {
	// Owns says whether this node runs provider's versions.
	Owns func(provider string) bool
	// Report records a version's state as it changes, for the others.
	Report func(ref functions.Ref, provider, revision string, st functions.ManagedState)
	// RunElsewhere runs an invocation on the node that owns its provider
	// (RunManagedHere there); ErrNoOwner when no other node runs it now.
	RunElsewhere func(ctx context.Context, run ManagedRun) (sandbox.Result, error)
	// Recorded is a version's state as its last owner reported it (for
	// revision), so that a version Active before stays Active on the node
	// that takes it over while its environments start.
	Recorded func(ref functions.Ref, revision string) (functions.ManagedState, bool)
}

// ErrNoOwner is RunElsewhere's answer when no other node runs the
// provider now (its owner is unreachable, or this node took it over): the
// invocation is throttled, as when every slot is taken.
var ErrNoOwner = errors.New("invoke: no node runs the capacity provider now")

// ManagedRun is an invocation of a managed version passed to the node
// that runs its provider.
type ManagedRun struct {
	Provider string `json:"provider"`
	// Function is the ARN the function was invoked by (an alias's stays);
	// Version is the version picked.
	Function      string `json:"function"`
	Version       string `json:"version"`
	RequestID     string `json:"requestId"`
	ClientContext string `json:"clientContext,omitempty"`
	Trace         string `json:"trace,omitempty"`
	Payload       []byte `json:"payload"`
}

// SetManagedPlacement makes this node run only the versions of the
// capacity providers it owns and pass the others' invocations on. Set
// before the first reconcile; every field is set.
func (s *Service) SetManagedPlacement(p ManagedPlacement) { s.scale.place.Store(&p) }

// ReconcileManaged reconciles, in the background, the functions with
// environments here and, when all, every function with a published
// version on a capacity provider: after another node's change or a change
// of ownership. Without all it reads no more than those functions.
func (s *Service) ReconcileManaged(ctx context.Context, all bool) {
	go func() {
		var fns []functions.Ref
		if all {
			var err error
			if fns, err = s.cfg.Functions.ManagedFunctions(ctx); err != nil {
				s.cfg.Logger.Warn("managed instances: list functions", "err", err)
				return
			}
		}
		seen := make(map[string]bool, len(fns))
		for _, fn := range fns {
			seen[fn.ARN()] = true
		}
		sc := &s.scale
		sc.mu.Lock()
		for slot := range sc.fleets {
			if seen[slot.functionARN] {
				continue
			}
			if ref, ok := functions.RefOfARN(slot.functionARN); ok {
				seen[slot.functionARN] = true
				fns = append(fns, ref.Unqualified())
			}
		}
		sc.mu.Unlock()
		for _, fn := range fns {
			s.reconcileManaged(ctx, fn)
		}
	}()
}

// ManagedState is the state of a published version on a capacity
// provider; ok is false when the scaler does not know it (yet).
func (s *Service) ManagedState(functionARN, version, revision string) (functions.ManagedState, bool) {
	f := s.fleetOf(functionARN, version, revision)
	if f == nil {
		return functions.ManagedState{}, false
	}
	return *f.state.Load(), true
}

// fleetOf is the fleet of a version. $LATEST.PUBLISHED is replaced in
// place by each publish: its fleet must be of the same RevisionId (which
// it keeps until published again); a numbered version never changes.
func (s *Service) fleetOf(functionARN, version, revision string) *fleet {
	v, ok := s.scale.live.Load(versionSlot{functionARN, version})
	if !ok {
		return nil
	}
	f := v.(*fleet)
	if version == functions.LatestPublished && f.revision != revision {
		return nil
	}
	return f
}

// reconcileManaged makes fn's fleets match its versions on a provider.
func (s *Service) reconcileManaged(ctx context.Context, fn functions.Ref) {
	sc := &s.scale
	sc.start.Do(func() { go s.scaleLoop(s.ctx) })
	sc.mu.Lock()
	defer sc.mu.Unlock()
	targets, err := s.cfg.Functions.ManagedTargets(ctx, fn)
	if err != nil && !fault.Is(err, fault.NotFound) {
		s.cfg.Logger.Warn("managed instances: read versions", "function", fn.ARN(), "err", err)
		return
	}
	if sc.fleets == nil {
		sc.fleets = make(map[versionSlot]*fleet)
		sc.vcpus = make(map[string]float64)
		sc.exhausted = make(map[string]bool)
	}
	arn := fn.ARN()
	want := make(map[string]functions.ManagedTarget, len(targets))
	for _, t := range targets {
		want[t.Version] = t
	}
	if p := sc.place.Load(); p != nil {
		// Another node runs the versions of a provider it owns.
		targets = slices.DeleteFunc(targets, func(t functions.ManagedTarget) bool {
			if p.Owns(t.Provider) {
				return false
			}
			delete(want, t.Version)
			return true
		})
	}
	for slot, f := range sc.fleets {
		if slot.functionARN == arn {
			if _, ok := want[slot.version]; !ok {
				s.retireFleet(f)
			}
		}
	}
	for _, t := range targets {
		ref := fn
		ref.Qualifier = t.Version
		snap, err := s.cfg.Functions.Resolve(ctx, ref)
		if err != nil {
			s.cfg.Logger.Warn("managed instances: resolve", "function", ref.QualifiedARN(), "err", err)
			continue
		}
		slot := versionSlot{arn, t.Version}
		f := sc.fleets[slot]
		if f != nil && t.Version == functions.LatestPublished && f.revision != *snap.Config.RevisionId {
			s.retireFleet(f) // $LATEST.PUBLISHED published again
			f = nil
		}
		if f == nil {
			f, err = s.newFleet(ctx, ref, snap, t.Provider)
			if err != nil {
				// Code that cannot run here (a container image, a runtime
				// missing): the version fails as a failed init does.
				s.cfg.Logger.Warn("managed instances: cannot run", "function", ref.QualifiedARN(), "err", err)
				code := "InternalError"
				if fault.Is(err, fault.InvalidRuntime) {
					code = "InvalidRuntime"
				}
				s.failFleet(f, code, err.Error())
			}
			sc.fleets[slot] = f
			sc.live.Store(slot, f)
			if err != nil {
				continue
			}
		}
		cfg, _, err := s.cfg.Functions.ScalingConfig(ctx, ref)
		if err != nil {
			s.cfg.Logger.Warn("managed instances: read scaling config", "function", ref.QualifiedARN(), "err", err)
			continue
		}
		// AWS's default is 3 and 3; a config that gives only one bound
		// keeps the other within it [?].
		f.min, f.max = 3, 3
		if cfg.Max != nil {
			f.max = int(*cfg.Max)
			f.min = min(f.min, f.max)
		}
		if cfg.Min != nil {
			f.min = int(*cfg.Min)
		}
		f.max = max(f.max, f.min)
		if f.failed && f.state.Load().ReasonCode != reasonScalingLimit {
			continue // an init that failed fails the version for good
		}
		f.failed = false // a new scaling config or budget is a new try
		s.scaleFleet(ctx, f, f.min)
	}
}

// newFleet prepares the environments of one version; scaler.mu held. On
// an error it returns a fleet that can start nothing.
func (s *Service) newFleet(ctx context.Context, ref functions.Ref, snap *functions.Snapshot, provider string) (*fleet, error) {
	fctx, cancel := context.WithCancel(s.ctx)
	r, err := s.function(ctx, snap)
	if err != nil {
		// A fleet that never starts anything, to carry the failure.
		f := &fleet{slot: versionSlot{snap.FunctionARN, snap.Version}, ref: ref, provider: provider, revision: *snap.Config.RevisionId,
			fl: s.cfg.Sandbox.Fleet(&sandbox.Function{Key: sandbox.Key{FunctionARN: snap.FunctionARN, Version: snap.Version}}),
			r:  &runnable{fn: &sandbox.Function{}}, ctx: fctx, cancel: cancel}
		return f, err
	}
	fn := *r.fn
	f := &fleet{
		slot:     versionSlot{snap.FunctionARN, snap.Version},
		ref:      ref,
		provider: provider,
		revision: *snap.Config.RevisionId,
		fl:       s.cfg.Sandbox.Fleet(&fn),
		r:        &runnable{fn: &fn, logGroup: r.logGroup, logStream: r.logStream, m: r.m},
		vcpus:    max(fn.CPUs, 1),
		memMB:    fn.MemoryMB,
		ctx:      fctx,
		cancel:   cancel,
	}
	if p := s.scale.place.Load(); p != nil {
		if st, ok := p.Recorded(ref, f.revision); ok && st.State == "Active" {
			// Taken over from a node that stopped: AWS's versions do not
			// go back to Pending; until environments start here, invokes
			// are throttled.
			f.activated = true
			s.setState(f, st)
			return f, nil
		}
	}
	s.setState(f, functions.ManagedState{State: "Pending", Reason: "The function is being created.", ReasonCode: reasonCreating})
	return f, nil
}

// retireFleet stops a fleet's environments and gives back its budget;
// scaler.mu held.
func (s *Service) retireFleet(f *fleet) {
	sc := &s.scale
	delete(sc.fleets, f.slot)
	sc.live.CompareAndDelete(f.slot, f)
	f.cancel()
	f.fl.Retire()
	s.unreserve(f, f.reserved)
}

// scaleFleet starts environments until f has want (within Min..Max and the
// budget) and stops idle ones above Max; scaler.mu held.
func (s *Service) scaleFleet(ctx context.Context, f *fleet, want int) {
	envs, _, _ := f.fl.Load()
	// Environments gone by themselves (an init that failed again after a
	// crash) give their budget back.
	if extra := f.reserved - envs - f.starting; extra > 0 {
		s.unreserve(f, extra)
	}
	want = min(max(want, f.min), f.max)
	if envs > f.max {
		s.unreserve(f, f.fl.Shrink(f.max))
		envs, _, _ = f.fl.Load()
	}
	for n := want - envs - f.starting; n > 0; n-- {
		if !s.reserve(ctx, f) {
			break
		}
		f.starting++
		go s.startEnv(f)
	}
	s.updateState(f)
}

// startEnv starts one environment of f.
func (s *Service) startEnv(f *fleet) {
	log, err := f.fl.Start(f.ctx)
	if s.cfg.Logs != nil && len(log) > 0 {
		s.cfg.Logs.Append(f.r.logGroup, f.r.logStream, log)
	}
	sc := &s.scale
	sc.mu.Lock()
	defer sc.mu.Unlock()
	f.starting--
	if err == nil {
		s.updateState(f)
		return
	}
	s.unreserve(f, 1)
	if f.ctx.Err() != nil {
		return // retired meanwhile
	}
	var ie *sandbox.InitError
	if errors.As(err, &ie) {
		if s.cfg.Logs != nil && len(ie.Log) > 0 {
			s.cfg.Logs.Append(f.r.logGroup, f.r.logStream, ie.Log)
		}
		if !f.activated {
			// [?] AWS's StateReason wording for a failed init is not documented.
			s.failFleet(f, reasonFunctionErr, "The function could not be initialized: "+initErrorType(ie.Payload))
		}
		return
	}
	s.cfg.Logger.Warn("managed instances: start environment", "function", f.ref.QualifiedARN(), "err", err)
	if !f.activated {
		s.failFleet(f, reasonFunctionErr, "The function's execution environment could not be started.") // [?]
	}
}

// setState sets f's state and, in a cluster, reports it in the background
// (a store write), the last state set last; scaler.mu held.
func (s *Service) setState(f *fleet, st functions.ManagedState) {
	f.state.Store(&st)
	p := s.scale.place.Load()
	if p == nil || f.revision == "" {
		return
	}
	seq := f.stateSeq.Add(1)
	go func() {
		f.reportMu.Lock()
		defer f.reportMu.Unlock()
		if f.stateSeq.Load() == seq { // else a later state reports itself
			p.Report(f.ref, f.provider, f.revision, st)
		}
	}()
}

// failFleet marks f Failed and stops its environments; scaler.mu held.
func (s *Service) failFleet(f *fleet, code, reason string) {
	f.failed = true
	s.setState(f, functions.ManagedState{State: "Failed", Reason: reason, ReasonCode: code})
	s.unreserve(f, f.fl.Shrink(0))
}

// initErrorType is the errorType of an init failure's payload.
func initErrorType(p []byte) string {
	const k = `"errorType":"`
	if i := strings.Index(string(p), k); i >= 0 {
		rest := string(p[i+len(k):])
		if j := strings.IndexByte(rest, '"'); j >= 0 {
			return rest[:j]
		}
	}
	return "Runtime.Unknown"
}

// updateState makes f Active once its minimum is started; scaler.mu held.
func (s *Service) updateState(f *fleet) {
	if f.failed || f.activated {
		return
	}
	envs, _, _ := f.fl.Load()
	switch {
	case envs >= f.min:
		f.activated = true
		s.setState(f, functions.ManagedState{State: "Active"})
	case f.starting == 0:
		// The minimum does not fit the provider's budget. [?] AWS's
		// StateReason wording is not documented.
		s.failFleet(f, reasonScalingLimit, "The capacity provider cannot start the function's minimum execution environments: its MaxVCpuCount or the host's memory is exhausted.")
	}
}

// reserve takes one environment of f out of its provider's budget, or
// reports (once) that the budget is exhausted; scaler.mu held.
func (s *Service) reserve(ctx context.Context, f *fleet) bool {
	sc := &s.scale
	limit := math.Inf(1)
	if s.cfg.CapacityProvider != nil {
		if p, err := s.cfg.CapacityProvider(ctx, f.provider); err == nil && p.Scaling != nil && p.Scaling.MaxVCpuCount != nil {
			limit = float64(*p.Scaling.MaxVCpuCount)
		}
	}
	host := s.hostMemoryMB()
	if sc.vcpus[f.provider]+f.vcpus > limit+1e-9 || (host > 0 && sc.memMB+f.memMB > host) {
		if !sc.exhausted[f.provider] {
			sc.exhausted[f.provider] = true
			s.cfg.Logger.Warn("managed instances: capacity provider budget exhausted, not scaling up",
				"capacityProvider", f.provider, "function", f.ref.QualifiedARN(),
				"vcpusUsed", sc.vcpus[f.provider], "maxVCpuCount", limit, "memoryMBUsed", sc.memMB, "hostMemoryMB", host)
		}
		return false
	}
	sc.vcpus[f.provider] += f.vcpus
	sc.memMB += f.memMB
	f.reserved++
	return true
}

// unreserve gives n environments of f back to the budget; scaler.mu held.
func (s *Service) unreserve(f *fleet, n int) {
	if n <= 0 {
		return
	}
	sc := &s.scale
	n = min(n, f.reserved)
	f.reserved -= n
	sc.vcpus[f.provider] = max(sc.vcpus[f.provider]-float64(n)*f.vcpus, 0)
	sc.memMB = max(sc.memMB-n*f.memMB, 0)
	delete(sc.exhausted, f.provider)
}

// hostMemoryMB is this machine's memory (Config.HostMemoryMB, or
// /proc/meminfo's MemTotal); 0 when unknown.
func (s *Service) hostMemoryMB() int {
	if s.cfg.HostMemoryMB > 0 {
		return s.cfg.HostMemoryMB
	}
	if n := s.hostMem.Load(); n != 0 {
		return int(n)
	}
	n := int64(-1)
	if fh, err := os.Open("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			if f := strings.Fields(sc.Text()); len(f) >= 2 && f[0] == "MemTotal:" {
				if kb, err := strconv.ParseInt(f[1], 10, 64); err == nil {
					n = kb / 1024
				}
			}
		}
		fh.Close()
	}
	s.hostMem.Store(n)
	return max(int(n), 0)
}

// scaleLoop looks at every fleet's utilisation each interval, or at once
// when an invoke was throttled.
func (s *Service) scaleLoop(ctx context.Context) {
	interval := s.cfg.ScaleInterval
	if interval <= 0 {
		interval = defaultScaleInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			s.retireAllFleets()
			return
		case <-t.C:
		case <-s.scale.nudge:
		}
		s.scaleTick(ctx)
	}
}

// retireAllFleets stops every fleet (lambdad stops).
func (s *Service) retireAllFleets() {
	sc := &s.scale
	sc.mu.Lock()
	defer sc.mu.Unlock()
	for _, f := range sc.fleets {
		s.retireFleet(f)
	}
}

// scaleTick scales each fleet to its target utilisation.
func (s *Service) scaleTick(ctx context.Context) {
	sc := &s.scale
	sc.mu.Lock()
	defer sc.mu.Unlock()
	for _, f := range sc.fleets {
		if f.failed {
			continue
		}
		envs, busy, slots := f.fl.Load()
		peak := max(int(f.peak.Swap(f.inflight.Load())), busy)
		throttled := f.throttled.Swap(0)
		perEnv := 1
		if envs > 0 {
			perEnv = max(slots/envs, 1)
		}
		want := int(math.Ceil(float64(peak) / (defaultTargetUtilization * float64(perEnv))))
		// CPU utilisation, where the environments' cgroups tell it: as
		// many environments as keep the average at the target.
		if util, ok := f.fl.CPUUtilization(); ok && envs > 0 {
			want = max(want, int(math.Ceil(float64(envs)*util/s.cpuTarget(ctx, f.provider)-1e-9)))
		}
		if throttled > 0 {
			want = max(want, envs+f.starting+1)
		}
		if want >= envs {
			f.spare = 0
			s.scaleFleet(ctx, f, want)
			continue
		}
		// One environment fewer after scaleDownTicks spare looks in a row.
		if f.spare++; f.spare >= scaleDownTicks && envs > f.min {
			f.spare = 0
			s.unreserve(f, f.fl.Shrink(envs-1))
		}
		s.scaleFleet(ctx, f, 0) // Min kept, Max applied
	}
}

// cpuTarget is the CPU utilisation the scaler holds environments at: in
// ScalingMode Manual, the provider's target tracking policy's TargetValue
// (a percentage of LambdaCapacityProviderAverageCPUUtilization, the one
// metric AWS's model has); in Auto, lambdad's default.
func (s *Service) cpuTarget(ctx context.Context, provider string) float64 {
	if s.cfg.CapacityProvider == nil {
		return defaultTargetUtilization
	}
	p, err := s.cfg.CapacityProvider(ctx, provider)
	if err != nil || p.Scaling == nil || p.Scaling.ScalingMode != "Manual" {
		return defaultTargetUtilization
	}
	for _, pol := range p.Scaling.Policies {
		if pol.Metric == "LambdaCapacityProviderAverageCPUUtilization" && pol.Target > 0 && pol.Target <= 100 {
			return pol.Target / 100
		}
	}
	return defaultTargetUtilization
}

// runManaged runs an invocation of a published managed-instances version
// on a free slot of its fleet, or throttles it: there is no cold start on
// the request path.
func (s *Service) runManaged(ctx context.Context, snap *functions.Snapshot, requestID string, payload []byte, clientContext string) (sandbox.Result, error) {
	f := s.fleetOf(snap.FunctionARN, snap.Version, *snap.Config.RevisionId)
	if f == nil {
		if p := s.scale.place.Load(); p != nil {
			prov := functions.ManagedProvider(snap)
			var err error = ErrNoOwner // owned here since a moment: its environments are about to start
			res := sandbox.Result{}
			if ctx.Value(managedHereKey{}) == nil && !p.Owns(prov) {
				// Another node runs the provider (an Event invoke or a
				// batch leased here; synchronous invokes were placed
				// there already).
				res, err = p.RunElsewhere(ctx, ManagedRun{Provider: prov, Function: snap.QualifiedARN, Version: snap.Version,
					RequestID: requestID, ClientContext: clientContext, Trace: traceOf(ctx), Payload: payload})
			}
			if errors.Is(err, ErrNoOwner) {
				s.throttled(snap)
				return res, managedThrottle()
			}
			return res, err
		}
		// Retired or replaced since the version was resolved Active.
		return sandbox.Result{}, fault.Conflictf("Function", "The operation cannot be performed at this time. The function is currently in the following state: Pending")
	}
	n := f.inflight.Add(1)
	for p := f.peak.Load(); n > p && !f.peak.CompareAndSwap(p, n); p = f.peak.Load() {
	}
	res, err := f.fl.Invoke(ctx, invocation(ctx, snap, requestID, payload, clientContext))
	f.inflight.Add(-1)
	if errors.Is(err, sandbox.ErrNoSlot) {
		f.throttled.Add(1)
		s.throttled(snap)
		select {
		case s.scale.nudge <- struct{}{}:
		default:
		}
		return res, managedThrottle()
	}
	if err != nil {
		return res, err
	}
	s.ran(f.r, requestID, &res)
	return res, nil
}

// managedHereKey marks a run passed on by another node: it runs here or
// not at all, never passed on again.
type managedHereKey struct{}

// RunManagedHere runs an invocation another node passed on (ManagedRun),
// on this node's environments of the version.
func (s *Service) RunManagedHere(ctx context.Context, run ManagedRun) (sandbox.Result, error) {
	invoked, ok := functions.QualifiedRefOfARN(run.Function)
	if !ok {
		return sandbox.Result{}, fault.InvalidParameterf("not a function ARN: %s", run.Function)
	}
	ref := invoked
	ref.Qualifier = run.Version
	snap, err := s.resolve(ctx, ref)
	if err != nil {
		return sandbox.Result{}, err
	}
	if functions.ManagedProvider(snap) != run.Provider {
		return sandbox.Result{}, fault.Conflictf("Function", "The operation cannot be performed at this time. The function is currently in the following state: Pending")
	}
	routed := *snap
	routed.Ref, routed.QualifiedARN = invoked, invoked.QualifiedARN() // as pick does
	ctx = context.WithValue(withTrace(ctx, run.Trace), managedHereKey{}, true)
	return s.runManaged(ctx, &routed, run.RequestID, run.Payload, run.ClientContext)
}

// managedThrottle is the 429 of an invoke that finds every slot taken.
// [?] AWS documents the 429 ("Lambda Managed Instances might reject new
// invokes to protect invokes that are already in flight") but neither a
// Reason of its own nor the message: the account concurrency one's are used.
func managedThrottle() error {
	return fault.TooManyRequestsf(fault.ReasonAccountConcurrency, "Rate Exceeded.")
}
