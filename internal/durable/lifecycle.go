package durable

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/spec"
	"github.com/lambdad/lambdad/internal/store"
)

// update runs one change of the execution arn names in a write transaction.
func (s *Service) update(ctx context.Context, arn string, fn func(t *txn) error) error {
	return s.batch(ctx, func(tx store.Tx) error {
		ex, err := loadARN(tx, arn)
		if err != nil {
			return err
		}
		t := s.newTxn(tx, ex, s.now())
		if err := fn(t); err != nil {
			return err
		}
		return t.save()
	})
}

// Stop is StopDurableExecution: the execution ends STOPPED with e; it
// takes no more checkpoints and starts no invocation; an invocation running
// now learns it from its next checkpoint (1.8).
func (s *Service) Stop(ctx context.Context, arn string, e *ErrorObject) (time.Time, error) {
	if err := checkError(e); err != nil {
		return time.Time{}, err
	}
	var at time.Time
	err := s.update(ctx, arn, func(t *txn) error {
		if t.ex.Closed() {
			// [?] what AWS answers; the model's errors for this operation
			// have no ResourceConflictException.
			return fault.InvalidParameterf(msgAlreadyClosed, arn)
		}
		at = t.now
		return t.close(Stopped, nil, e)
	})
	return at, err
}

// Outcome is how an invocation of a durable execution ended.
type Outcome struct {
	// Invocation is InvocationInput.Invocation(): an outcome of an older
	// invocation than the current one changes nothing.
	Invocation uint32
	RequestID  string
	// Output is what the handler returned: {Status, Result, Error} (1.3).
	Output []byte
	// Err, when set, says the invocation failed (function error, crash,
	// timeout) without an output: it is retried, not the execution failed.
	Err *ErrorObject
}

// Finished says what Finish did.
type Finished struct {
	Execution *Execution
	// Invoke: the execution needs another invocation now (a failed one to
	// retry, or changes it did not see before it answered PENDING).
	Invoke bool
}

// invocationOutput is DurableExecutionInvocationOutput.
type invocationOutput struct {
	Status string            `json:"Status"`
	Result *string           `json:"Result"`
	Error  *spec.ErrorObject `json:"Error"`
}

// Finish applies an invocation's end (docs/durable.md 1.3): SUCCEEDED or
// FAILED closes the execution (unless a checkpoint closed it already, whose
// result stands), PENDING leaves it waiting. Its InvocationCompleted event
// is written in the same transaction.
func (s *Service) Finish(ctx context.Context, arn string, out Outcome) (*Finished, error) {
	var res Finished
	err := s.update(ctx, arn, func(t *txn) error {
		ex := t.ex
		res = Finished{Execution: ex}
		if out.Invocation != ex.Invocation || ex.InvocationStarted.IsZero() {
			return nil
		}
		if err := t.event(nil, Event{Type: EvInvocationCompleted, InvocationStart: ex.InvocationStarted,
			InvocationEnd: t.now, RequestID: out.RequestID, Error: out.Err}); err != nil {
			return err
		}
		ex.InvocationStarted = time.Time{}
		if ex.Closed() {
			return nil
		}
		if err := t.settlePause(); err != nil {
			return err
		}
		if out.Err != nil {
			ex.NeedsInvoke, res.Invoke, ex.Owed = true, ex.Paused == nil, ex.Paused != nil
			return nil
		}
		var o invocationOutput
		if err := json.Unmarshal(out.Output, &o); err != nil {
			o.Status = ""
		}
		switch o.Status {
		case Succeeded:
			r := o.Result
			if r == nil {
				r = ptr("")
			}
			return t.close(Succeeded, r, nil)
		case Failed:
			return t.close(Failed, nil, FromSpecError(o.Error))
		case "PENDING":
			if len(ex.Dirty) > 0 {
				ex.NeedsInvoke, res.Invoke, ex.Owed = true, ex.Paused == nil, ex.Paused != nil
				return nil
			}
			pending, err := t.anyPending()
			if err != nil || pending {
				return err
			}
			return t.close(Failed, nil, &ErrorObject{Type: ptr("InvalidParameterValueException"), Message: ptr(msgPendingNothing)})
		}
		// [?] an output that is not the SDK's: the execution fails.
		return t.close(Failed, nil, &ErrorObject{Type: ptr("InvalidParameterValueException"), Message: ptr(msgBadOutput)})
	})
	if err != nil {
		return nil, err
	}
	return &res, nil
}

// msgBadOutput is lambdad's words [?] for a handler output without a
// durable Status.
const msgBadOutput = "The durable function returned an output without a valid Status."

