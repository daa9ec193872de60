package sandbox

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lambdad/lambdad/internal/limits"
	"github.com/lambdad/lambdad/internal/logs"
	"github.com/lambdad/lambdad/internal/runtimeapi"
	"github.com/lambdad/lambdad/internal/sandbox/nsinit"
)

const (
	// maxResponseBytes is AWS's synchronous response limit.
	maxResponseBytes = limits.InvokeResponseBytes
	// maxLogBytes caps one invocation's captured output; callers only show
	// the tail, and a chatty function must not balloon the heap.
	maxLogBytes = 1 << 20
	// maxPreLogBytes caps output produced between invocations.
	maxPreLogBytes = 64 << 10
	// initLimit is AWS's limit on the init phase.
	initLimit = 10 * time.Second
	// startHold is how long a starting environment keeps its start slot
	// while its init runs.
	startHold = time.Second

	defaultPath = nsinit.DefaultPath
)

// env is one execution environment: a Runtime API endpoint, scratch space and
// (re)startable process. Its /tmp outlives the process so a restart after a
// timeout or crash keeps it, as on AWS.
type env struct {
	m    *Manager
	fn   Function
	pool *pool
	id   uint64
	dir  string

	ln      net.Listener
	api     *runtimeapi.Server
	stopped chan struct{}

	tmpDir  string   // host path of /tmp
	optDir  string   // host path of merged /opt when unconfined
	tmpUp   bool     // a tmpfs is mounted at tmpDir
	tmpDisk *tmpDisk // or this disk is
	uid     int      // the environment's own user when isolated, else 0
	cg      *envCgroup
	argv    []string
	environ []string
	version string
	json    bool
	// Log filtering under JSON (loglevel.go): platform records below
	// sysLevel and output lines below appLevel are not kept; partial is an
	// output line still waiting for its newline (logMu's).
	sysLevel, appLevel logLevel
	partial            []byte
	initType           string // AWS_LAMBDA_INITIALIZATION_TYPE
	// logStream is the environment's own AWS_LAMBDA_LOG_STREAM_NAME.
	logStream string
	// releaseCreds revokes the environment's credentials (Function.EnvCredentials).
	releaseCreds func()
	// multi is set when the environment holds several invocations at once.
	multi *multiState

	mu     sync.Mutex
	proc   *proc
	cur    *call
	lastID string
	dead   bool
	// The handoff between invoke and the runtime's /next: a call waits in
	// queued for a /next, or a /next in waiting for a call.
	queued  *call
	waiting *runtimeapi.Waiter
	timer   *time.Timer   // the invocation's deadline; used by one at a time
	done    chan struct{} // calls' completion (see call.done)

	logMu     sync.Mutex
	logActive bool
	logBuf    []byte
	logFull   bool
	preLog    []byte
	readBuf   []byte
	drainFd   func(fd uintptr) // drainLocked's reader; logMu held
	// Arrival times of the output (logmarks.go): the current log's, the
	// pre-log's, and the time of the read being kept.
	marks, preMarks []logs.Mark
	readAt          int64

	idleSince time.Time // guarded by pool.mu
	stopOnce  sync.Once
	unhold    func() // from Function.Hold; called by cleanup
}

func (m *Manager) newEnv(fn *Function, p *pool) (*env, error) {
	id := m.seq.Add(1)
	e := &env{
		m:       m,
		fn:      *fn,
		pool:    p,
		id:      id,
		dir:     filepath.Join(m.cfg.WorkDir, "e"+strconv.FormatUint(id, 10)),
		stopped: make(chan struct{}),
		done:    make(chan struct{}, 1),
		readBuf: make([]byte, 4096),
		json:    strings.EqualFold(fn.LogFormat, "JSON"),
		version: "$LATEST",
	}
	e.initType = "on-demand"
	e.setLevels()
	if fn.MaxConcurrency > 1 {
		e.multi = newMultiState(fn.MaxConcurrency)
		e.logActive = true // calls share the output: see takeLogMulti
	}
	if e.fn.MemoryMB <= 0 {
		e.fn.MemoryMB = limits.DefaultMemoryMB
	}
	if e.fn.Timeout <= 0 {
		e.fn.Timeout = limits.DefaultTimeoutSeconds * time.Second
	}
	if e.fn.EphemeralStorageMB <= 0 {
		e.fn.EphemeralStorageMB = limits.DefaultEphemeralStorageMB
	}
	if e.fn.CodeDir == "" {
		e.fn.CodeDir = filepath.Join(e.dir, "task")
		if err := os.MkdirAll(e.fn.CodeDir, 0o755); err != nil {
			return nil, err
		}
	}
	if len(e.fn.Command) == 0 {
		return nil, &StartError{Err: errors.New("empty command")}
	}
	if fn.Hold != nil { // released by cleanup
		e.unhold = fn.Hold()
	}
	if err := e.setup(); err != nil {
		e.cleanup(false)
		return nil, err
	}
	m.total.Add(1)
	m.envMade(e)
	m.envMu.Lock()
	m.envs[e] = struct{}{}
	m.envMu.Unlock()
	// Close sets closed before collecting envs: either it saw this one or
	// we see closed here.
	if m.closed.Load() {
		e.stop()
		return nil, ErrClosed
	}
	return e, nil
}

