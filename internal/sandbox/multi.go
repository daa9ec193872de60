package sandbox

// Environments that hold several invocations at once: Lambda Managed
// Instances' PerExecutionEnvironmentMaxConcurrency. AWS's rules, from its
// "Lambda Managed Instances execution environment" and Runtime API guides:
//
//   - the runtime calls /next concurrently, up to AWS_LAMBDA_MAX_CONCURRENCY
//     (set in the environment), and posts results by request id;
//   - init ends when at least one runtime worker has called /next, and
//     may take 130 s or the function's timeout, whichever is longer;
//   - each invocation has its own timeout: one that times out is reported
//     as failed, but the environment is not stopped and the other
//     invocations go on (the function's code keeps running, and the
//     runtime worker running it stays busy: its slot is taken until the
//     runtime posts the late result or the process goes);
//   - a process that exits fails every invocation it holds.
//
// The single-invocation path (invocation.go) is untouched: a Function with
// MaxConcurrency <= 1 never comes here.

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/lambdad/lambdad/internal/logs"
	"github.com/lambdad/lambdad/internal/runtimeapi"
)

// multiInitLimit is the init phase's limit on Managed Instances: the
// longer of 130 s and the function's timeout (AWS's Managed Instances
// execution environment guide; its English wording not seen [?]).
const multiInitLimit = 130 * time.Second

// maxRecentIDs bounds how many finished request ids an environment
// remembers, to answer a second result for one with AWS's 403.
const maxRecentIDs = 256

// multiState is a multi-invocation environment's bookkeeping.
type multiState struct {
	max int
	// active counts calls routed here and not finished; held, the slots
	// of timed-out calls whose code still runs. Both pool.mu's; held may
	// dip below 0 for a moment (a late result before its hold).
	active, held int

	// Guarded by env.mu.
	inflight map[string]*call     // pending calls, queued or fetched
	queue    []*call              // calls no runtime has fetched yet, oldest first
	waiters  []*runtimeapi.Waiter // /next requests with no call yet
	recent   map[string]struct{}  // finished ids, for AlreadyHandled
	late     map[string]struct{}  // timed-out calls the runtime still runs
	order    []string             // recent, oldest first

	startMu  sync.Mutex // one (re)start of the process at a time
	peakMu   sync.Mutex // peakMB's readers are one call's at a time
	initFail *Result    // the init failure that stopped the environment
}

func newMultiState(n int) *multiState {
	return &multiState{
		max:      n,
		inflight: make(map[string]*call, n),
		recent:   make(map[string]struct{}),
		late:     make(map[string]struct{}),
	}
}

// multiEnviron is what a multi-invocation environment adds to its
// variables: AWS's AWS_LAMBDA_MAX_CONCURRENCY, which runtimes read to run
// that many /next loops (aws-lambda-go does since v1.50).
func multiEnviron(fn *Function) []string {
	if fn.MaxConcurrency <= 1 {
		return nil
	}
	return []string{"AWS_LAMBDA_MAX_CONCURRENCY=" + strconv.Itoa(fn.MaxConcurrency)}
}

// invokeMulti routes inv to an environment of fn with a free slot,
// starting one only when every environment is full.
func (m *Manager) invokeMulti(ctx context.Context, fn *Function, inv Invocation) (Result, error) {
	p := m.pool(fn.Key)
	e, err := m.takeSlot(fn, p)
	if err != nil {
		return Result{}, err
	}
	return e.invokeMulti(ctx, inv)
}

// freeSlotLocked takes a slot of a live environment of p; p.mu held.
func (m *Manager) freeSlotLocked(p *pool) *env {
	for _, e := range p.shared {
		if e.multi.active+e.multi.held < e.multi.max && !e.isDead() {
			if e.multi.active == 0 {
				m.idle.Add(-1)
			}
			e.multi.active++
			return e
		}
	}
	return nil
}

func (m *Manager) takeSlot(fn *Function, p *pool) (*env, error) {
	p.mu.Lock()
	e := m.freeSlotLocked(p)
	p.mu.Unlock()
	if e != nil {
		return e, nil
	}
	// One new environment at a time per pool: invokes that arrive while it
	// is made take its other slots instead of making their own.
	p.grow.Lock()
	defer p.grow.Unlock()
	p.mu.Lock()
	e = m.freeSlotLocked(p)
	p.mu.Unlock()
	if e != nil {
		return e, nil
	}
	e, err := m.newEnv(fn, p)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	e.multi.active = 1
	if !p.retired {
		p.shared = append(p.shared, e)
	}
	p.mu.Unlock()
	return e, nil
}

