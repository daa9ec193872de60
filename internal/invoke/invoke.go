// Package invoke is the data plane's front: it resolves a function reference
// to an immutable version, admits the call under the concurrency limits and
// runs it in a sandbox, synchronously or through the durable event queue.
package invoke

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lambdad/lambdad/internal/blobs"
	"github.com/lambdad/lambdad/internal/capacity"
	"github.com/lambdad/lambdad/internal/durable"
	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/fncreds"
	"github.com/lambdad/lambdad/internal/functions"
	"github.com/lambdad/lambdad/internal/ids"
	"github.com/lambdad/lambdad/internal/limits"
	"github.com/lambdad/lambdad/internal/logs"
	"github.com/lambdad/lambdad/internal/runtimes"
	"github.com/lambdad/lambdad/internal/sandbox"
	"github.com/lambdad/lambdad/internal/store"
	"github.com/lambdad/lambdad/internal/textcheck"
)

// Limits of Invoke, as AWS has them (the 6 MB synchronous limit is the API
// layer's body limit).
const (
	maxEventPayload = 1048576
	tailBytes       = 4096
)

// Config wires the data plane.
type Config struct {
	Functions *functions.Service
	Blobs     *blobs.Store
	Sandbox   *sandbox.Manager
	Runtimes  *runtimes.Catalog
	Store     store.Store
	Logs      logs.Appender
	// AccountLimit is each account's concurrent executions limit.
	AccountLimit int32
	// LambdaEndpoint is this lambdad's URL, given to functions as
	// AWS_ENDPOINT_URL_LAMBDA so they can invoke each other.
	LambdaEndpoint string
	// AWSEndpoint, when set, becomes AWS_ENDPOINT_URL for functions.
	AWSEndpoint string
	// RetryBase is the first retry delay of failed Event invokes.
	RetryBase time.Duration
	// ThrottleBase is the first retry delay of throttled Event invokes; it
	// doubles per throttle up to 300 times itself (AWS: 1 s to 5 min).
	ThrottleBase time.Duration
	// Credentials issues each environment credentials of its own, valid
	// for its function's account and region until the environment stops.
	Credentials *fncreds.Registry
	// Durable, when set, runs functions with DurableConfig as durable
	// executions (durable.go); without it their invokes answer 501.
	Durable *durable.Service
	// CapacityProvider reads a capacity provider (its scaling config is
	// the budget of Lambda Managed Instances, scaler.go); nil: no budget
	// but the host's memory.
	CapacityProvider func(ctx context.Context, arn string) (*capacity.Provider, error)
	// ScaleInterval is how often Managed Instances scale (default 1 s);
	// HostMemoryMB the memory they share (default: the host's).
	ScaleInterval time.Duration
	HostMemoryMB  int
	// Destinations, when set, delivers event records and dead-letter
	// events to SQS, SNS, EventBridge and S3 (destinations.go).
	Destinations Destinations
	// StreamLimit is the most a streamed response may be (0: AWS's 200
	// MB); StreamBandwidth caps its bytes per second past the first 6 MB,
	// as AWS does (0: uncapped). See stream.go.
	StreamLimit, StreamBandwidth int64
	// Admission counts executions against the concurrency limits
	// (admission.go); default: in this process.
	Admission Admission
	// Metrics, when set, keeps per-function figures (metrics.go).
	Metrics Metrics
	Logger  *slog.Logger
	// NodeID names this node in the leases it takes on queued events
	// (lease.go): unique among the nodes sharing Store (default: random).
	// LeaseTime is how long a lease lasts unrenewed (default 10 s).
	NodeID    string
	LeaseTime time.Duration
	// ExclusiveStore says no other process uses Store (the embedded
	// store): at start, every lease in it is a dead run's, released at
	// once rather than left to run out.
	ExclusiveStore bool
}