// setup creates everything but the process.
func (e *env) setup() error {
	e.tmpDir = filepath.Join(e.dir, "tmp")
	if err := os.MkdirAll(e.dir, 0o755); err != nil {
		return err
	}
	iso := e.m.iso
	if iso != nil {
		if err := iso.mountTmp(e); err != nil {
			return fmt.Errorf("sandbox: mount /tmp: %w", err)
		}
		if iso.cg != nil {
			cg, err := iso.cg.create("e"+strconv.FormatUint(e.id, 10), e.fn.MemoryMB)
			if err != nil {
				return fmt.Errorf("sandbox: cgroup: %w", err)
			}
			e.cg = cg
			if e.fn.CPUs > 0 && !iso.cg.limitCPU(cg, "e"+strconv.FormatUint(e.id, 10), e.fn.CPUs) {
				e.m.log.Debug("sandbox: no cpu controller: the environment's CPUs are not capped", "env", e.id, "cpus", e.fn.CPUs)
			}
		}
	} else {
		if err := os.Mkdir(e.tmpDir, 0o755); err != nil {
			return err
		}
		if err := os.Chmod(e.tmpDir, 0o777|os.ModeSticky); err != nil {
			return err
		}
		opt, err := mergeLayers(filepath.Join(e.dir, "opt"), e.fn.LayerDirs)
		if err != nil {
			return fmt.Errorf("sandbox: layers: %w", err)
		}
		e.optDir = opt
	}

	if iso != nil {
		uid, err := iso.takeUser()
		if err != nil {
			return err
		}
		e.uid = uid
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	e.ln = ln
	if iso != nil {
		if ln, err = iso.guard(e, ln); err != nil {
			return err
		}
	}
	e.api = runtimeapi.Serve(ln, e, maxResponseBytes, e.m.log)

	taskRoot, optRoot, rtDir, langDir := e.fn.CodeDir, e.optDir, e.fn.RuntimeDir, e.fn.LangDir
	if iso != nil {
		taskRoot, optRoot, rtDir, langDir = "/var/task", "/opt", "/var/runtime", "/var/lang"
	}
	repl := strings.NewReplacer("{TASK_ROOT}", taskRoot, "{OPT}", optRoot, "{RUNTIME_DIR}", rtDir, "{LANG_DIR}", langDir)
	e.argv = make([]string, len(e.fn.Command))
	for i, a := range e.fn.Command {
		e.argv[i] = repl.Replace(a)
	}
	own := map[string]string{
		"AWS_LAMBDA_RUNTIME_API": ln.Addr().String(),
		"LAMBDA_TASK_ROOT":       taskRoot,
		"LAMBDA_RUNTIME_DIR":     rtDir,
	}
	envv := make([]string, 0, len(e.fn.Env)+len(own)+2)
	hasPath, hasTmp := false, false
	for _, kv := range e.fn.Env {
		k, v, _ := strings.Cut(kv, "=")
		if _, ok := own[k]; ok {
			continue
		}
		switch k {
		case "PATH":
			hasPath = true
		case "TMPDIR":
			hasTmp = true
		case "AWS_LAMBDA_FUNCTION_VERSION":
			if v != "" {
				e.version = v
			}
		case "AWS_LAMBDA_INITIALIZATION_TYPE":
			if v != "" {
				e.initType = v
			}
		case "AWS_LAMBDA_LOG_STREAM_NAME":
			v = envStream(v)
			e.logStream = v
		}
		envv = append(envv, k+"="+repl.Replace(v))
	}
	if e.fn.EnvCredentials != nil {
		kv, release := e.fn.EnvCredentials()
		envv = append(envv, kv...)
		e.releaseCreds = release
	}
	for _, k := range []string{"AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR"} {
		envv = append(envv, k+"="+own[k])
	}
	envv = append(envv, multiEnviron(&e.fn)...)
	if !hasPath {
		envv = append(envv, "PATH="+defaultPath)
	}
	if iso == nil && !hasTmp {
		// Unconfined environments share the host's /tmp; point temp files
		// at the environment's own directory instead.
		envv = append(envv, "TMPDIR="+e.tmpDir)
	}
	e.environ = envv
	return nil
}

// cleanup releases host resources; the process must be gone. exited says
// it is known to be: then /tmp may be wiped and reused once the cgroup
// proves that nothing of the environment survives.
func (e *env) cleanup(exited bool) {
	if e.releaseCreds != nil {
		e.releaseCreds()
		e.releaseCreds = nil
	}
	if e.api != nil {
		e.api.Close()
	} else if e.ln != nil {
		_ = e.ln.Close()
	}
	emptied := false
	if e.cg != nil {
		emptied = e.cg.remove()
	}
	if e.m.iso != nil {
		e.m.iso.unmountTmp(e, exited && emptied)
	}
	_ = os.RemoveAll(e.dir)
	if e.unhold != nil {
		e.unhold()
		e.unhold = nil
	}
	if e.uid != 0 {
		e.m.iso.releaseUser(e.uid)
	}
}

// stop kills the process and frees everything; idempotent.
func (e *env) stop() {
	e.stopOnce.Do(func() {
		e.mu.Lock()
		e.dead = true
		pr := e.proc
		e.proc = nil
		e.mu.Unlock()
		close(e.stopped)
		exited := true
		if pr != nil && pr.pid.Load() > 0 {
			pr.kill()
			exited = waitExit(pr, 5*time.Second)
		}
		e.cleanup(exited)
		e.m.envMu.Lock()
		delete(e.m.envs, e)
		e.m.envMu.Unlock()
		e.m.total.Add(-1)
		e.m.envGone(e)
	})
}
