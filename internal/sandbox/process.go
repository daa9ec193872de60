package sandbox

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/lambdad/lambdad/internal/logs"
	"github.com/lambdad/lambdad/internal/sandbox/nsinit"
)

// initPhase is where a process's init stands: its first /next ends it
// (initReady), unless an init error came first (initFailed).
type initPhase uint8

const (
	initRunning initPhase = iota
	initReady
	initFailed
)

// proc is one run of the bootstrap inside an env.
type proc struct {
	cmd     *exec.Cmd
	pid     atomic.Int64 // 0 until started
	started time.Time

	phase    initPhase     // guarded by env.mu
	ready    chan struct{} // closed as phase becomes initReady
	initDone time.Time

	initErrCh chan struct{} // closed as phase becomes initFailed
	initErr   []byte

	exited chan struct{}
	state  string // "exit status 1", "signal: killed"; valid after exited

	out    *os.File
	outRC  syscall.RawConn
	status *os.File // /proc/<pid>/status when unconfined, for VmHWM
	clear  *os.File // /proc/<pid>/clear_refs when unconfined, to reset VmHWM
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
	e.platformLog(func(b []byte) []byte { return e.appendInitStart(b, pr.started) })
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
				e.stampRead()
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
	if e.drainFd == nil { // one closure per environment, not two per invoke
		e.drainFd = func(fd uintptr) {
			for {
				n, err := syscall.Read(int(fd), e.readBuf)
				if n <= 0 || err != nil {
					return
				}
				e.stampRead()
				e.appendOutputLocked(e.readBuf[:n])
			}
		}
	}
	_ = pr.outRC.Control(e.drainFd)
}

func (e *env) appendOutputLocked(b []byte) {
	if e.m.debug {
		for line := range strings.Lines(string(b)) {
			e.m.log.Debug("function output", "env", e.id, "key", e.fn.Key, "line", strings.TrimRight(line, "\n"))
		}
	}
	if e.appLevel != levelAll {
		e.filterOutputLocked(b)
		return
	}
	e.keepOutputLocked(b)
}

// keepOutputLocked adds output to the current log, or to what comes
// before the next one; logMu held.
func (e *env) keepOutputLocked(b []byte) {
	if e.logActive {
		if len(e.logBuf)+len(b) > maxLogBytes {
			if !e.logFull {
				e.logFull = true
				e.logBuf = e.appendLogsDropped(e.logBuf)
			}
			return
		}
		e.addMark(&e.marks, len(e.logBuf))
		e.logBuf = append(e.logBuf, b...)
		return
	}
	if len(e.preLog)+len(b) <= maxPreLogBytes {
		e.addMark(&e.preMarks, len(e.preLog))
		e.preLog = append(e.preLog, b...)
	}
}

// beginLog starts capturing an invocation's log.
func (e *env) beginLog(pr *proc, id string, now time.Time) {
	e.logMu.Lock()
	if pr != nil { // output written before this point belongs before START
		e.drainLocked(pr)
	}
	e.flushPartialLocked()
	// Room for START, END and REPORT: the log of a quiet invoke is
	// allocated once.
	buf := make([]byte, 0, 512+len(e.preLog))
	buf = append(buf, e.preLog...)
	e.preLog = nil
	// The pre-log's marks stand at the same offsets (marks not taken by
	// an earlier log are dropped: their log was).
	e.marks = append(e.marks[:0], e.preMarks...)
	e.preMarks = nil
	buf = e.appendStart(buf, id, now)
	e.logBuf = buf
	e.logFull = false
	e.logActive = true
	e.logMu.Unlock()
}

// endLog drains pending output and stops capturing: the log, and when
// its output arrived.
func (e *env) endLog(pr *proc) ([]byte, []logs.Mark) {
	e.logMu.Lock()
	if pr != nil {
		e.drainLocked(pr)
	}
	e.flushPartialLocked()
	b := e.logBuf
	e.logBuf = nil
	e.logActive = false
	marks := e.takeMarks()
	e.logMu.Unlock()
	return b, marks
}

func (e *env) currentProc() *proc {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.proc
}

// procGone forgets pr so the next invoke starts a fresh process.
func (e *env) procGone(pr *proc) {
	late := 0
	e.mu.Lock()
	if e.proc == pr {
		e.proc = nil
		// A /next left by pr's runtime: its connection may outlive it
		// (a surviving child holds it), and must not get the next call.
		e.waiting = nil
		if e.multi != nil {
			late = e.procGoneMulti()
		}
	}
	e.mu.Unlock()
	if late > 0 {
		e.m.holdSlots(e, -late)
	}
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
	if e.multi != nil {
		limit = max(multiInitLimit, e.fn.Timeout)
	}
	t := time.NewTimer(limit)
	defer t.Stop()
	hold := time.NewTimer(startHold)
	defer hold.Stop()
	var fail func() *Result
	status, errType := "error", "Runtime.Unknown"
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
			if e.json && e.sysOn(levelDetail) {
				e.platformLog(func(b []byte) []byte { return e.appendInitEnd(b, d, "success", "") })
			}
			return pr, d, nil, nil
		case <-pr.initErrCh:
			fail = func() *Result {
				e.mu.Lock()
				body := pr.initErr
				e.mu.Unlock()
				errType = initErrorType(body)
				return &Result{Payload: body, FunctionError: "Unhandled"}
			}
		case <-pr.exited:
			fail = func() *Result {
				errType = "Runtime.ExitError"
				return &Result{Payload: exitErrorPayload(inv.RequestID, pr.state), FunctionError: "Unhandled"}
			}
		case <-t.C:
			fail = func() *Result {
				status, errType = "timeout", "Sandbox.Timedout"
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
	e.logMu.Lock()
	e.drainLocked(pr) // the init's own output comes before its INIT_REPORT
	e.flushPartialLocked()
	e.logMu.Unlock()
	e.platformLog(func(b []byte) []byte { return e.appendInitEnd(b, initDur, status, errType) })
	now := time.Now()
	e.beginLog(pr, inv.RequestID, now)
	log, marks := e.endLog(pr)
	res.Log = e.appendEnd(log, inv.RequestID, *res, "failure", errType)
	res.LogMarks = marks
	res.LogStream = e.logStream
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