// Service runs invokes.
type Service struct {
	cfg      Config
	fns      sync.Map // sandbox.Key -> *runnable
	current  sync.Map // versionSlot -> its latest sandbox.Key (to retire replaced environments)
	queue    *eventQueue
	endpoint atomic.Pointer[string]
	counts   Counts
	dur      *durableRunner // nil without Config.Durable
	prov     provisioner    // provisioned concurrency (provisioned.go)
	scale    scaler         // Lambda Managed Instances (scaler.go)
	hostMem  atomic.Int64   // the host's memory in MB, once read (-1: unknown)
	sampling sync.Map       // function ARN -> *atomic.Int64, X-Ray's reservoir (trace.go)
	activity activity       // what the web console shows (activity.go)
	ctx      context.Context
}

// Counts are the data plane's running totals, for metrics.
type Counts struct {
	Invocations, FunctionErrors, Throttles, Events atomic.Int64
	DurationMicros                                 atomic.Int64
}

// Counts returns the running totals.
func (s *Service) Counts() *Counts { return &s.counts }

// SetLambdaEndpoint sets AWS_ENDPOINT_URL_LAMBDA for environments started
// from now on (the address is known only once lambdad listens).
func (s *Service) SetLambdaEndpoint(url string) { s.endpoint.Store(&url) }

// New makes the data plane and starts the event queue.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Admission == nil {
		cfg.Admission = &LocalAdmission{}
	}
	if cfg.AccountLimit == 0 {
		cfg.AccountLimit = limits.DefaultConcurrentExecutions
	}
	if cfg.RetryBase == 0 {
		cfg.RetryBase = time.Second
	}
	if cfg.ThrottleBase == 0 {
		cfg.ThrottleBase = time.Second
	}
	if cfg.Credentials == nil {
		cfg.Credentials = fncreds.New()
	}
	if cfg.NodeID == "" {
		cfg.NodeID = RandomNodeID()
	}
	if cfg.LeaseTime <= 0 {
		cfg.LeaseTime = DefaultLeaseTime
	}
	s := &Service{cfg: cfg, ctx: ctx}
	s.scale.nudge = make(chan struct{}, 1)
	s.SetLambdaEndpoint(cfg.LambdaEndpoint)
	q, err := startQueue(ctx, s)
	if err != nil {
		return nil, err
	}
	s.queue = q
	if cfg.Durable != nil {
		s.dur = newDurableRunner(ctx, s, cfg.Durable)
	}
	return s, nil
}

// Close stops the event queue.
func (s *Service) Close() { s.queue.stop() }

// Type is how an invocation runs.
type Type uint8

const (
	// Sync runs the function now and answers its result (RequestResponse).
	Sync Type = iota
	// Event stores the payload durably and runs it later, with retries.
	Event
	// DryRun checks that the function could be invoked and runs nothing.
	DryRun
)

// Options are the caller's choices for one invocation.
type Options struct {
	Type Type
	// RequestID names the invocation to the function and in its log; a
	// new one is made when it is empty.
	RequestID string
	// ClientContext is the caller's client context, already decoded JSON,
	// handed to a Sync run as it is; nil when there is none.
	ClientContext []byte
	// Tail asks for the end of the run's log in Result.LogTail.
	Tail bool
	// DurableExecutionName names the durable execution an invoke of a
	// durable function starts ("" has one generated).
	DurableExecutionName string
	// TenantID is the invoke's tenant (X-Amz-Tenant-Id): required by a
	// tenant-isolated function, refused by any other (tenancy.go).
	TenantID string
	// TraceHeader is the caller's X-Amzn-Trace-Id: the run's trace
	// continues it, and its lineage counts recursive invokes (trace.go,
	// recursion.go).
	TraceHeader string
}

// Result is what one invocation answered. Event and DryRun invocations
// answer an empty Result.
type Result struct {
	// Payload is the function's response, or its error document.
	Payload []byte
	// FunctionError is set ("Unhandled", or the runtime's type) when the
	// function failed; Payload then describes the failure.
	FunctionError string
	// ExecutedVersion is the version that ran, once one was chosen (even
	// when running it then failed).
	ExecutedVersion string
	// LogTail is the last 4 KB of the run's log, raw, when Options.Tail
	// asked for it.
	LogTail []byte
	// DurableExecutionArn is the execution an invoke of a durable function
	// started (or found under its name).
	DurableExecutionArn string
}