// releaseSlot ends one call's hold on e: an environment with no calls left
// waits for more, or stops if it may take none.
func (m *Manager) releaseSlot(e *env) {
	p := e.pool
	p.mu.Lock()
	e.multi.active--
	if e.multi.active > 0 {
		p.mu.Unlock()
		return
	}
	if p.retired || m.closed.Load() || e.isDead() {
		p.shared = slices.DeleteFunc(p.shared, func(x *env) bool { return x == e })
		p.mu.Unlock()
		e.stop()
		return
	}
	e.idleSince = time.Now()
	m.idle.Add(1)
	p.mu.Unlock()
}

// dropSharedLocked takes p's multi-invocation environments out of it,
// returning those with no call to stop now; p.mu held. Busy ones stop as
// their last call ends (p is retired).
func (m *Manager) dropSharedLocked(p *pool) []*env {
	var idle []*env
	for _, e := range p.shared {
		if e.multi.active == 0 {
			idle = append(idle, e)
		}
	}
	m.idle.Add(-int64(len(idle)))
	p.shared = nil
	return idle
}

// expireSharedLocked takes out p's multi-invocation environments idle
// for IdleTimeout; p.mu held. The janitor counts them out of m.idle.
func (m *Manager) expireSharedLocked(p *pool, now time.Time) []*env {
	var expired []*env
	p.shared = slices.DeleteFunc(p.shared, func(e *env) bool {
		if e.multi.active == 0 && now.Sub(e.idleSince) >= m.cfg.IdleTimeout {
			expired = append(expired, e)
			return true
		}
		return false
	})
	return expired
}

func (e *env) isDead() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.dead
}

// invokeMulti runs inv beside the environment's other calls; the slot is
// released before return (or, on ctx cancellation, once the call ends).
func (e *env) invokeMulti(ctx context.Context, inv Invocation) (Result, error) {
	res, unsent, err := e.invokeMultiOnce(ctx, inv)
	if unsent {
		// The process died before any runtime took the call: run it on a
		// fresh one, as a single-invocation environment does.
		res, _, err = e.invokeMultiOnce(ctx, inv)
	}
	return res, err
}

// ensureProc returns the running process, starting one (and waiting for
// its first /next) if there is none. Calls that arrive during a start
// wait for it; only the one that started it reports its Init Duration.
func (e *env) ensureProc(ctx context.Context, inv *Invocation) (*proc, time.Duration, *Result, error) {
	ms := e.multi
	ms.startMu.Lock()
	defer ms.startMu.Unlock()
	if e.isDead() {
		if ms.initFail != nil {
			r := *ms.initFail
			r.Log = nil
			return nil, 0, &r, nil
		}
		return nil, 0, nil, ErrClosed
	}
	if pr := e.currentProc(); pr != nil {
		select {
		case <-pr.exited:
			e.procGone(pr)
		default:
			return pr, 0, nil, nil
		}
	}
	// The start serves every call of the environment: one caller giving
	// up must not stop it.
	pr, initDur, res, err := e.coldStart(context.WithoutCancel(ctx), inv)
	if res != nil {
		ms.initFail = res
	}
	return pr, initDur, res, err
}

func (e *env) invokeMultiOnce(ctx context.Context, inv Invocation) (Result, bool, error) {
	cold := inv
	pr, initDur, res, err := e.ensureProc(ctx, &cold)
	if err != nil || res != nil {
		e.m.releaseSlot(e)
		if err != nil {
			return Result{}, false, err
		}
		return *res, false, nil
	}
	start := time.Now()
	c := &call{
		id:       inv.RequestID,
		inv:      inv,
		deadline: start.Add(e.fn.Timeout),
		done:     make(chan struct{}, 1),
	}
	timer := time.NewTimer(e.fn.Timeout)
	e.handOffMulti(c)
	o := e.awaitMulti(c, pr, timer, ctx.Done())
	if o == outCanceled {
		go func() {
			o := e.awaitMulti(c, pr, timer, nil)
			e.finishMulti(c, pr, o, start, initDur)
		}()
		return Result{}, false, ctx.Err()
	}
	timer.Stop()
	if o == outCrash && c.state == callUnsent {
		e.procGone(pr)
		return Result{}, true, nil
	}
	return e.finishMulti(c, pr, o, start, initDur), false, nil
}

