// Package sandbox runs Lambda execution environments: one process group per
// environment, each served its own Lambda Runtime API endpoint, optionally
// confined with Linux namespaces and cgroups, and pooled warm per function.
//
// Isolation re-executes the current binary (/proc/self/exe) as a small init
// helper inside new mount and PID namespaces; the helper builds the
// environment's root from an allow-list (system dirs and /etc files
// read-only, the interpreter's prefix, code at /var/task, layers at /opt, a
// size-limited /tmp), joins the cgroup, drops all capabilities, becomes the
// environment's own unprivileged user and execs the bootstrap as PID 1.
// Each environment's Runtime API accepts connections from that user only.
// That helper is package nsinit, whose init() runs it, so any binary
// importing sandbox, test binaries included, handles the re-exec before
// main runs; cmd/lambdad may call MaybeRunInit first thing in main to make
// that explicit.
package sandbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lambdad/lambdad/internal/logs"
)

// Config configures a Manager.
type Config struct {
	// WorkDir holds per-environment scratch (tmp dirs, merged /opt). Stale
	// content is wiped by NewManager.
	WorkDir string
	// MaxParallelStarts bounds concurrent cold starts (default 2*NumCPU).
	MaxParallelStarts int
	// IdleTimeout stops environments idle for this long (default 10m).
	IdleTimeout time.Duration
	// Isolation is "auto" (namespaces and cgroups when the kernel allows,
	// else unconfined with one warning) or "off".
	Isolation string
	// HideDirs are host directories isolated environments must not see.
	HideDirs []string
	Logger   *slog.Logger

	// For tests and benchmarks: how many ready /tmp disks to keep (0:
	// the default, <0: none), and tmpfs /tmp's instead of disks.
	tmpPool   int
	tmpfsOnly bool
}

// Key identifies what an environment runs: one version of a function, as
// configured at one revision. Environments are pooled per Key, and retired
// by function, by version or by Key.
type Key struct {
	FunctionARN string // unqualified
	Version     string // "$LATEST" or a version number
	// Revision changes with every update of the version's code or
	// configuration (its RevisionId).
	Revision string
	// CodeState is the state of a hot-reload directory, "" for stored
	// code: an edit there changes it, so new environments load the edit.
	CodeState string
	// Tenant is the tenant a tenant-isolated function's environments
	// serve, each one tenant for its whole life ("" otherwise); see
	// tenancy.go.
	Tenant string
}

func (k Key) String() string {
	s := k.FunctionARN + ":" + k.Version + "@" + k.Revision
	if k.CodeState != "" {
		s += "#" + k.CodeState
	}
	if k.Tenant != "" {
		s += "~" + k.Tenant
	}
	return s
}

// Function describes one runnable version; environments are pooled per Key.
type Function struct {
	Key Key
	// Command is the argv to run. "{TASK_ROOT}", "{OPT}" and "{RUNTIME_DIR}"
	// are replaced by the paths as seen inside the environment.
	Command    []string
	RuntimeDir string
	// Env is KEY=VALUE; placeholders are replaced in values too.
	Env       []string
	CodeDir   string
	LayerDirs []string
	// HostDirs are host dirs the runtime needs besides the system's, such
	// as its interpreter's install prefix; isolated environments see them
	// read-only at the same paths.
	HostDirs           []string
	MemoryMB           int
	Timeout            time.Duration
	EphemeralStorageMB int
	// LogFormat is "Text" (default) or "JSON" for platform log lines.
	LogFormat string
	// SystemLogLevel and ApplicationLogLevel are LoggingConfig's: under
	// JSON they filter platform records and the function's output lines
	// (loglevel.go). Empty: INFO and no filter.
	SystemLogLevel, ApplicationLogLevel string
	// RuntimeVersion ("python:3.12") and RuntimeVersionARN name the
	// runtime in INIT_START.
	RuntimeVersion, RuntimeVersionARN string
	// LangDir, when set, is a language install of lambdad's own (lambdad
	// runtimes install) that isolated environments see read-only at
	// /var/lang, where AWS's runtimes have theirs, wherever the data
	// directory is ("{LANG_DIR}" in Command and Env).
	LangDir string
	// RuntimeFallback, when set, names the interpreter that runs in place
	// of the runtime's own version ("node 20.20.2 (fallback for
	// nodejs22.x)"): every REPORT says so (lambdad's own field).
	RuntimeFallback string
	// Hold, when set, is called as an environment is created; the release
	// it returns is called once the environment is cleaned up, so the code
	// and layer trees it starts from outlive it.
	Hold func() (release func())
	// EnvCredentials, when set, gives each environment variables of its
	// own (its credentials), appended after Env; release is called when the
	// environment is cleaned up.
	EnvCredentials func() (env []string, release func())
	// MaxConcurrency is how many invocations one environment holds at
	// once (Lambda Managed Instances' PerExecutionEnvironmentMaxConcurrency);
	// 0 or 1 is one at a time. See multi.go.
	MaxConcurrency int
	// CPUs caps the environment's CPU time, in CPUs, where the cgroup cpu
	// controller is available; 0 is no cap.
	CPUs float64
}

