package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/lambdad/lambdad/internal/limits"
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
	srv     *http.Server
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
	// releaseCreds revokes the environment's credentials (Function.EnvCredentials).
	releaseCreds func()

	mu     sync.Mutex
	proc   *proc
	cur    *call
	lastID string
	dead   bool
	work   chan *call

	logMu     sync.Mutex
	logActive bool
	logBuf    []byte
	logFull   bool
	preLog    []byte
	readBuf   []byte

	idleSince time.Time // guarded by pool.mu
	stopOnce  sync.Once
	unhold    func() // from Function.Hold; called by cleanup
}

// proc is one run of the bootstrap inside an env.
type proc struct {
	cmd     *exec.Cmd
	pid     atomic.Int64 // 0 until started
	started time.Time

	ready     chan struct{} // first /next arrived
	readySent bool          // guarded by env.mu
	initDone  time.Time

	initErrCh   chan struct{}
	initErr     []byte
	initErrSent bool // guarded by env.mu

	exited chan struct{}
	state  string // "exit status 1", "signal: killed"; valid after exited

	out    *os.File
	outRC  syscall.RawConn
	status *os.File // /proc/<pid>/status when unconfined, for VmHWM
	clear  *os.File // /proc/<pid>/clear_refs when unconfined, to reset VmHWM
}

// call is one invocation handed to the runtime.
type call struct {
	id        string
	inv       *Invocation
	deadline  time.Time
	done      chan struct{}
	completed bool // guarded by env.mu
	doneAt    time.Time
	payload   []byte
	isErr     bool
	tooLarge  bool
	unsent    bool // guarded by env.mu: claimed before any runtime fetched it
}

type outcome int

const (
	outDone outcome = iota
	outTimeout
	outCrash
	outCanceled
)

func (m *Manager) newEnv(fn *Function, p *pool) (*env, error) {
	id := m.seq.Add(1)
	e := &env{
		m:       m,
		fn:      *fn,
		pool:    p,
		id:      id,
		dir:     filepath.Join(m.cfg.WorkDir, "e"+strconv.FormatUint(id, 10)),
		stopped: make(chan struct{}),
		work:    make(chan *call, 1),
		readBuf: make([]byte, 4096),
		json:    strings.EqualFold(fn.LogFormat, "JSON"),
		version: "$LATEST",
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
	e.srv = &http.Server{
		Handler:  e,
		ErrorLog: slog.NewLogLogger(e.m.log.Handler(), slog.LevelDebug),
	}
	go func() { _ = e.srv.Serve(ln) }()

	taskRoot, optRoot, rtDir := e.fn.CodeDir, e.optDir, e.fn.RuntimeDir
	if iso != nil {
		taskRoot, optRoot, rtDir = "/var/task", "/opt", "/var/runtime"
	}
	repl := strings.NewReplacer("{TASK_ROOT}", taskRoot, "{OPT}", optRoot, "{RUNTIME_DIR}", rtDir)
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
	if e.srv != nil {
		_ = e.srv.Close()
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
	})
}

func (pr *proc) kill() {
	if pid := int(pr.pid.Load()); pid > 0 {
		// Negative pid: the whole process group, so children die too.
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
}

func waitExit(pr *proc, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-pr.exited:
		return true
	case <-t.C:
		return false
	}
}

// spawn starts the bootstrap and the goroutines that watch it.
func (e *env) spawn() (*proc, error) {
	// os/exec hands the write end over through Fd(), which makes it
	// blocking (a runtime whose stdout returned EAGAIN would crash on print);
	// our read end stays non-blocking for the poller.
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	pr := &proc{
		ready:     make(chan struct{}),
		initErrCh: make(chan struct{}),
		exited:    make(chan struct{}),
		out:       r,
	}
	// The runtime may call /next before Start returns: publish pr first.
	pr.started = time.Now()
	e.mu.Lock()
	e.proc = pr
	e.mu.Unlock()
	if e.m.iso != nil {
		pr.cmd, err = e.m.iso.start(e, w)
	} else {
		pr.cmd, err = e.startUnconfined(w)
	}
	w.Close()
	if err != nil {
		e.procGone(pr)
		r.Close()
		return nil, err
	}
	pr.pid.Store(int64(pr.cmd.Process.Pid))
	if e.m.iso == nil {
		pr.status, _ = os.Open("/proc/" + strconv.Itoa(pr.cmd.Process.Pid) + "/status")
		pr.clear, _ = os.OpenFile("/proc/"+strconv.Itoa(pr.cmd.Process.Pid)+"/clear_refs", os.O_WRONLY, 0)
	}
	pr.outRC, err = r.SyscallConn()
	if err != nil {
		pr.kill()
		_ = pr.cmd.Wait()
		e.procGone(pr)
		r.Close()
		return nil, err
	}
	go func() {
		_ = pr.cmd.Wait()
		pr.state = pr.cmd.ProcessState.String()
		if pr.status != nil {
			pr.status.Close()
		}
		if pr.clear != nil {
			pr.clear.Close()
		}
		close(pr.exited)
	}()
	go e.readOutput(pr)
	return pr, nil
}