// awaitMulti waits for c's outcome, as await does for a single call.
func (e *env) awaitMulti(c *call, pr *proc, timer *time.Timer, cancel <-chan struct{}) outcome {
	select {
	case <-c.done:
		return outDone
	case <-timer.C:
		if ok, late := e.claimMulti(c, true); ok {
			if late {
				e.m.holdSlots(e, 1)
			}
			return outTimeout
		}
		<-c.done
		return outDone
	case <-pr.exited:
		t := time.NewTimer(50 * time.Millisecond)
		defer t.Stop()
		select {
		case <-c.done:
			return outDone
		case <-t.C:
		}
		if ok, _ := e.claimMulti(c, false); ok {
			return outCrash
		}
		<-c.done
		return outDone
	case <-cancel:
		return outCanceled
	}
}

// handOffMulti gives c to a waiting /next, or queues it.
func (e *env) handOffMulti(c *call) {
	ms := e.multi
	e.mu.Lock()
	ms.inflight[c.id] = c
	var w *runtimeapi.Waiter
	if n := len(ms.waiters); n > 0 {
		w = ms.waiters[0]
		ms.waiters[0] = nil
		ms.waiters = ms.waiters[1:]
	} else {
		ms.queue = append(ms.queue, c)
	}
	e.mu.Unlock()
	if w != nil {
		e.deliverMulti(c, w)
	}
}

// deliverMulti writes c to w's runtime; a runtime gone meanwhile leaves c
// for another /next, unless the platform has ended it.
func (e *env) deliverMulti(c *call, w *runtimeapi.Waiter) {
	for {
		inv := c.wire("") // managed instances have no tenants
		if w.Deliver(&inv) {
			return
		}
		ms := e.multi
		e.mu.Lock()
		if c.state != callPending || ms.inflight[c.id] != c {
			e.mu.Unlock()
			return
		}
		if n := len(ms.waiters); n > 0 {
			w = ms.waiters[0]
			ms.waiters[0] = nil
			ms.waiters = ms.waiters[1:]
			e.mu.Unlock()
			continue
		}
		ms.queue = append([]*call{c}, ms.queue...) // it was first in line
		e.mu.Unlock()
		return
	}
}

// nextMulti is Next for a multi-invocation environment; e.mu held, and
// released before return.
func (e *env) nextMulti(w *runtimeapi.Waiter) {
	ms := e.multi
	for len(ms.queue) > 0 {
		c := ms.queue[0]
		ms.queue[0] = nil
		ms.queue = ms.queue[1:]
		if c.state == callPending {
			e.mu.Unlock()
			e.deliverMulti(c, w)
			return
		}
	}
	ms.waiters = append(ms.waiters, w)
	e.mu.Unlock()
}

// cancelNextMulti is CancelNext for a multi-invocation environment; e.mu held.
func (e *env) cancelNextMulti(w *runtimeapi.Waiter) {
	ms := e.multi
	if i := slices.Index(ms.waiters, w); i >= 0 {
		ms.waiters = slices.Delete(ms.waiters, i, i+1)
	}
}

// completeMulti records the runtime's result st for id.
func (e *env) completeMulti(id string, st callState, payload []byte) runtimeapi.Verdict {
	ms := e.multi
	e.mu.Lock()
	c := ms.inflight[id]
	if c == nil || c.state != callPending {
		_, seen := ms.recent[id]
		_, late := ms.late[id]
		delete(ms.late, id)
		e.mu.Unlock()
		if late { // the worker is free again
			e.m.holdSlots(e, -1)
		}
		if seen {
			return runtimeapi.AlreadyHandled
		}
		return runtimeapi.UnknownID
	}
	c.state = st
	c.doneAt = time.Now()
	c.payload = payload
	e.forgetLocked(c)
	e.mu.Unlock()
	c.done <- struct{}{}
	return runtimeapi.Accepted
}

// claimMulti marks c finished by the platform (timeout, crash) unless the
// runtime already completed it. On a timeout of a call the runtime has
// fetched, late says the caller must hold its slot (holdSlots) until the
// late result.
func (e *env) claimMulti(c *call, timeout bool) (ok, late bool) {
	ms := e.multi
	e.mu.Lock()
	defer e.mu.Unlock()
	if c.state != callPending {
		return false, false
	}
	c.state = callClaimed
	c.doneAt = time.Now()
	if i := slices.Index(ms.queue, c); i >= 0 {
		// Never fetched: it must not reach a later process.
		ms.queue = slices.Delete(ms.queue, i, i+1)
		c.state = callUnsent
	} else if timeout {
		ms.late[c.id] = struct{}{}
		late = true
	}
	e.forgetLocked(c)
	return true, late
}