// Invocation is one event to run.
type Invocation struct {
	RequestID, InvokedFunctionARN, TraceID string
	ClientContext, CognitoIdentity         string
	Payload                                []byte
	// Tenant, for a tenant-isolated function, picks environments of that
	// tenant only (Key.Tenant) and is handed to the runtime.
	Tenant string
	// TenantEnvLimit, when a new environment is needed for Tenant, bounds
	// the environments of all the function's tenants (ErrTenantEnvLimit).
	TenantEnvLimit int
	// Stream, when set, gets the response as the runtime sends it, up to
	// StreamLimit bytes (0: DefaultStreamLimit); see stream.go.
	Stream      Sink
	StreamLimit int64
}

// Result is the outcome of one invocation.
type Result struct {
	Payload       []byte
	FunctionError string // "" or "Unhandled"
	Log           []byte
	// LogMarks say when Log's output arrived, for stamping its lines
	// (logs.SplitMarked); nil when no output but lambdad's came.
	LogMarks        []logs.Mark
	LogStream       string // the environment's log stream ("" when it has none)
	Duration        time.Duration
	InitDuration    time.Duration // non-zero on cold starts
	MaxMemoryUsedMB int
}

// Stats counts environments.
type Stats struct {
	Total, Busy, Idle int
}

// StartError reports that an environment's bootstrap could not be executed
// at all (missing, not executable, bad interpreter); callers map it to AWS's
// runtime errors.
type StartError struct {
	Command string
	Err     error
}

func (e *StartError) Error() string {
	return fmt.Sprintf("sandbox: cannot start %q: %v", e.Command, e.Err)
}

func (e *StartError) Unwrap() error { return e.Err }

// ErrClosed is returned by Invoke after Close.
var ErrClosed = errors.New("sandbox: manager closed")

// Manager owns all environments.
type Manager struct {
	cfg      Config
	log      *slog.Logger
	startSem chan struct{}
	iso      *isolation // nil when running unconfined

	pools      sync.Map    // Key -> *pool
	hasTenants atomic.Bool // some pool is a tenant's (tenancy.go)
	tenantEnvs sync.Map    // function ARN -> *atomic.Int64, its tenants' environments

	seq    atomic.Uint64
	total  atomic.Int64
	idle   atomic.Int64
	closed atomic.Bool

	envMu sync.Mutex
	envs  map[*env]struct{} // every live environment, for Close

	stopJanitor chan struct{}
	janitorDone chan struct{}
	debug       bool // forward function output to the logger
}

type pool struct {
	key     Key
	mu      sync.Mutex
	idle    []*env // LIFO: the most recently used is the warmest
	retired bool
	live    int // environments made for the pool and not stopped (tenancy.go)
	// shared are the environments holding several invocations at once
	// (multi.go), busy or not; grow makes them one at a time.
	shared []*env
	grow   sync.Mutex
}

// NewManager prepares WorkDir and probes isolation.
func NewManager(cfg Config) (*Manager, error) {
	if cfg.WorkDir == "" {
		return nil, errors.New("sandbox: WorkDir is required")
	}
	if cfg.MaxParallelStarts <= 0 {
		cfg.MaxParallelStarts = 2 * runtime.NumCPU()
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 10 * time.Minute
	}
	if cfg.Isolation == "" {
		cfg.Isolation = "auto"
	}
	if cfg.Isolation != "auto" && cfg.Isolation != "off" {
		return nil, fmt.Errorf("sandbox: unknown isolation mode %q", cfg.Isolation)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	wd, err := filepath.Abs(cfg.WorkDir)
	if err != nil {
		return nil, err
	}
	cfg.WorkDir = wd
	if err := wipeWorkDir(wd); err != nil {
		return nil, fmt.Errorf("sandbox: wipe %s: %w", wd, err)
	}
	if err := os.MkdirAll(wd, 0o755); err != nil {
		return nil, err
	}
	m := &Manager{
		cfg:         cfg,
		log:         cfg.Logger,
		startSem:    make(chan struct{}, cfg.MaxParallelStarts),
		envs:        make(map[*env]struct{}),
		stopJanitor: make(chan struct{}),
		janitorDone: make(chan struct{}),
	}
	m.debug = m.log.Enabled(context.Background(), slog.LevelDebug)
	if cfg.Isolation == "auto" {
		iso, err := newIsolation(cfg, m.log.Warn)
		if err != nil {
			m.log.Warn("sandbox: isolation unavailable, environments run unconfined", "reason", err.Error())
		} else {
			m.iso = iso
		}
	}
	if m.iso != nil {
		m.log.Info("sandbox: environments isolated", m.iso.describe()...)
	} else {
		m.log.Info("sandbox: environments unconfined", "isolation", cfg.Isolation)
		m.log.Warn("sandbox: unconfined environments run as lambdad's user on the host's filesystem, and their Runtime API cannot be limited to them: any local process can answer another function's invocations")
	}
	go m.janitor()
	return m, nil
}

// Isolated reports whether environments are confined.
func (m *Manager) Isolated() bool { return m.iso != nil }

func (m *Manager) pool(key Key) *pool {
	if p, ok := m.pools.Load(key); ok {
		return p.(*pool)
	}
	p, loaded := m.pools.LoadOrStore(key, &pool{key: key})
	if !loaded && key.Tenant != "" {
		m.hasTenants.Store(true)
	}
	return p.(*pool)
}

func (p *pool) take() *env {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.idle); n > 0 {
		e := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		return e
	}
	return nil
}