func (e *env) startUnconfined(w *os.File) (*exec.Cmd, error) {
	path, err := nsinit.LookPath(e.argv[0], e.environ, e.fn.CodeDir)
	if err != nil {
		return nil, &StartError{Command: e.argv[0], Err: err}
	}
	cmd := &exec.Cmd{
		Path:        path,
		Args:        e.argv,
		Env:         e.environ,
		Dir:         e.fn.CodeDir,
		Stdout:      w,
		Stderr:      w,
		SysProcAttr: procAttr(),
	}
	if err := cmd.Start(); err != nil {
		return nil, &StartError{Command: e.argv[0], Err: err}
	}
	return cmd, nil
}

// readOutput copies the runtime's stdout/stderr into the current log. Reads
// happen under logMu so that drain can take every byte written before a
// response with no window where bytes are in neither the pipe nor the log.
func (e *env) readOutput(pr *proc) {
	defer pr.out.Close()
	for {
		var n int
		var rerr error
		err := pr.outRC.Read(func(fd uintptr) bool {
			e.logMu.Lock()
			n, rerr = syscall.Read(int(fd), e.readBuf)
			if rerr == syscall.EAGAIN {
				e.logMu.Unlock()
				return false
			}
			if n > 0 {
				e.appendOutputLocked(e.readBuf[:n])
			}
			e.logMu.Unlock()
			return true
		})
		if err != nil || rerr != nil || n <= 0 {
			return
		}
	}
}

// drainLocked moves whatever the pipe holds into the log; logMu held.
func (e *env) drainLocked(pr *proc) {
	_ = pr.outRC.Control(func(fd uintptr) {
		for {
			n, err := syscall.Read(int(fd), e.readBuf)
			if n <= 0 || err != nil {
				return
			}
			e.appendOutputLocked(e.readBuf[:n])
		}
	})
}

func (e *env) appendOutputLocked(b []byte) {
	if e.m.debug {
		for line := range strings.Lines(string(b)) {
			e.m.log.Debug("function output", "env", e.id, "key", e.fn.Key, "line", strings.TrimRight(line, "\n"))
		}
	}
	if e.logActive {
		if len(e.logBuf)+len(b) > maxLogBytes {
			if !e.logFull {
				e.logFull = true
				e.logBuf = append(e.logBuf, "[lambdad: log truncated]\n"...)
			}
			return
		}
		e.logBuf = append(e.logBuf, b...)
		return
	}
	if len(e.preLog)+len(b) <= maxPreLogBytes {
		e.preLog = append(e.preLog, b...)
	}
}

// beginLog starts capturing an invocation's log.
func (e *env) beginLog(pr *proc, id string, now time.Time) {
	e.logMu.Lock()
	if pr != nil { // output written before this point belongs before START
		e.drainLocked(pr)
	}
	buf := make([]byte, 0, 256+len(e.preLog))
	buf = append(buf, e.preLog...)
	e.preLog = nil
	buf = e.appendStart(buf, id, now)
	e.logBuf = buf
	e.logFull = false
	e.logActive = true
	e.logMu.Unlock()
}

// endLog drains pending output and stops capturing.
func (e *env) endLog(pr *proc) []byte {
	e.logMu.Lock()
	if pr != nil {
		e.drainLocked(pr)
	}
	b := e.logBuf
	e.logBuf = nil
	e.logActive = false
	e.logMu.Unlock()
	return b
}