// holdSlots counts n more (or, negative, fewer) of e's slots busy with
// timed-out calls. Never called with e.mu held: pool.mu comes first.
func (m *Manager) holdSlots(e *env, n int) {
	p := e.pool
	p.mu.Lock()
	e.multi.held += n
	p.mu.Unlock()
}

// procGoneMulti forgets what the gone process held; e.mu held. It returns
// how many slots of timed-out calls to free (holdSlots) once e.mu is
// released.
func (e *env) procGoneMulti() int {
	ms := e.multi
	clear(ms.waiters)
	ms.waiters = ms.waiters[:0]
	n := len(ms.late)
	clear(ms.late)
	return n
}

// forgetLocked moves c from the in-flight calls to the recent ids; e.mu held.
func (e *env) forgetLocked(c *call) {
	ms := e.multi
	delete(ms.inflight, c.id)
	if _, ok := ms.recent[c.id]; ok {
		return
	}
	if len(ms.order) >= maxRecentIDs {
		delete(ms.recent, ms.order[0])
		ms.order = ms.order[1:]
	}
	ms.recent[c.id] = struct{}{}
	ms.order = append(ms.order, c.id)
}

// takeLogMulti is the output the environment wrote since the last call
// ended: calls share one stdout, so each one's log carries what came
// before it ended (every line lands in exactly one call's log; in the JSON
// log format each line names its own request id, as on AWS).
func (e *env) takeLogMulti(pr *proc) ([]byte, []logs.Mark) {
	e.logMu.Lock()
	defer e.logMu.Unlock()
	if pr != nil {
		e.drainLocked(pr)
	}
	b := e.logBuf
	e.logBuf = nil
	e.logFull = false
	e.logActive = true // output between calls is kept for the next one
	return b, e.takeMarks()
}

func (e *env) finishMulti(c *call, pr *proc, o outcome, start time.Time, initDur time.Duration) Result {
	res := Result{InitDuration: initDur}
	// The environment's peak since it started: calls overlap, so none
	// has a peak of its own.
	e.multi.peakMu.Lock()
	res.MaxMemoryUsedMB = e.peakMB(pr)
	e.multi.peakMu.Unlock()
	status := "success"
	var errType string
	switch o {
	case outDone:
		res.Duration = c.doneAt.Sub(start)
		switch c.state {
		case callTooLarge:
			res.FunctionError = "Unhandled"
			res.Payload = []byte(`{"errorMessage":"Response payload size exceeded maximum allowed payload size (` +
				strconv.Itoa(maxResponseBytes) + ` bytes).","errorType":"Function.ResponseSizeTooLarge"}`)
			status, errType = "error", "Function.ResponseSizeTooLarge"
		case callFailed:
			res.FunctionError = "Unhandled"
			res.Payload = c.payload
			status, errType = "error", "Unhandled"
		default:
			res.Payload = c.payload
		}
	case outTimeout:
		// AWS does not stop the environment, nor the code, for one call's
		// timeout: the other calls go on.
		res.Duration = e.fn.Timeout
		res.FunctionError = "Unhandled"
		res.Payload = timeoutPayload(c.id, e.fn.Timeout)
		status, errType = "timeout", "Sandbox.Timedout"
	case outCrash:
		// The whole process group goes: a runtime's workers die with it.
		pr.kill()
		e.procGone(pr)
		res.Duration = c.doneAt.Sub(start)
		res.FunctionError = "Unhandled"
		res.Payload = exitErrorPayload(c.id, pr.state)
		status, errType = "error", "Runtime.ExitError"
	}
	log := e.appendStart(make([]byte, 0, 512), c.id, start)
	out, marks := e.takeLogMulti(pr)
	shiftMarks(marks, len(log))
	log = append(log, out...)
	switch o {
	case outTimeout:
		if !e.json {
			log = lineBreak(log)
			log = append(log, formatTimestamp(time.Now())...)
			log = append(log, ' ')
			log = append(log, c.id...)
			log = append(log, " Task timed out after "...)
			log = append(log, timeoutSeconds(e.fn.Timeout)...)
			log = append(log, " seconds\n"...)
		}
	case outCrash:
		if !e.json {
			log = append(lineBreak(log), "RequestId: "+c.id+" Error: "+exitText(pr.state)+"\nRuntime.ExitError\n"...)
		}
	}
	res.Log = e.appendEnd(log, c.id, res, status, errType)
	res.LogMarks = marks
	res.LogStream = e.logStream
	e.m.releaseSlot(e)
	return res
}