// Invoke invokes the function ref names with payload ("{}" when empty).
// Its errors are faults: the function or version missing or not ready, the
// payload refused, a concurrency limit reached, the runtime unable to start.
func (s *Service) Invoke(ctx context.Context, ref functions.Ref, payload []byte, opts Options) (Result, error) {
	if opts.Type > DryRun {
		return Result{}, fmt.Errorf("invoke: unknown invocation type %d", opts.Type)
	}
	if opts.Type == Event && len(payload) > maxEventPayload {
		return Result{}, fault.New(fault.PayloadTooLarge, "%d byte payload is too large for the Event invocation type (limit %d bytes)", len(payload), maxEventPayload)
	}
	if len(payload) == 0 {
		payload = []byte("{}")
	}
	if err := checkPayload(payload); err != nil {
		return Result{}, err
	}
	if opts.RequestID == "" {
		opts.RequestID = ids.UUID()
	}
	snap, err := s.resolve(ctx, ref)
	if err != nil {
		return Result{}, err
	}
	if err := checkTenant(snap, opts.TenantID); err != nil {
		return Result{}, err
	}
	if err := durableTenancy(snap); err != nil {
		return Result{}, err
	}
	if snap.Config.DurableConfig != nil {
		return s.invokeDurable(ctx, ref, snap, payload, opts)
	}
	switch opts.Type {
	case DryRun:
		return Result{}, nil
	case Event:
		return Result{}, s.queue.enqueue(ctx, event{Account: ref.Account, Region: ref.Region, Name: ref.Name, Qualifier: ref.Qualifier, Payload: payload, ID: opts.RequestID, Tenant: opts.TenantID, Trace: opts.TraceHeader})
	}
	// A caller that hangs up does not end the run (as on AWS): it keeps its
	// slot, and its log and counts are kept, until it ends.
	return s.execute(context.WithoutCancel(ctx), ref, snap, payload, opts)
}

// checkPayload refuses a payload that is not JSON in UTF-8, in AWS's words.
func checkPayload(payload []byte) error {
	const prefix = "Could not parse request body into json: Could not parse payload into json: "
	if !json.Valid(payload) {
		return fault.New(fault.InvalidContent, prefix+"%s", jsonProblem(payload))
	}
	if msg, bad := textcheck.InvalidUTF8(payload); bad {
		return fault.New(fault.InvalidContent, prefix+"%s", msg)
	}
	return nil
}

// execute runs an invocation of ref, resolved to snap, now: the alias's
// routing picks the version and the sandbox runs it. The event queue runs
// its events through here too.
func (s *Service) execute(ctx context.Context, ref functions.Ref, snap *functions.Snapshot, payload []byte, opts Options) (Result, error) {
	snap, err := s.pick(ctx, ref, snap)
	if err != nil {
		return Result{}, err
	}
	trace, err := s.traceHeader(snap, opts.TraceHeader)
	if err != nil {
		return Result{}, err
	}
	ctx = withTrace(ctx, trace)
	if k := streamTo(ctx); k != nil {
		k.version = snap.Version
	}
	res, err := s.run(ctx, snap, opts.RequestID, payload, string(opts.ClientContext), opts.TenantID)
	out := Result{ExecutedVersion: snap.Version}
	if err != nil {
		return out, err
	}
	out.Payload, out.FunctionError = res.Payload, res.FunctionError
	if opts.Tail {
		out.LogTail = res.Log[len(res.Log)-min(len(res.Log), tailBytes):]
	}
	return out, nil
}

// pick applies an alias's routing weights: with its weight, an invocation
// goes to the alias's other version, under the alias's ARN.
func (s *Service) pick(ctx context.Context, ref functions.Ref, snap *functions.Snapshot) (*functions.Snapshot, error) {
	if snap.AltWeight == 0 || mrand.Float64() >= snap.AltWeight {
		return snap, nil
	}
	alt := ref
	alt.Qualifier = snap.AltVersion
	other, err := s.resolve(ctx, alt)
	if err != nil {
		return nil, err
	}
	routed := *other
	routed.Ref = ref // the function sees the alias ARN it was invoked by
	routed.QualifiedARN = snap.QualifiedARN
	return &routed, nil
}