func (e *env) currentProc() *proc {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.proc
}

// procGone forgets pr so the next invoke starts a fresh process.
func (e *env) procGone(pr *proc) {
	e.mu.Lock()
	if e.proc == pr {
		e.proc = nil
	}
	e.mu.Unlock()
}

// invoke runs one invocation; the env is released or stopped before return
// (or, on ctx cancellation, once the invocation ends).
func (e *env) invoke(ctx context.Context, inv Invocation) (Result, error) {
	res, unsent, err := e.invokeOnce(ctx, inv)
	if unsent {
		// The process died before it took the call (e.g. a runtime that
		// exits after a rejected response): run it in a fresh process.
		res, _, err = e.invokeOnce(ctx, inv)
	}
	return res, err
}

func (e *env) invokeOnce(ctx context.Context, inv Invocation) (Result, bool, error) {
	var initDur time.Duration
	pr := e.currentProc()
	if pr != nil {
		select {
		case <-pr.exited: // died while idle: start afresh rather than fail this call
			e.procGone(pr)
			pr = nil
		default:
		}
	}
	if pr == nil {
		var res *Result
		var err error
		pr, initDur, res, err = e.coldStart(ctx, &inv)
		if err != nil {
			return Result{}, false, err
		}
		if res != nil {
			return *res, false, nil
		}
	}
	e.resetPeak(pr)
	start := time.Now()
	e.beginLog(pr, inv.RequestID, start)
	c := &call{
		id:       inv.RequestID,
		inv:      &inv,
		deadline: start.Add(e.fn.Timeout),
		done:     make(chan struct{}),
	}
	e.mu.Lock()
	e.cur = c
	e.mu.Unlock()
	e.work <- c
	timer := time.NewTimer(e.fn.Timeout)
	o := e.await(c, pr, timer, ctx.Done())
	if o == outCanceled {
		// The runtime is still working on it; finish in the background so
		// the environment returns to the pool (or is reset) when it ends.
		go func() {
			o := e.await(c, pr, timer, nil)
			e.finish(c, pr, o, start, initDur)
		}()
		return Result{}, false, ctx.Err()
	}
	timer.Stop()
	if o == outCrash && c.unsent {
		e.procGone(pr)
		return Result{}, true, nil
	}
	return e.finish(c, pr, o, start, initDur), false, nil
}

// await waits for the call's outcome.
func (e *env) await(c *call, pr *proc, timer *time.Timer, cancel <-chan struct{}) outcome {
	select {
	case <-c.done:
		return outDone
	case <-timer.C:
		if e.claim(c) {
			return outTimeout
		}
		<-c.done
		return outDone
	case <-pr.exited:
		// A runtime may post its response and exit at once; let that
		// response land before calling it a crash.
		t := time.NewTimer(50 * time.Millisecond)
		defer t.Stop()
		select {
		case <-c.done:
			return outDone
		case <-t.C:
		}
		if e.claim(c) {
			return outCrash
		}
		<-c.done
		return outDone
	case <-cancel:
		return outCanceled
	}
}

// claim marks c finished by the platform (timeout, crash) unless the runtime
// already completed it.
func (e *env) claim(c *call) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if c.completed {
		return false
	}
	c.completed = true
	c.doneAt = time.Now()
	if e.cur == c {
		e.cur = nil
	}
	e.lastID = c.id
	select { // a call never fetched must not reach the next process
	case <-e.work:
		c.unsent = true
	default:
	}
	return true
}