// anyPending says whether an operation still waits for something.
func (t *txn) anyPending() (bool, error) {
	found := false
	var bad error
	err := t.tx.Scan(bOp, t.ex.ID+"/", "", func(_ string, raw []byte) bool {
		op, err := decodeOp(raw)
		if err != nil {
			bad = err
			return false
		}
		switch {
		case op.Type == TypeStep && (op.Status == OpPending || op.Status == OpReady),
			(op.Type == TypeWait || op.Type == TypeCallback || op.Type == TypeChainedInvoke) && op.Status == OpStarted:
			found = true
		}
		return !found
	})
	if err == nil {
		err = bad
	}
	return found, err
}

// callback finds the open CALLBACK operation id names and runs fn on it.
// It answers the execution to invoke now, "" for none.
func (s *Service) callback(ctx context.Context, id string, fn func(t *txn, op *Operation) error) (string, error) {
	invoke := ""
	err := s.batch(ctx, func(tx store.Tx) error {
		invoke = ""
		execID, err := CallbackExec(id)
		if err != nil {
			return fault.InvalidParameterf(msgCallbackInvalid)
		}
		ex, err := loadExec(tx, execID)
		if err != nil {
			return err
		}
		if ex == nil {
			return fault.NotFoundf("Callback", msgCallbackNotFound)
		}
		cb, err := CheckCallbackID(id, ex.Key)
		if err != nil {
			return fault.NotFoundf("Callback", msgCallbackNotFound)
		}
		t := s.newTxn(tx, ex, s.now())
		op, err := t.op(cb.Operation)
		if err != nil {
			return err
		}
		if op == nil || op.Type != TypeCallback {
			return fault.NotFoundf("Callback", msgCallbackNotFound)
		}
		if ex.Closed() || op.Status != OpStarted {
			return fault.New(fault.CallbackTimeout, msgCallbackClosed)
		}
		before := ex.NeedsInvoke
		if err := fn(t, op); err != nil {
			return err
		}
		if ex.NeedsInvoke && !before && ex.Paused == nil {
			invoke = ex.ARN
		}
		return t.save()
	})
	return invoke, err
}

// CallbackSuccess is SendDurableExecutionCallbackSuccess.
func (s *Service) CallbackSuccess(ctx context.Context, callbackID string, result []byte) (string, error) {
	return s.callback(ctx, callbackID, func(t *txn, op *Operation) error {
		r := string(result)
		op.Status, op.Ended, op.Callback.Result = OpSucceeded, t.now, &r
		return t.finishCallback(op, Event{Type: EvCallbackSucceeded, Payload: &r})
	})
}

// CallbackFailure is SendDurableExecutionCallbackFailure.
func (s *Service) CallbackFailure(ctx context.Context, callbackID string, e *ErrorObject) (string, error) {
	if err := checkError(e); err != nil {
		return "", err
	}
	return s.callback(ctx, callbackID, func(t *txn, op *Operation) error {
		op.Status, op.Ended, op.Callback.Error = OpFailed, t.now, e
		return t.finishCallback(op, Event{Type: EvCallbackFailed, Error: e})
	})
}

// CallbackHeartbeat is SendDurableExecutionCallbackHeartbeat: it moves the
// heartbeat deadline, when the callback has one.
func (s *Service) CallbackHeartbeat(ctx context.Context, callbackID string) error {
	_, err := s.callback(ctx, callbackID, func(t *txn, op *Operation) error {
		if op.Callback.HeartbeatSeconds == 0 {
			return nil
		}
		return Schedule(t.tx, Timer{Exec: t.ex.ID, Kind: timerHeartbeat + op.ID, At: t.now.Add(time.Duration(op.Callback.HeartbeatSeconds) * time.Second)})
	})
	if err == nil {
		s.notify()
	}
	return err
}

// finishCallback saves a closed callback, its event, drops its deadlines
// and wakes the execution.
func (t *txn) finishCallback(op *Operation, ev Event) error {
	if err := t.cancelCallbackTimers(op.ID); err != nil {
		return err
	}
	if err := t.put(op); err != nil {
		return err
	}
	t.markDirty(op.ID)
	return t.event(op, ev)
}

// ChainedInvokeDone records the end of a CHAINED_INVOKE's target: status
// is SUCCEEDED, FAILED, TIMED_OUT or STOPPED. It answers the execution to
// invoke now, "" for none.
func (s *Service) ChainedInvokeDone(ctx context.Context, arn, opID, status string, result *string, e *ErrorObject) (string, error) {
	invoke := ""
	err := s.update(ctx, arn, func(t *txn) error {
		invoke = ""
		op, err := t.op(opID)
		if err != nil {
			return err
		}
		if op == nil || op.Type != TypeChainedInvoke {
			return fault.NotFoundf(resource, "Operation not found: %s", opID) // [?] internal use
		}
		if t.ex.Closed() || op.Status != OpStarted {
			return nil
		}
		ev := Event{Error: e}
		switch status {
		case OpSucceeded:
			ev.Type, ev.Error, ev.Payload, op.Chained.Result = EvChainedInvokeSucceeded, nil, result, result
		case OpFailed:
			ev.Type, op.Chained.Error = EvChainedInvokeFailed, e
		case OpTimedOut:
			ev.Type, op.Chained.Error = EvChainedInvokeTimedOut, e
		case OpStopped:
			ev.Type, op.Chained.Error = EvChainedInvokeStopped, e
		default:
			return fmt.Errorf("durable: chained invoke status %q", status)
		}
		op.Status, op.Ended = status, t.now
		if err := t.put(op); err != nil {
			return err
		}
		if t.markDirty(op.ID) {
			invoke = t.ex.ARN
		}
		return t.event(op, ev)
	})
	return invoke, err
}