// Invoke runs inv on a warm environment of fn, starting one when none is idle.
// A *StartError means the bootstrap cannot run; function failures are
// reported in Result.FunctionError, not as errors.
func (m *Manager) Invoke(ctx context.Context, fn *Function, inv Invocation) (Result, error) {
	if m.closed.Load() {
		return Result{}, ErrClosed
	}
	if fn.MaxConcurrency > 1 {
		return m.invokeMulti(ctx, fn, inv)
	}
	p := m.pool(tenantKey(fn.Key, inv.Tenant))
	e := p.take()
	if e != nil {
		m.idle.Add(-1)
	} else {
		if err := m.admitTenantEnv(p, inv); err != nil {
			return Result{}, err
		}
		var err error
		e, err = m.newEnv(fn, p)
		if err != nil {
			return Result{}, err
		}
	}
	return e.invoke(ctx, inv)
}

// release returns a healthy environment to its pool, or stops it.
func (m *Manager) release(e *env) {
	p := e.pool
	p.mu.Lock()
	if p.retired || m.closed.Load() {
		p.mu.Unlock()
		e.stop()
		return
	}
	e.idleSince = time.Now()
	p.idle = append(p.idle, e)
	m.idle.Add(1)
	p.mu.Unlock()
}

// Retire makes the environments of a function's version, or of all its
// versions when version is "", take no new work; idle ones stop now, busy
// ones when their invocation ends.
func (m *Manager) Retire(functionARN, version string) {
	m.pools.Range(func(k, v any) bool {
		if key := k.(Key); key.FunctionARN == functionARN && (version == "" || key.Version == version) {
			m.retire(key, v.(*pool))
		}
		return true
	})
}

// RetireKey retires the environments of exactly key, as Retire does,
// those of every tenant of key included.
func (m *Manager) RetireKey(key Key) {
	if p, ok := m.pools.Load(key); ok {
		m.retire(key, p.(*pool))
	}
	m.retireTenants(key)
}

func (m *Manager) retire(key Key, p *pool) {
	m.pools.CompareAndDelete(key, p)
	p.mu.Lock()
	p.retired = true
	idle := p.idle
	p.idle = nil
	m.idle.Add(-int64(len(idle)))
	idle = append(idle, m.dropSharedLocked(p)...)
	p.mu.Unlock()
	for _, e := range idle {
		e.stop()
	}
}

// Stats reports environment counts.
func (m *Manager) Stats() Stats {
	t, i := int(m.total.Load()), int(m.idle.Load())
	b := max(t-i, 0)
	return Stats{Total: t, Busy: b, Idle: i}
}

// Close stops every environment and process the Manager started.
func (m *Manager) Close(ctx context.Context) error {
	if m.closed.Swap(true) {
		return nil
	}
	close(m.stopJanitor)
	<-m.janitorDone
	m.pools.Range(func(k, v any) bool {
		p := v.(*pool)
		p.mu.Lock()
		p.retired = true
		m.idle.Add(-int64(len(p.idle)))
		p.idle = nil
		m.dropSharedLocked(p) // Close stops every environment below
		p.mu.Unlock()
		m.pools.Delete(k)
		return true
	})
	m.envMu.Lock()
	all := make([]*env, 0, len(m.envs))
	for e := range m.envs {
		all = append(all, e)
	}
	m.envMu.Unlock()
	var wg sync.WaitGroup
	for _, e := range all {
		wg.Go(e.stop)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	if m.iso != nil {
		m.iso.close()
	}
	return nil
}

// janitor stops environments idle longer than IdleTimeout.
func (m *Manager) janitor() {
	defer close(m.janitorDone)
	tick := min(max(m.cfg.IdleTimeout/4, 10*time.Millisecond), 30*time.Second)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-m.stopJanitor:
			return
		case now := <-t.C:
			var expired []*env
			m.pools.Range(func(_, v any) bool {
				p := v.(*pool)
				p.mu.Lock()
				kept := p.idle[:0]
				for _, e := range p.idle {
					if now.Sub(e.idleSince) >= m.cfg.IdleTimeout {
						expired = append(expired, e)
					} else {
						kept = append(kept, e)
					}
				}
				clear(p.idle[len(kept):])
				p.idle = kept
				expired = append(expired, m.expireSharedLocked(p, now)...)
				p.mu.Unlock()
				return true
			})
			m.idle.Add(-int64(len(expired)))
			for _, e := range expired {
				e.stop()
			}
			m.dropTenantPools()
		}
	}
}