// resolve finds the version and refuses functions that cannot run yet.
func (s *Service) resolve(ctx context.Context, ref functions.Ref) (*functions.Snapshot, error) {
	snap, err := s.cfg.Functions.Resolve(ctx, ref)
	if err != nil {
		if f, ok := fault.As(err); ok && f.Kind == fault.NotFound && f.Resource == "Function" {
			// Invoke names the version it looked for, $LATEST included.
			return nil, fault.NotFoundf("Function", "Function not found: %s", ref.VersionARN())
		}
		return nil, err
	}
	if snap.Pending {
		return nil, fault.Conflictf("Function", "The operation cannot be performed at this time. The function is currently in the following state: Pending")
	}
	return snap, nil
}

// run admits and executes one invocation. The slot, the log and the counts
// belong to the run until it ends: a caller that stops waiting (ctx) does
// not end it, so synchronous callers pass a context without cancellation.
func (s *Service) run(ctx context.Context, snap *functions.Snapshot, requestID string, payload []byte, clientContext, tenant string) (sandbox.Result, error) {
	if managed(snap) {
		return s.runManaged(ctx, snap, requestID, payload, clientContext)
	}
	// Tenant-isolated functions have no provisioned concurrency (refused
	// when configured).
	if tenant == "" {
		if res, ok, err := s.runProvisioned(ctx, snap, requestID, payload, clientContext); ok {
			return res, err
		}
	}
	att := s.attached(snap)
	relFn, relAcct, err := s.admit(ctx, snap, att)
	if err != nil {
		s.throttled(snap)
		return sandbox.Result{}, err
	}
	defer func() { relAcct(); relFn() }()
	// Hold the code before resolving its directory, so that an update
	// collecting it cannot remove it under this run.
	h, ok := s.holdRun(snap)
	if !ok {
		// Collected between resolving and holding: the version's code
		// changed, so look it up once more.
		if snap, err = s.reresolve(ctx, snap); err != nil {
			return sandbox.Result{}, err
		}
		if h, ok = s.holdRun(snap); !ok {
			return sandbox.Result{}, fmt.Errorf("code of %s is gone", snap.Ref.ARN())
		}
	}
	defer h.release()
	// What the sandbox runs is found once per snapshot: its key does not
	// change (its code is stored, unlike a hot-reload directory's).
	r := att.run.Load()
	if r == nil || r.retired.Load() || snap.Code.HotReloadDir != "" {
		if r, err = s.function(ctx, snap); err != nil {
			if res, ok := entrypointResult(snap, requestID, "", err); ok {
				return res, nil
			}
			return sandbox.Result{}, err
		}
		if snap.Code.HotReloadDir == "" {
			att.run.Store(r)
		}
	}
	fn := r.fn
	inv := invocation(ctx, snap, requestID, payload, clientContext)
	inv.Tenant, inv.TenantEnvLimit = runTenant(snap, tenant), s.tenantEnvLimit(snap)
	res, err := s.cfg.Sandbox.Invoke(ctx, fn, inv)
	if r.retired.Load() {
		// Replaced while this run used it: its environment may have gone
		// back to a pool made after the retirement; stop it too, so it
		// does not keep the replaced code.
		s.cfg.Sandbox.RetireKey(fn.Key)
	}
	if err != nil {
		if errors.Is(err, sandbox.ErrTenantEnvLimit) {
			s.throttled(snap)
			return res, tenantEnvThrottle(err)
		}
		if res, ok := entrypointResult(snap, requestID, firstArg(fn.Command), err); ok {
			return res, nil
		}
		var se *sandbox.StartError
		if errors.As(err, &se) {
			f := fault.New(fault.InvalidRuntime, "The runtime of function %s could not be started: %v", snap.Ref.ARN(), se)
			f.Err = err
			return res, f
		}
		return res, err
	}
	s.ran(r, requestID, &res)
	return res, nil
}