// fireBatch bounds the timers one Fire applies, so one transaction stays
// small; the scheduler calls again while timers are due.
const fireBatch = 256

// Fire applies the timers due at now (wait ends, step retry times,
// callback and heartbeat timeouts, execution timeouts), all in one
// transaction, and answers the executions that need an invocation now.
// A crash before its commit leaves the timers set: they fire after restart.
//
// Nodes sharing a store fire each timer once: Fire claims the due timers
// (store.Claim: SKIP LOCKED on a shared store), so two nodes' Fire skip
// each other's.
func (s *Service) Fire(ctx context.Context, now time.Time) ([]string, error) {
	var wake []string
	txns := map[string]*txn{}
	err := store.Claim(ctx, s.cfg.Store, bDue, "", dueBound(now), fireBatch, func(tx store.Tx, k string, _ []byte) (bool, error) {
		tm, ok := parseDue(k)
		if !ok {
			return false, fmt.Errorf("durable: bad due key %q", k)
		}
		if err := Cancel(tx, tm.Exec, tm.Kind); err != nil {
			return false, err
		}
		t, ok := txns[tm.Exec]
		if !ok {
			ex, err := loadExec(tx, tm.Exec)
			if err != nil {
				return false, err
			}
			if ex == nil {
				return true, nil
			}
			t = s.newTxn(tx, ex, now.UTC())
			txns[tm.Exec] = t
		}
		if t.ex.Closed() {
			return true, nil
		}
		woke, err := t.fire(tm.Kind)
		if err != nil {
			return false, err
		}
		if woke && !slices.Contains(wake, t.ex.ARN) {
			wake = append(wake, t.ex.ARN)
		}
		// Saved after each timer: the claim hands them over one by one.
		return true, t.save()
	})
	if err != nil {
		return nil, err
	}
	return wake, nil
}

// dueBound is the exclusive bound of the bDue keys due at now.
func dueBound(now time.Time) string {
	n := nanos(now)
	if n < math.MaxInt64 {
		n++
	}
	return fmt.Sprintf("%0*d", dueDigits, n)
}