func (e *env) finish(c *call, pr *proc, o outcome, start time.Time, initDur time.Duration) Result {
	res := Result{InitDuration: initDur}
	res.MaxMemoryUsedMB = e.peakMB(pr)
	status := "success"
	var errType string
	switch o {
	case outDone:
		res.Duration = c.doneAt.Sub(start)
		switch {
		case c.tooLarge:
			res.FunctionError = "Unhandled"
			res.Payload = []byte(`{"errorMessage":"Response payload size exceeded maximum allowed payload size (6291556 bytes).","errorType":"Function.ResponseSizeTooLarge"}`)
			status, errType = "error", "Function.ResponseSizeTooLarge"
		case c.isErr:
			res.FunctionError = "Unhandled"
			res.Payload = c.payload
			status, errType = "error", "Unhandled"
		default:
			res.Payload = c.payload
		}
	case outTimeout:
		pr.kill()
		waitExit(pr, 5*time.Second)
		e.procGone(pr)
		res.Duration = e.fn.Timeout
		res.FunctionError = "Unhandled"
		res.Payload = timeoutPayload(c.id, e.fn.Timeout)
		status, errType = "timeout", "Sandbox.Timedout"
	case outCrash:
		e.procGone(pr)
		res.Duration = c.doneAt.Sub(start)
		res.FunctionError = "Unhandled"
		res.Payload = exitErrorPayload(c.id, pr.state)
		status, errType = "error", "Runtime.ExitError"
	}
	log := e.endLog(pr)
	switch o {
	case outTimeout:
		if !e.json {
			log = append(log, formatTimestamp(time.Now())...)
			log = append(log, ' ')
			log = append(log, c.id...)
			log = append(log, " Task timed out after "...)
			log = append(log, timeoutSeconds(e.fn.Timeout)...)
			log = append(log, " seconds\n"...)
		}
	case outCrash:
		if !e.json {
			log = append(log, "RequestId: "+c.id+" Error: Runtime exited with error: "+pr.state+"\nRuntime.ExitError\n"...)
		}
	}
	res.Log = e.appendEnd(log, c.id, res, status, errType)
	e.m.release(e)
	return res
}

// timeoutPayload is the result of an invocation (or init) that ran out of time.
func timeoutPayload(id string, limit time.Duration) []byte {
	return []byte(`{"errorType":"Sandbox.Timedout","errorMessage":"RequestId: ` + jsonEscape(id) + ` Error: Task timed out after ` + timeoutSeconds(limit) + ` seconds"}`)
}

// timeoutSeconds writes a limit as AWS does: "3.00".
func timeoutSeconds(limit time.Duration) string {
	return strconv.FormatFloat(limit.Seconds(), 'f', 2, 64)
}

func exitErrorPayload(id, state string) []byte {
	return []byte(`{"errorType":"Runtime.ExitError","errorMessage":"RequestId: ` + jsonEscape(id) + ` Error: Runtime exited with error: ` + jsonEscape(state) + `"}`)
}

// coldStart starts the process and waits for its first /next. A non-nil
// Result is an init failure to hand back as the invocation's result.
func (e *env) coldStart(ctx context.Context, inv *Invocation) (*proc, time.Duration, *Result, error) {
	select {
	case e.m.startSem <- struct{}{}:
	case <-ctx.Done():
		e.stop()
		return nil, 0, nil, ctx.Err()
	}
	held := true
	release := func() {
		if held {
			held = false
			<-e.m.startSem
		}
	}
	defer release()
	e.mu.Lock()
	if e.dead {
		e.mu.Unlock()
		return nil, 0, nil, ErrClosed
	}
	e.mu.Unlock()
	pr, err := e.spawn()
	if err != nil {
		e.stop()
		return nil, 0, nil, err
	}
	e.mu.Lock()
	dead := e.dead
	e.mu.Unlock()
	if dead { // Close raced with us
		pr.kill()
		return nil, 0, nil, ErrClosed
	}
	limit := max(initLimit, e.fn.Timeout)
	t := time.NewTimer(limit)
	defer t.Stop()
	hold := time.NewTimer(startHold)
	defer hold.Stop()
	var fail func() *Result
	for fail == nil {
		select {
		case <-hold.C:
			// The slots bound how many processes start at once, not how
			// long their inits take: a slow init must not hold up others.
			release()
		case <-pr.ready:
			e.mu.Lock()
			d := pr.initDone.Sub(pr.started)
			e.mu.Unlock()
			return pr, d, nil, nil
		case <-pr.initErrCh:
			fail = func() *Result {
				e.mu.Lock()
				body := pr.initErr
				e.mu.Unlock()
				return &Result{Payload: body, FunctionError: "Unhandled"}
			}
		case <-pr.exited:
			fail = func() *Result {
				return &Result{Payload: exitErrorPayload(inv.RequestID, pr.state), FunctionError: "Unhandled"}
			}
		case <-t.C:
			fail = func() *Result {
				return &Result{FunctionError: "Unhandled", Payload: timeoutPayload(inv.RequestID, limit)}
			}
		case <-ctx.Done():
			e.stop()
			return nil, 0, nil, ctx.Err()
		}
	}
	res := fail()
	initDur := time.Since(pr.started)
	res.InitDuration = initDur
	res.MaxMemoryUsedMB = e.peakMB(pr)
	pr.kill()
	waitExit(pr, 5*time.Second)
	now := time.Now()
	e.beginLog(pr, inv.RequestID, now)
	log := e.endLog(pr)
	res.Log = e.appendEnd(log, inv.RequestID, *res, "failure", "Runtime.Unknown")
	e.stop()
	return nil, 0, res, nil
}

