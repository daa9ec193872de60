package sandbox

import (
	"context"
	"strconv"
	"time"
)

// call is one invocation handed to the runtime.
type call struct {
	id       string
	inv      Invocation
	deadline time.Time
	// done gets one token when the runtime completes the call, which the
	// call's await takes. It is the environment's channel (capacity 1),
	// not one per call: calls of one environment run one after another,
	// and every completed call's token is taken before the next starts.
	done    chan struct{}
	state   callState // guarded by env.mu
	doneAt  time.Time
	payload []byte
}

// callState is where a call stands. It leaves callPending once, either by
// the runtime's result (complete) or by the platform (claim): whichever
// takes env.mu first decides.
type callState uint8

const (
	callPending   callState = iota // queued for or fetched by the runtime
	callResponded                  // the runtime posted its response
	callFailed                     // the runtime posted an invocation error
	callTooLarge                   // the runtime's response exceeded maxResponseBytes
	callClaimed                    // the platform ended it (timeout, crash)
	callUnsent                     // the platform ended it before any runtime fetched it
)

type outcome int

const (
	outDone outcome = iota
	outTimeout
	outCrash
	outCanceled
)

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
		cold := inv // escapes, so only a cold start pays for it
		pr, initDur, res, err = e.coldStart(ctx, &cold)
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
		inv:      inv,
		deadline: start.Add(e.fn.Timeout),
		done:     e.done,
	}
	// The deadline runs from before the handoff, which it bounds too (a
	// runtime that does not read). One timer per environment, which runs
	// one invocation at a time; Reset discards a stale expiry (Go ≥ 1.23).
	timer := e.timer
	if timer == nil {
		timer = time.NewTimer(e.fn.Timeout)
		e.timer = timer
	} else {
		timer.Reset(e.fn.Timeout)
	}
	e.handOff(c)
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
	if o == outCrash && c.state == callUnsent {
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
	if c.state != callPending {
		return false
	}
	c.state = callClaimed
	c.doneAt = time.Now()
	if e.cur == c {
		e.cur = nil
	}
	e.lastID = c.id
	if e.queued == c { // a call never fetched must not reach the next process
		e.queued = nil
		c.state = callUnsent
	}
	return true
}

// complete records the runtime's result st for invocation id, unless id is
// not the pending call; last then says id was the call just finished.
func (e *env) complete(id string, st callState, payload []byte) (ok, last bool) {
	e.mu.Lock()
	c := e.cur
	if c == nil || c.id != id || c.state != callPending {
		last = e.lastID == id
		e.mu.Unlock()
		return false, last
	}
	c.state = st
	c.doneAt = time.Now()
	c.payload = payload
	e.cur = nil
	e.lastID = id
	e.mu.Unlock()
	c.done <- struct{}{}
	return true, false
}

func (e *env) finish(c *call, pr *proc, o outcome, start time.Time, initDur time.Duration) Result {
	res := Result{InitDuration: initDur}
	res.MaxMemoryUsedMB = e.peakMB(pr)
	status := "success"
	var errType string
	switch o {
	case outDone:
		res.Duration = c.doneAt.Sub(start)
		switch c.state {
		case callTooLarge:
			res.FunctionError = "Unhandled"
			res.Payload = []byte(`{"errorMessage":"Response payload size exceeded maximum allowed payload size (` +
				strconv.FormatInt(c.inv.responseLimit(), 10) + ` bytes).","errorType":"Function.ResponseSizeTooLarge"}`)
			status, errType = "error", "Function.ResponseSizeTooLarge"
		case callFailed:
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
	log, marks := e.endLog(pr)
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
	return []byte(`{"errorType":"Runtime.ExitError","errorMessage":"RequestId: ` + jsonEscape(id) + ` Error: ` + jsonEscape(exitText(state)) + `"}`)
}

// exitText says how the runtime ended as AWS does: a clean exit (status 0)
// mid-invocation is "without providing a reason".
func exitText(state string) string {
	if state == "exit status 0" {
		return "Runtime exited without providing a reason"
	}
	return "Runtime exited with error: " + state
}