// hold leases snap's code and layers from the blob store until release, so
// that their unpacked trees outlive every use. ok is false when one of them
// is already gone. Hot-reload code is not in the store and needs none.
func (s *Service) hold(snap *functions.Snapshot) (release func(), ok bool) {
	if len(snap.Layers) == 0 { // the common case: one lease
		if snap.Code.SHA256Hex == "" {
			return noRelease, true
		}
		return s.cfg.Blobs.Hold(snap.Code.SHA256Hex)
	}
	var rels []func()
	undo := func() {
		for _, r := range rels {
			r()
		}
	}
	for _, c := range append([]functions.Code{snap.Code}, snap.Layers...) {
		if c.SHA256Hex == "" {
			continue
		}
		r, ok := s.cfg.Blobs.Hold(c.SHA256Hex)
		if !ok {
			undo()
			return nil, false
		}
		rels = append(rels, r)
	}
	return undo, true
}

func noRelease() {}

// held is what one run holds of the blob store: the code's lease in the
// common case, without a closure, or hold's release with layers.
type held struct {
	code  blobs.Lease
	other func()
}

func (h held) release() {
	h.code.Release()
	if h.other != nil {
		h.other()
	}
}

// holdRun is hold for one run.
func (s *Service) holdRun(snap *functions.Snapshot) (held, bool) {
	if len(snap.Layers) == 0 {
		if snap.Code.SHA256Hex == "" {
			return held{}, true
		}
		l, ok := s.cfg.Blobs.Lease(snap.Code.SHA256Hex)
		return held{code: l}, ok
	}
	r, ok := s.hold(snap)
	return held{other: r}, ok
}

// reresolve looks up snap's version again, keeping the reference it was
// invoked by (an alias routes to the same version).
func (s *Service) reresolve(ctx context.Context, snap *functions.Snapshot) (*functions.Snapshot, error) {
	ref := snap.Ref
	if snap.Version != functions.Latest {
		ref.Qualifier = snap.Version
	}
	again, err := s.resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	routed := *again
	routed.Ref = snap.Ref
	routed.QualifiedARN = snap.QualifiedARN
	return &routed, nil
}

// admit takes a concurrency slot of the function and, for a function
// without a reservation, of its account's unreserved pool, and returns how
// to give each back. As on AWS, a reservation is the function's alone: its
// invocations count against it only, and no other function may use it;
// provisioned concurrency comes out of the reservation, or else out of the
// pool, when it is configured (its invocations were admitted then).
func (s *Service) admit(ctx context.Context, snap *functions.Snapshot, att *attachment) (relFn, relAcct func(), err error) {
	limit := int32(Unlimited)
	if snap.Reserved != nil {
		limit = *snap.Reserved - s.provisionedTotal(snap.FunctionARN)
	}
	relFn, ok, err := att.fn.Admit(ctx, limit)
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		return nil, nil, fault.TooManyRequestsf(fault.ReasonReservedConcurrency, "Rate Exceeded.")
	}
	if snap.Reserved != nil {
		return relFn, noRelease, nil
	}
	relAcct, ok, err = att.acct.Admit(ctx, s.cfg.AccountLimit-snap.SetAside)
	if err != nil || !ok {
		relFn()
		if err == nil {
			err = fault.TooManyRequestsf(fault.ReasonAccountConcurrency, "Rate Exceeded.")
		}
		return nil, nil, err
	}
	return relFn, relAcct, nil
}

// attachment is what the data plane keeps with a snapshot, found once per
// snapshot instead of once per invoke. Its counters are the function's and
// the account's, shared by every snapshot of them (they are looked up by
// name, so a function deleted and created again, or whose reserved
// concurrency changed, counts on the same ones).
type attachment struct {
	fn, acct Counter
	// run is what the sandbox runs for the snapshot's key (stored code
	// only: a hot-reload directory's key changes with its content).
	run atomic.Pointer[runnable]
}