// fire applies one timer of the execution.
func (t *txn) fire(kind string) (bool, error) {
	if kind == timerTimeout {
		// No error: on AWS an ExecutionTimedOut event carries no error
		// details (AWS's maintainers, aws-durable-execution-sdk-js#361,
		// seen with the cloud test runner), and the model leaves
		// ExecutionTimedOutDetails.Error optional where the failed and
		// stopped details require it.
		return false, t.close(TimedOut, nil, nil)
	}
	var prefix string
	for _, p := range []string{timerWait, timerRetry, timerCallback, timerHeartbeat} {
		if strings.HasPrefix(kind, p) {
			prefix = p
		}
	}
	op, err := t.op(strings.TrimPrefix(kind, prefix))
	if err != nil || op == nil {
		return false, err
	}
	switch prefix {
	case timerWait:
		if op.Status != OpStarted {
			return false, nil
		}
		op.Status, op.Ended = OpSucceeded, t.now
		err = t.event(op, Event{Type: EvWaitSucceeded, Duration: ptr(op.Wait.Seconds)})
	case timerRetry:
		if op.Status != OpPending {
			return false, nil
		}
		op.Status = OpReady
	case timerCallback, timerHeartbeat:
		if op.Status != OpStarted {
			return false, nil
		}
		// AWS's error types: Callback.Timeout, and Callback.Heartbeat for a
		// missed heartbeat (aws-durable-execution-conformance-tests,
		// callback/4-3 and 4-4, run against AWS); its messages "Callback
		// timed out" and "Callback timed out on heartbeat" (the JS SDK's
		// create-callback-timeout example test, which its integration run
		// checks against AWS, and whose wait-for-callback-timeout test notes
		// that the cloud answers "Callback timed out").
		e := &ErrorObject{Type: ptr("Callback.Timeout"), Message: ptr("Callback timed out")}
		if prefix == timerHeartbeat {
			e.Type, e.Message = ptr("Callback.Heartbeat"), ptr("Callback timed out on heartbeat")
		}
		op.Status, op.Ended, op.Callback.Error = OpTimedOut, t.now, e
		if err = t.cancelCallbackTimers(op.ID); err == nil {
			err = t.event(op, Event{Type: EvCallbackTimedOut, Error: e})
		}
	default:
		// A kind this lambdad does not know (written by a newer one): it is
		// cancelled with the others rather than block every timer after it.
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := t.put(op); err != nil {
		return false, err
	}
	return t.markDirty(op.ID), nil
}

// NextDue is when the earliest timer is due, for the scheduler's sleep.
func (s *Service) NextDue(ctx context.Context) (time.Time, bool, error) {
	var tm Timer
	var ok bool
	err := s.cfg.Store.View(ctx, func(tx store.Tx) error {
		var err error
		tm, ok, err = Next(tx)
		return err
	})
	return tm.At, ok, err
}

// Pending lists the running executions that need an invocation: marked so,
// or whose invocation was running when lambdad stopped (after a kill -9
// it never finished). Read at start; each is re-invoked (a replay).
func (s *Service) Pending(ctx context.Context) ([]string, error) {
	var arns []string
	err := s.cfg.Store.View(ctx, func(tx store.Tx) error {
		arns = nil
		now := s.now()
		return eachRunning(tx, runInvoke, func(ex *Execution) error {
			// Another live node's are not this node's to resume.
			if (ex.NeedsInvoke || !ex.InvocationStarted.IsZero()) && !ex.leasedElsewhere(s.cfg.NodeID, now) {
				arns = append(arns, ex.ARN)
			}
			return nil
		})
	})
	return arns, err
}

// eachRunning calls fn with each execution not closed, from the running
// index, whose flags must have one of want set (an index value without
// flags, from before them, always reads the execution).
func eachRunning(tx store.Tx, want byte, fn func(*Execution) error) error {
	var ids []string
	if err := tx.Scan(bRunning, "", "", func(k string, v []byte) bool {
		if len(v) != runningFlagLen || v[0] != runningV || v[1]&want != 0 {
			ids = append(ids, k)
		}
		return true
	}); err != nil {
		return err
	}
	for _, id := range ids {
		ex, err := loadExec(tx, id)
		if err != nil {
			return err
		}
		if ex != nil && !ex.Closed() {
			if err := fn(ex); err != nil {
				return err
			}
		}
	}
	return nil
}

// purgeBatch bounds the executions one Purge removes.
const purgeBatch = 64

// Purge removes the executions whose retention ended by now: record,
// operations, history, name, listing, timers. It answers how many.
func (s *Service) Purge(ctx context.Context, now time.Time) (int, error) {
	n := 0
	err := s.cfg.Store.Update(ctx, func(tx store.Tx) error {
		n = 0
		limit := nanoKey(now)
		var keys []string
		if err := tx.Scan(bExpire, "", "", func(k string, _ []byte) bool {
			if k[:dueDigits] > limit || len(keys) == purgeBatch {
				return false
			}
			keys = append(keys, k)
			return true
		}); err != nil {
			return err
		}
		for _, k := range keys {
			if err := tx.Delete(bExpire, k); err != nil {
				return err
			}
			id := k[dueDigits+1:]
			ex, err := loadExec(tx, id)
			if err != nil {
				return err
			}
			if ex == nil {
				continue
			}
			if err := purge(tx, ex); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

func purge(tx store.Tx, ex *Execution) error {
	for _, b := range []string{bOp, bOpID, bEvent} {
		var keys []string
		if err := tx.Scan(b, ex.ID+"/", "", func(k string, _ []byte) bool {
			keys = append(keys, k)
			return true
		}); err != nil {
			return err
		}
		for _, k := range keys {
			if err := tx.Delete(b, k); err != nil {
				return err
			}
		}
	}
	nameKey := ex.FunctionARN + "/" + ex.Name
	if string(tx.Get(bName, nameKey)) == ex.ID {
		if err := tx.Delete(bName, nameKey); err != nil {
			return err
		}
	}
	for _, d := range []struct{ b, k string }{
		{bByFn, ex.FunctionARN + "/" + nanoKey(ex.Started) + "/" + ex.ID},
		{bClient, ex.ID}, {bRunning, ex.ID}, {bExec, ex.ID},
	} {
		if err := tx.Delete(d.b, d.k); err != nil {
			return err
		}
	}
	return CancelAll(tx, ex.ID)
}

// checkError holds an error given from outside an invocation (a callback's
// failure, a stop) to the bound of an error a checkpoint gives: the model
// has none for ErrorObject, and AWS's answer is unknown [?].
func checkError(e *ErrorObject) error {
	if e != nil && errorSize(SpecError(e)) >= maxErrorSize {
		return bad(msgErrorSize)
	}
	return nil
}