// resetPeak makes peakMB report the coming run's own peak: the memory still
// in use counts, an earlier run's high-water mark (an OOM's) does not.
func (e *env) resetPeak(pr *proc) {
	if e.cg != nil {
		e.cg.resetPeak()
	} else if pr.clear != nil {
		_, _ = pr.clear.Write([]byte("5")) // "5" resets VmHWM to the current RSS
	}
}

// peakMB is the most memory the environment has used since resetPeak, best
// effort.
func (e *env) peakMB(pr *proc) int {
	var b int64
	if e.cg != nil {
		b = e.cg.peakBytes()
	} else if pr != nil && pr.status != nil {
		b = vmHWM(pr.status)
	}
	return int((b + (1<<20 - 1)) >> 20)
}

func vmHWM(f *os.File) int64 {
	var buf [2048]byte
	n, _ := f.ReadAt(buf[:], 0)
	s := string(buf[:n])
	i := strings.Index(s, "VmHWM:")
	if i < 0 {
		return 0
	}
	s = strings.TrimSpace(s[i+len("VmHWM:"):])
	if j := strings.IndexByte(s, ' '); j > 0 {
		s = s[:j]
	}
	kb, _ := strconv.ParseInt(s, 10, 64)
	return kb << 10
}

// ---- Runtime API ----

const apiPrefix = "/2018-06-01/runtime/"

func (e *env) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, apiPrefix)
	if !ok {
		writeJSON(w, http.StatusNotFound, `{"errorMessage":"Not found","errorType":"NotFound"}`)
		return
	}
	switch {
	case rest == "invocation/next":
		if r.Method != http.MethodGet {
			writeJSON(w, http.StatusMethodNotAllowed, `{"errorMessage":"Method not allowed","errorType":"MethodNotAllowed"}`)
			return
		}
		e.handleNext(w, r)
		return
	case rest == "init/error":
		if r.Method != http.MethodPost {
			writeJSON(w, http.StatusMethodNotAllowed, `{"errorMessage":"Method not allowed","errorType":"MethodNotAllowed"}`)
			return
		}
		e.handleInitError(w, r)
		return
	}
	if tail, ok := strings.CutPrefix(rest, "invocation/"); ok && r.Method == http.MethodPost {
		if id, ok := strings.CutSuffix(tail, "/response"); ok && id != "" {
			e.handleResult(w, r, id, false)
			return
		}
		if id, ok := strings.CutSuffix(tail, "/error"); ok && id != "" {
			e.handleResult(w, r, id, true)
			return
		}
	}
	writeJSON(w, http.StatusNotFound, `{"errorMessage":"Not found","errorType":"NotFound"}`)
}

func writeJSON(w http.ResponseWriter, code int, body string) {
	w.Header()["Content-Type"] = []string{"application/json"}
	w.WriteHeader(code)
	_, _ = io.WriteString(w, body)
}