// attached returns snap's attachment, making it on first use.
func (s *Service) attached(snap *functions.Snapshot) *attachment {
	if snap.Attached != nil {
		if a, ok := snap.Attached.Load().(*attachment); ok {
			return a
		}
	}
	a := &attachment{
		fn:   s.cfg.Admission.Counter(FunctionScope(snap.FunctionARN)),
		acct: s.cfg.Admission.Counter(AccountScope(snap.Ref.Account, snap.Ref.Region)),
	}
	if snap.Attached != nil {
		// Racing first invokes make equal attachments; keep the first.
		if !snap.Attached.CompareAndSwap(nil, a) {
			return snap.Attached.Load().(*attachment)
		}
	}
	return a
}

// versionSlot is one version of a function, whatever its revision.
type versionSlot struct{ functionARN, version string }

// runnable is what the sandbox runs for one sandbox.Key.
type runnable struct {
	fn *sandbox.Function
	// Where its logs go, fixed for its key (the key has the revision).
	logGroup, logStream string // logGroup is the log store's key (logs.Key)
	// retired is set once a newer key of the same version replaced it.
	retired atomic.Bool
	// m records its invocations (tally.go; nil for a fleet that failed).
	m *tally
}

// function builds (once per snapshot) what the sandbox needs to run it.
func (s *Service) function(ctx context.Context, snap *functions.Snapshot) (*runnable, error) {
	key := sandbox.Key{FunctionARN: snap.FunctionARN, Version: snap.Version, Revision: *snap.Config.RevisionId}
	hotDir := snap.Code.HotReloadDir
	if hotDir != "" {
		// The allowed roots may have changed since the directory was
		// stored, or a symlink on its path: check it again, and run what
		// it resolves to now.
		dir, err := s.cfg.Functions.CheckHotReload(hotDir)
		if err != nil {
			if e, ok := fault.As(err); ok {
				f := *e
				f.Message = snap.Ref.ARN() + " cannot run: " + e.Message
				f.Err = err
				return nil, &f
			}
			return nil, err
		}
		hotDir = dir
		// Hot-reload code changes under us: environments are keyed by the
		// directory's state too, so an edit starts fresh ones.
		key.CodeState = fingerprint(dir)
	}
	if f, ok := s.fns.Load(key); ok {
		return f.(*runnable), nil
	}
	cfg := snap.Config
	if cfg.PackageType != nil && *cfg.PackageType == "Image" {
		return nil, fault.New(fault.InvalidRuntime, "Container image functions (PackageType Image) cannot run in lambdad yet: %s", snap.Ref.ARN())
	}
	codeDir := hotDir
	if codeDir == "" {
		dir, err := s.cfg.Blobs.Unpacked(ctx, snap.Code.SHA256Hex)
		if err != nil {
			return nil, fmt.Errorf("unpack code of %s: %w", snap.Ref.ARN(), err)
		}
		codeDir = dir
	} else if fi, err := os.Stat(codeDir); err != nil || !fi.IsDir() {
		return nil, fault.InvalidParameterf("The hot-reload directory %s of %s does not exist.", codeDir, snap.Ref.ARN())
	}
	var layerDirs []string
	for _, l := range snap.Layers {
		dir, err := s.cfg.Blobs.Unpacked(ctx, l.SHA256Hex)
		if err != nil {
			return nil, fmt.Errorf("unpack a layer of %s: %w", snap.Ref.ARN(), err)
		}
		layerDirs = append(layerDirs, dir)
	}
	launch, err := s.cfg.Runtimes.Launch(deref(cfg.Runtime), deref(cfg.Handler), codeDir, layerDirs)
	if err != nil {
		var ue *runtimes.UnavailableError
		if errors.As(err, &ue) {
			f := fault.New(fault.InvalidRuntime, "%s", ue.Error())
			f.Err = err
			return nil, f
		}
		return nil, err
	}
	f := &sandbox.Function{
		Key:                key,
		Command:            launch.Command,
		RuntimeDir:         launch.RuntimeDir,
		Env:                s.environment(snap, launch),
		CodeDir:            codeDir,
		LayerDirs:          layerDirs,
		HostDirs:           launch.HostDirs,
		RuntimeFallback:    launch.Fallback,
		LangDir:            launch.LangDir,
		MemoryMB:           int(deref32(cfg.MemorySize, limits.DefaultMemoryMB)),
		Timeout:            time.Duration(deref32(cfg.Timeout, limits.DefaultTimeoutSeconds)) * time.Second,
		EphemeralStorageMB: limits.DefaultEphemeralStorageMB,
		LogFormat:          "Text",
		EnvCredentials:     s.envCredentials(snap),
		// Each environment holds the code it starts from until it is gone.
		Hold: func() func() {
			if r, ok := s.hold(snap); ok {
				return r
			}
			return noRelease
		},
	}
	if cfg.EphemeralStorage != nil && cfg.EphemeralStorage.Size != nil {
		f.EphemeralStorageMB = int(*cfg.EphemeralStorage.Size)
	}
	if lc := cfg.LoggingConfig; lc != nil && lc.LogFormat != nil {
		f.LogFormat = *lc.LogFormat
	}
	logging(f, &cfg)
	managedInstances(f, &cfg)
	actual, _ := s.fns.LoadOrStore(key, &runnable{fn: f, logGroup: logs.Key(snap.Ref.Account, snap.Ref.Region, logGroup(snap)), logStream: streamOf(f), m: s.tally(snap)})
	// A new key for the same version means its code or configuration
	// changed: environments of the old one finish their work and stop.
	slot := versionSlot{key.FunctionARN, key.Version}
	if old, loaded := s.current.Swap(slot, key); loaded && old.(sandbox.Key) != key {
		if r, ok := s.fns.LoadAndDelete(old); ok {
			r.(*runnable).retired.Store(true)
		}
		s.cfg.Sandbox.RetireKey(old.(sandbox.Key))
	}
	return actual.(*runnable), nil
}

