package sandbox

import (
	"time"

	"github.com/lambdad/lambdad/internal/runtimeapi"
)

// env is the runtimeapi.Env of its Runtime API: the calls below are the
// runtime's requests, made from its connections' goroutines.
var _ runtimeapi.Env = (*env)(nil)

// Next hands the runtime its next invocation, now or when one comes; the
// first call ends the init phase.
func (e *env) Next(w *runtimeapi.Waiter) error {
	e.mu.Lock()
	pr := e.proc
	if pr == nil {
		e.mu.Unlock()
		return runtimeapi.ErrShuttingDown
	}
	if pr.phase == initRunning {
		pr.phase = initReady
		pr.initDone = time.Now()
		close(pr.ready)
	}
	if e.multi != nil {
		e.nextMulti(w) // unlocks e.mu
		return nil
	}
	c := e.queued
	e.queued = nil
	if c == nil || e.cur != c || c.state != callPending {
		e.waiting = w
		e.mu.Unlock()
		return nil
	}
	e.mu.Unlock()
	e.deliver(c, w)
	return nil
}

// CancelNext forgets w, whose runtime connection moved on or went away.
func (e *env) CancelNext(w *runtimeapi.Waiter) {
	e.mu.Lock()
	if e.waiting == w {
		e.waiting = nil
	}
	if e.multi != nil {
		e.cancelNextMulti(w)
	}
	e.mu.Unlock()
}

// handOff gives c to a waiting runtime, or queues it for the next /next.
func (e *env) handOff(c *call) {
	e.mu.Lock()
	e.cur = c
	w := e.waiting
	e.waiting = nil
	if w == nil {
		e.queued = c
	}
	e.mu.Unlock()
	if w != nil {
		e.deliver(c, w)
	}
}

// deliver writes c to w's runtime; a runtime gone meanwhile leaves it
// queued for the next /next, unless the platform has ended it.
func (e *env) deliver(c *call, w *runtimeapi.Waiter) {
	inv := c.wire(e.tenant()) // the environment's one tenant
	if w.Deliver(&inv) {
		return
	}
	e.mu.Lock()
	if e.cur == c && c.state == callPending && e.queued == nil {
		if w := e.waiting; w != nil {
			e.waiting = nil
			e.mu.Unlock()
			e.deliver(c, w)
			return
		}
		e.queued = c
	}
	e.mu.Unlock()
}

// Result takes the runtime's result of invocation id.
func (e *env) Result(id string, kind runtimeapi.ResultKind, body []byte) runtimeapi.Verdict {
	st := callResponded
	switch kind {
	case runtimeapi.Failure:
		st = callFailed
	case runtimeapi.TooLarge:
		st = callTooLarge
	}
	if e.multi != nil {
		return e.completeMulti(id, st, body)
	}
	switch ok, last := e.complete(id, st, body); {
	case ok:
		return runtimeapi.Accepted
	case last:
		return runtimeapi.AlreadyHandled
	}
	return runtimeapi.UnknownID
}

// InitError takes the error that ended the runtime's init.
func (e *env) InitError(body []byte) bool {
	e.mu.Lock()
	pr := e.proc
	if pr == nil || pr.phase != initRunning {
		e.mu.Unlock()
		return false
	}
	pr.phase = initFailed
	pr.initErr = body
	e.mu.Unlock()
	close(pr.initErrCh)
	return true
}

// wire is the call as the Runtime API hands it to the runtime.
func (c *call) wire(tenant string) runtimeapi.Invocation {
	return runtimeapi.Invocation{
		RequestID:       c.id,
		FunctionARN:     c.inv.InvokedFunctionARN,
		TraceID:         c.inv.TraceID,
		ClientContext:   c.inv.ClientContext,
		CognitoIdentity: c.inv.CognitoIdentity,
		DeadlineMs:      c.deadline.UnixMilli(),
		Payload:         c.inv.Payload,
		TenantID:        tenant,
	}
}