func (e *env) handleNext(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	pr := e.proc
	if pr != nil && !pr.readySent && !pr.initErrSent {
		pr.readySent = true
		pr.initDone = time.Now()
		close(pr.ready)
	}
	e.mu.Unlock()
	if pr == nil {
		writeJSON(w, http.StatusInternalServerError, `{"errorMessage":"Environment is shutting down","errorType":"ServiceException"}`)
		return
	}
	for {
		select {
		case c := <-e.work:
			e.mu.Lock()
			ok := e.cur == c && !c.completed
			e.mu.Unlock()
			if !ok {
				continue
			}
			h := w.Header()
			h["Content-Type"] = []string{"application/json"}
			h["Lambda-Runtime-Aws-Request-Id"] = []string{c.id}
			h["Lambda-Runtime-Deadline-Ms"] = []string{strconv.FormatInt(c.deadline.UnixMilli(), 10)}
			h["Lambda-Runtime-Invoked-Function-Arn"] = []string{c.inv.InvokedFunctionARN}
			if c.inv.TraceID != "" {
				h["Lambda-Runtime-Trace-Id"] = []string{c.inv.TraceID}
			}
			if c.inv.ClientContext != "" {
				h["Lambda-Runtime-Client-Context"] = []string{c.inv.ClientContext}
			}
			if c.inv.CognitoIdentity != "" {
				h["Lambda-Runtime-Cognito-Identity"] = []string{c.inv.CognitoIdentity}
			}
			h["Content-Length"] = []string{strconv.Itoa(len(c.inv.Payload))}
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(c.inv.Payload)
			return
		case <-pr.exited:
			return
		case <-e.stopped:
			return
		case <-r.Context().Done():
			return
		}
	}
}

// readBody reads at most maxResponseBytes; tooLarge reports an excess.
func readBody(r *http.Request) (body []byte, tooLarge bool, err error) {
	if r.ContentLength > maxResponseBytes {
		// Consume it anyway so the runtime's keep-alive connection stays
		// usable for its next /next.
		_, err = io.CopyN(io.Discard, r.Body, 64<<20)
		if errors.Is(err, io.EOF) {
			err = nil
		}
		return nil, true, err
	}
	if r.ContentLength >= 0 {
		body = make([]byte, r.ContentLength)
		_, err = io.ReadFull(r.Body, body)
		return body, false, err
	}
	body, err = io.ReadAll(io.LimitReader(r.Body, maxResponseBytes+1))
	if len(body) > maxResponseBytes {
		_, _ = io.CopyN(io.Discard, r.Body, 64<<20)
		return nil, true, err
	}
	return body, false, err
}

func (e *env) handleResult(w http.ResponseWriter, r *http.Request, id string, isErr bool) {
	body, tooLarge, err := readBody(r)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, `{"errorMessage":"Failed to read request body","errorType":"InvalidRequest"}`)
		return
	}
	e.mu.Lock()
	c := e.cur
	if c == nil || c.id != id || c.completed {
		last := e.lastID == id
		e.mu.Unlock()
		if last {
			writeJSON(w, http.StatusForbidden, `{"errorMessage":"Invalid state transition: response already received for request `+jsonEscape(id)+`","errorType":"InvalidStateTransition"}`)
		} else {
			writeJSON(w, http.StatusBadRequest, `{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}`)
		}
		return
	}
	c.completed = true
	c.doneAt = time.Now()
	c.tooLarge = tooLarge
	c.payload = body
	c.isErr = isErr
	e.cur = nil
	e.lastID = id
	e.mu.Unlock()
	close(c.done)
	if tooLarge {
		writeJSON(w, http.StatusRequestEntityTooLarge, `{"errorMessage":"Exceeded maximum allowed payload size (6291556 bytes).","errorType":"RequestEntityTooLarge"}`)
		return
	}
	writeJSON(w, http.StatusAccepted, `{"status":"OK"}`)
}

func (e *env) handleInitError(w http.ResponseWriter, r *http.Request) {
	body, _, err := readBody(r)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, `{"errorMessage":"Failed to read request body","errorType":"InvalidRequest"}`)
		return
	}
	if len(body) == 0 {
		t := r.Header.Get("Lambda-Runtime-Function-Error-Type")
		if t == "" {
			t = "Runtime.Unknown"
		}
		body = []byte(`{"errorMessage":"","errorType":"` + jsonEscape(t) + `"}`)
	}
	e.mu.Lock()
	pr := e.proc
	if pr == nil || pr.readySent || pr.initErrSent {
		e.mu.Unlock()
		writeJSON(w, http.StatusForbidden, `{"errorMessage":"Invalid state transition: init error after init","errorType":"InvalidStateTransition"}`)
		return
	}
	pr.initErrSent = true
	pr.initErr = body
	e.mu.Unlock()
	close(pr.initErrCh)
	writeJSON(w, http.StatusAccepted, `{"status":"OK"}`)
}