// fingerprint summarises a directory tree's names, sizes and times.
func fingerprint(dir string) string {
	h := sha256.New()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if fi, err := d.Info(); err == nil {
			fmt.Fprintf(h, "%s\x00%d\x00%d\n", p, fi.Size(), fi.ModTime().UnixNano())
		}
		return nil
	})
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// environment is what AWS sets for a function, then the function's own variables.
func (s *Service) environment(snap *functions.Snapshot, launch runtimes.Launch) []string {
	cfg := snap.Config
	region := snap.Ref.Region
	stream := logStream(snap.Version)
	env := []string{
		"AWS_LAMBDA_FUNCTION_NAME=" + snap.Ref.Name,
		"AWS_LAMBDA_FUNCTION_VERSION=" + snap.Version,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=" + strconv.Itoa(int(deref32(cfg.MemorySize, limits.DefaultMemoryMB))),
		"AWS_REGION=" + region,
		"AWS_DEFAULT_REGION=" + region,
		"AWS_LAMBDA_LOG_GROUP_NAME=" + logGroup(snap),
		"AWS_LAMBDA_LOG_STREAM_NAME=" + stream,
		"_HANDLER=" + deref(cfg.Handler),
		"AWS_LAMBDA_INITIALIZATION_TYPE=on-demand",
		"TZ=:UTC",
		"LANG=en_US.UTF-8",
		"PATH=/usr/local/bin:/usr/bin:/bin:/opt/bin",
		"LD_LIBRARY_PATH=/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:{TASK_ROOT}:{TASK_ROOT}/lib:/opt/lib",
		"AWS_XRAY_CONTEXT_MISSING=LOG_ERROR",
	}
	if ep := *s.endpoint.Load(); ep != "" {
		env = append(env, "AWS_ENDPOINT_URL_LAMBDA="+ep)
	}
	if s.cfg.AWSEndpoint != "" {
		env = append(env, "AWS_ENDPOINT_URL="+s.cfg.AWSEndpoint)
	}
	if lc := cfg.LoggingConfig; lc != nil && lc.LogFormat != nil && *lc.LogFormat == "JSON" {
		env = append(env, "AWS_LAMBDA_LOG_FORMAT=JSON")
		if lc.ApplicationLogLevel != nil {
			env = append(env, "AWS_LAMBDA_LOG_LEVEL="+*lc.ApplicationLogLevel)
		}
	}
	env = append(env, launch.Env...)
	if cfg.Environment != nil {
		for k, v := range cfg.Environment.Variables {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// envCredentials issues an environment of snap its own credentials.
func (s *Service) envCredentials(snap *functions.Snapshot) func() ([]string, func()) {
	account, region, arn := snap.Ref.Account, snap.Ref.Region, snap.Ref.ARN()
	return func() ([]string, func()) {
		c, release := s.cfg.Credentials.Issue(account, region, arn)
		return []string{
			"AWS_ACCESS_KEY_ID=" + c.AccessKeyID,
			"AWS_SECRET_ACCESS_KEY=" + c.SecretAccessKey,
			"AWS_SESSION_TOKEN=" + c.SessionToken,
		}, release
	}
}

func logGroup(snap *functions.Snapshot) string {
	if lc := snap.Config.LoggingConfig; lc != nil && lc.LogGroup != nil {
		return *lc.LogGroup
	}
	return "/aws/lambda/" + snap.Ref.Name
}

// logStream names a stream as AWS does: date/[version]random.
func logStream(version string) string {
	var b [16]byte
	rand.Read(b[:])
	return time.Now().UTC().Format("2006/01/02") + "/[" + version + "]" + hex.EncodeToString(b[:])
}

func streamOf(f *sandbox.Function) string {
	for _, e := range f.Env {
		if v, ok := strings.CutPrefix(e, "AWS_LAMBDA_LOG_STREAM_NAME="); ok {
			return v
		}
	}
	return "default"
}

func traceID() string {
	var r [12]byte
	rand.Read(r[:])
	var t [4]byte
	binary.BigEndian.PutUint32(t[:], uint32(time.Now().Unix()))
	// One allocation, the string: Root=1-<8 hex>-<24 hex>;Parent=<16 hex>;Sampled=0.
	b := make([]byte, 0, 80)
	b = append(b, "Root=1-"...)
	b = hex.AppendEncode(b, t[:])
	b = append(b, '-')
	b = hex.AppendEncode(b, r[:])
	b = append(b, ";Parent="...)
	b = hex.AppendEncode(b, r[:8])
	b = append(b, ";Sampled=0"...)
	return string(b)
}

func jsonProblem(b []byte) string {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err.Error()
	}
	return "invalid JSON"
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func deref32(n *int32, def int32) int32 {
	if n == nil {
		return def
	}
	return *n
}

// ran counts an invocation that ran, keeps its log in r's stream and says
// so in lambdad's own log.
func (s *Service) ran(r *runnable, requestID string, res *sandbox.Result) {
	s.logInvocation(r, requestID, res)
	if r.m != nil { // nil only for a fleet that never started
		r.m.Ran(res.Duration, res.InitDuration, res.FunctionError != "")
	}
	if s.cfg.Logs != nil && len(res.Log) > 0 {
		// Lines without a timestamp of their own are stamped when they
		// came (res.LogMarks); START when the invocation began.
		stream := r.logStream
		if res.LogStream != "" { // each environment has its own, as on AWS
			stream = res.LogStream
		}
		s.cfg.Logs.AppendMarked(r.logGroup, stream, res.Log, time.Now().Add(-res.Duration-res.InitDuration), res.LogMarks)
	}
}

// invocation is one run of snap as the sandbox takes it.
// A streamed invoke's context carries the stream the response goes to,
// and every invoke's the trace header it runs with.
func invocation(ctx context.Context, snap *functions.Snapshot, requestID string, payload []byte, clientContext string) sandbox.Invocation {
	qualified := snap.QualifiedARN
	if qualified == "" { // a snapshot not made by Resolve
		qualified = snap.Ref.QualifiedARN()
	}
	inv := sandbox.Invocation{RequestID: requestID, InvokedFunctionARN: qualified, TraceID: traceOf(ctx),
		ClientContext: clientContext, Payload: payload}
	if k := streamTo(ctx); k != nil {
		inv.Stream, inv.StreamLimit = k, k.limit
	}
	return inv
}
