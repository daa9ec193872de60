package durable

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/spec"
	"github.com/lambdad/lambdad/internal/store"
)

// CheckpointResult is CheckpointDurableExecution's answer.
type CheckpointResult struct {
	// Token is the next checkpoint token; "" when this checkpoint ended the
	// execution (EXECUTION SUCCEED or FAIL): the service omits it then, and
	// only then (AWS's maintainers, aws-durable-execution-sdk-python#571).
	Token string
	// Operations changed since the previous checkpoint: by this one and
	// from outside (timers, callbacks) (1.5). Never nil.
	Operations []Operation
	// ChainedInvokes lists the CHAINED_INVOKE operations this checkpoint
	// started: the invoker runs their targets (not on a replay).
	ChainedInvokes []string
	Execution      *Execution
}

// clientAnswer is the last checkpoint's answer, kept for ClientToken
// replays (bucket bClient, key exec id).
type clientAnswer struct {
	ClientToken string      `json:"clientToken"`
	InToken     string      `json:"inToken"`
	OutToken    string      `json:"outToken"`
	Operations  []Operation `json:"operations"`
	At          time.Time   `json:"at"`
}

// clientTokenWindow is how long a ClientToken makes a checkpoint
// idempotent [API].
const clientTokenWindow = 15 * time.Minute

// maxErrorSize bounds an update's error object [EMU].
const maxErrorSize = 32768

// maxOutputSize bounds a STEP's result: AWS answered "STEP output payload
// size must be less than or equal to 262144 bytes" to an SDK user
// (aws-durable-execution-sdk-python#342). lambdad holds CONTEXT results to
// the same [?]; an EXECUTION's result may be larger (the SDK checkpoints
// results up to 6 MB, 1.3).
const maxOutputSize = 262144

// Messages of refused updates, all InvalidParameterValueException: [EMU]'s
// words (docs/durable.md 1.5), unverified against AWS; those marked [?] are
// lambdad's where [EMU] has none.
const (
	msgStepStart       = "Invalid current STEP state to start."
	msgStepClose       = "Invalid current STEP state to close."
	msgStepRetry       = "Invalid current STEP state to re-attempt."
	msgStepOptions     = "Invalid StepOptions for the given action."
	msgRetryBoth       = "Cannot provide both error and payload to RETRY a STEP."
	msgFailPayload     = "Cannot provide a Payload for FAIL action."
	msgSucceedError    = "Cannot provide an Error for SUCCEED action."
	msgStartExists     = "Cannot start a %s that already exists."
	msgCancelMissing   = "Cannot cancel a %s that does not exist or has already completed."
	msgBadAction       = "Invalid action for the given operation type."
	msgBadParent       = "Invalid parent operation id."
	msgTwice           = "Cannot update the same operation twice in a single request."
	msgManyExecution   = "Cannot checkpoint multiple EXECUTION updates."
	msgExecutionLast   = "EXECUTION checkpoint must be the last update."
	msgErrorSize       = "Error object size must be less than 32768 bytes."
	msgOutputSize      = "%s output payload size must be less than or equal to %d bytes" // AWS's, for STEP, as quoted without a final period (see maxOutputSize)
	msgContextClose    = "Invalid current CONTEXT state to close."                       // [?]
	msgTypeMismatch    = "Cannot update an operation with a different type."             // [?]
	msgWaitOptions     = "Invalid WaitOptions for the given action."                     // [?]
	msgChainedOptions  = "Invalid ChainedInvokeOptions for the given action."            // [?]
	msgMissingRequired = "An OperationUpdate needs an Id, a Type and an Action."         // [?] the model requires them; the API layer validates first
)

var actions = map[string][]string{
	TypeExecution:     {ActionSucceed, ActionFail},
	TypeStep:          {ActionStart, ActionSucceed, ActionFail, ActionRetry},
	TypeContext:       {ActionStart, ActionSucceed, ActionFail},
	TypeWait:          {ActionStart, ActionCancel},
	TypeCallback:      {ActionStart, ActionCancel},
	TypeChainedInvoke: {ActionStart, ActionCancel},
}

func bad(format string, args ...any) error { return fault.InvalidParameterf(format, args...) }

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// Checkpoint is CheckpointDurableExecution: it consumes token, applies the
// updates in order (all or none: one refused update refuses the request),
// and answers the next token with what changed. Everything it does (the
// execution record, operations, history, timers, the answer kept for
// clientToken) is one store transaction.
func (s *Service) Checkpoint(ctx context.Context, arn, token, clientToken string, updates []spec.OperationUpdate) (*CheckpointResult, error) {
	var out *CheckpointResult
	// Checkpoints are the hot write: with a store that can, concurrent ones
	// share a commit (group commit). The function may run again, so it
	// keeps its effects in tx and resets out.
	err := s.batch(ctx, func(tx store.Tx) error {
		out = nil
		now := s.now()
		if clientToken != "" {
			if r, err := replay(tx, arn, token, clientToken, now); err != nil || r != nil {
				out = r
				return err
			}
		}
		ex, err := checkToken(tx, arn, token, false)
		if err != nil {
			return err
		}
		if ex.Paused != nil {
			return pausedCheckpoint()
		}
		t := s.newTxn(tx, ex, now)
		chained, err := t.apply(updates)
		if err != nil {
			return err
		}
		ex.Seq++
		next := ""
		if !ex.Closed() {
			if next, err = (Token{Exec: ex.ID, Invocation: ex.Invocation, Seq: ex.Seq}).Encode(ex.Key); err != nil {
				return err
			}
		}
		ops := []Operation{}
		changed := slices.Concat(t.touched, ex.Dirty)
		seen := map[string]bool{}
		for _, id := range changed {
			if seen[id] {
				continue
			}
			seen[id] = true
			op, err := t.op(id)
			if err != nil {
				return err
			}
			if op != nil {
				ops = append(ops, *op)
			}
		}
		ex.Dirty = nil
		if err := t.save(); err != nil {
			return err
		}
		out = &CheckpointResult{Token: next, Operations: ops, ChainedInvokes: chained, Execution: ex}
		if clientToken == "" {
			return tx.Delete(bClient, ex.ID)
		}
		raw, err := json.Marshal(clientAnswer{ClientToken: clientToken, InToken: token, OutToken: next, Operations: ops, At: now})
		if err != nil {
			return err
		}
		return tx.Put(bClient, ex.ID, raw)
	})
	if err != nil {
		return nil, err
	}
	s.notify()
	return out, nil
}

// replay answers a checkpoint repeated with the same ClientToken and token
// as the last one, byte for byte, applying nothing [EMU-PY]. nil when it is
// not such a repeat.
func replay(tx store.Tx, arn, token, clientToken string, now time.Time) (*CheckpointResult, error) {
	ex, err := loadARN(tx, arn)
	if fault.Is(err, fault.NotFound) {
		return nil, invalidToken()
	}
	if err != nil {
		return nil, err
	}
	raw := tx.Get(bClient, ex.ID)
	if raw == nil {
		return nil, nil
	}
	var a clientAnswer
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, err
	}
	if a.ClientToken != clientToken || a.InToken != token || now.Sub(a.At) > clientTokenWindow {
		return nil, nil
	}
	if a.Operations == nil {
		a.Operations = []Operation{}
	}
	// No ChainedInvokes: the first answer handed them to the invoker
	// already, whether or not the client received it.
	return &CheckpointResult{Token: a.OutToken, Operations: a.Operations, Execution: ex}, nil
}

// apply runs the updates of one checkpoint in order; it returns the
// CHAINED_INVOKE operations started.
func (t *txn) apply(updates []spec.OperationUpdate) ([]string, error) {
	done := map[string]string{} // operation id → action applied in this request
	executions := 0
	for i := range updates {
		if str(updates[i].Type) == TypeExecution {
			executions++
		}
	}
	if executions > 1 {
		return nil, bad(msgManyExecution)
	}
	var chained []string
	for i := range updates {
		u := &updates[i]
		id, typ, action := str(u.Id), str(u.Type), str(u.Action)
		if id == "" || typ == "" || action == "" {
			return nil, bad(msgMissingRequired)
		}
		if typ == TypeExecution && i != len(updates)-1 {
			return nil, bad(msgExecutionLast)
		}
		valid, ok := actions[typ]
		if !ok || !slices.Contains(valid, action) {
			return nil, bad(msgBadAction)
		}
		if prev, ok := done[id]; ok && !(prev == ActionStart && action != ActionStart && (typ == TypeStep || typ == TypeContext)) {
			return nil, bad(msgTwice)
		}
		done[id] = action
		if u.Error != nil && errorSize(u.Error) >= maxErrorSize {
			return nil, bad(msgErrorSize)
		}
		if action == ActionSucceed && u.Error != nil {
			return nil, bad(msgSucceedError)
		}
		if action == ActionFail && u.Payload != nil {
			return nil, bad(msgFailPayload)
		}
		if (typ == TypeStep || typ == TypeContext) && len(str(u.Payload)) > maxOutputSize {
			return nil, bad(msgOutputSize, typ, maxOutputSize)
		}
		if typ == TypeExecution {
			if err := t.applyExecution(u, action); err != nil {
				return nil, err
			}
			continue
		}
		if p := str(u.ParentId); p != "" {
			parent, err := t.op(p)
			if err != nil {
				return nil, err
			}
			if parent == nil || parent.Type != TypeContext {
				return nil, bad(msgBadParent)
			}
		}
		op, err := t.op(id)
		if err != nil {
			return nil, err
		}
		if op != nil && op.Type != typ {
			return nil, bad(msgTypeMismatch)
		}
		if u.StepOptions != nil && (typ != TypeStep || action != ActionRetry) {
			return nil, bad(msgStepOptions)
		}
		switch typ {
		case TypeStep:
			err = t.applyStep(u, op, action)
		case TypeContext:
			err = t.applyContext(u, op, action)
		case TypeWait:
			err = t.applyWait(u, op, action)
		case TypeCallback:
			err = t.applyCallback(u, op, action)
		case TypeChainedInvoke:
			if err = t.applyChained(u, op, action); err == nil && action == ActionStart {
				chained = append(chained, id)
				t.chained = true
			}
		}
		if err != nil {
			return nil, err
		}
	}
	return chained, nil
}

// errorSize is the JSON size of an error as the SDK sent it.
func errorSize(e *spec.ErrorObject) int {
	b, _ := json.Marshal(e)
	return len(b)
}

// newOp is the operation an update creates.
func newOp(u *spec.OperationUpdate, status string) *Operation {
	return &Operation{ID: str(u.Id), ParentID: str(u.ParentId), Name: str(u.Name), Type: str(u.Type), SubType: str(u.SubType), Status: status}
}

// applyExecution closes the execution: whatever its Id, an EXECUTION
// update applies to the execution itself [EMU][SDK].
func (t *txn) applyExecution(u *spec.OperationUpdate, action string) error {
	if action == ActionSucceed {
		p := u.Payload
		if p == nil {
			p = ptr("")
		}
		return t.close(Succeeded, p, nil)
	}
	return t.close(Failed, nil, FromSpecError(u.Error))
}

func (t *txn) applyStep(u *spec.OperationUpdate, op *Operation, action string) error {
	open := op == nil || op.Status == OpStarted || op.Status == OpReady
	switch action {
	case ActionStart:
		if op != nil && op.Status != OpReady {
			return bad(msgStepStart)
		}
		if op == nil {
			op = newOp(u, OpStarted)
			op.Step = &StepState{}
			if err := t.create(op); err != nil {
				return err
			}
		} else {
			op.Status = OpStarted
			op.Step.NextAttempt = time.Time{}
			if err := t.put(op); err != nil {
				return err
			}
		}
		return t.event(op, Event{Type: EvStepStarted})
	case ActionSucceed, ActionFail:
		if !open {
			return bad(msgStepClose)
		}
	case ActionRetry:
		if !open {
			return bad(msgStepRetry)
		}
		if u.StepOptions == nil || u.StepOptions.NextAttemptDelaySeconds == nil || *u.StepOptions.NextAttemptDelaySeconds < 0 {
			return bad(msgStepOptions)
		}
		if u.Payload != nil && u.Error != nil {
			return bad(msgRetryBoth)
		}
	}
	created := op == nil
	if created {
		op = newOp(u, OpStarted)
		op.Step = &StepState{}
		op.Started = t.now
	}
	if op.Step == nil {
		op.Step = &StepState{}
	}
	// StepDetails.Attempt counts the attempts retried: only RETRY raises it
	// (both AWS emulators; the SDK runs attempt Attempt+1 next). The event's
	// CurrentAttempt is the 1-based number of the attempt that just ended.
	attempt := op.Step.Attempt + 1
	if action == ActionRetry {
		op.Step.Attempt = attempt
	}
	ev := Event{Attempt: &attempt}
	switch action {
	case ActionSucceed:
		op.Status, op.Ended, op.Step.Result, op.Step.Error = OpSucceeded, t.now, u.Payload, nil
		ev.Type, ev.Payload = EvStepSucceeded, u.Payload
	case ActionFail:
		op.Status, op.Ended, op.Step.Error, op.Step.Result = OpFailed, t.now, FromSpecError(u.Error), nil
		ev.Type, ev.Error = EvStepFailed, op.Step.Error
	case ActionRetry:
		delay := *u.StepOptions.NextAttemptDelaySeconds
		op.Status = OpPending
		op.Step.NextAttempt = t.now.Add(time.Duration(delay) * time.Second)
		op.Step.Result, op.Step.Error = u.Payload, FromSpecError(u.Error)
		ev.NextDelay = &delay
		// A RETRY with a payload is a poll that succeeded, not yet done [EMU].
		if u.Payload != nil {
			ev.Type, ev.Payload = EvStepSucceeded, u.Payload
		} else {
			ev.Type, ev.Error = EvStepFailed, op.Step.Error
		}
		if err := Schedule(t.tx, Timer{Exec: t.ex.ID, Kind: timerRetry + op.ID, At: op.Step.NextAttempt}); err != nil {
			return err
		}
	}
	var err error
	if created {
		err = t.create(op)
	} else {
		err = t.put(op)
	}
	if err != nil {
		return err
	}
	return t.event(op, ev)
}

func (t *txn) applyContext(u *spec.OperationUpdate, op *Operation, action string) error {
	if action == ActionStart {
		if op != nil {
			return bad(msgStartExists, TypeContext)
		}
		op = newOp(u, OpStarted)
		op.Context = &ContextState{}
		if err := t.create(op); err != nil {
			return err
		}
		return t.event(op, Event{Type: EvContextStarted})
	}
	if op == nil || op.Status != OpStarted {
		return bad(msgContextClose)
	}
	if op.Context == nil {
		op.Context = &ContextState{}
	}
	if o := u.ContextOptions; o != nil && o.ReplayChildren != nil {
		op.Context.ReplayChildren = *o.ReplayChildren
	}
	op.Ended = t.now
	ev := Event{}
	if action == ActionSucceed {
		op.Status, op.Context.Result = OpSucceeded, u.Payload
		ev.Type, ev.Payload = EvContextSucceeded, u.Payload
	} else {
		op.Status, op.Context.Error = OpFailed, FromSpecError(u.Error)
		ev.Type, ev.Error = EvContextFailed, op.Context.Error
	}
	if err := t.put(op); err != nil {
		return err
	}
	return t.event(op, ev)
}

func (t *txn) applyWait(u *spec.OperationUpdate, op *Operation, action string) error {
	if action == ActionStart {
		if op != nil {
			return bad(msgStartExists, TypeWait)
		}
		if u.WaitOptions == nil || u.WaitOptions.WaitSeconds == nil || *u.WaitOptions.WaitSeconds < 0 {
			return bad(msgWaitOptions)
		}
		secs := *u.WaitOptions.WaitSeconds
		op = newOp(u, OpStarted)
		op.Wait = &WaitState{Seconds: secs, End: t.now.Add(time.Duration(secs) * time.Second)}
		if err := t.create(op); err != nil {
			return err
		}
		if err := Schedule(t.tx, Timer{Exec: t.ex.ID, Kind: timerWait + op.ID, At: op.Wait.End}); err != nil {
			return err
		}
		return t.event(op, Event{Type: EvWaitStarted, Duration: &secs, ScheduledEnd: op.Wait.End})
	}
	if op == nil || op.Status != OpStarted {
		return bad(msgCancelMissing, TypeWait)
	}
	op.Status, op.Ended = OpCancelled, t.now
	if err := Cancel(t.tx, t.ex.ID, timerWait+op.ID); err != nil {
		return err
	}
	if err := t.put(op); err != nil {
		return err
	}
	return t.event(op, Event{Type: EvWaitCancelled, Error: FromSpecError(u.Error)})
}

func (t *txn) applyCallback(u *spec.OperationUpdate, op *Operation, action string) error {
	if action == ActionStart {
		if op != nil {
			return bad(msgStartExists, TypeCallback)
		}
		op = newOp(u, OpStarted)
		id, err := CallbackID{Exec: t.ex.ID, Operation: op.ID}.Encode(t.ex.Key)
		if err != nil {
			return err
		}
		cb := &CallbackState{ID: id}
		if o := u.CallbackOptions; o != nil {
			if o.TimeoutSeconds != nil && *o.TimeoutSeconds > 0 {
				cb.TimeoutSeconds = *o.TimeoutSeconds
			}
			if o.HeartbeatTimeoutSeconds != nil && *o.HeartbeatTimeoutSeconds > 0 {
				cb.HeartbeatSeconds = *o.HeartbeatTimeoutSeconds
			}
		}
		op.Callback = cb
		if err := t.create(op); err != nil {
			return err
		}
		ev := Event{Type: EvCallbackStarted, CallbackID: id}
		if cb.TimeoutSeconds > 0 {
			ev.Timeout = ptr(cb.TimeoutSeconds)
			if err := Schedule(t.tx, Timer{Exec: t.ex.ID, Kind: timerCallback + op.ID, At: t.now.Add(time.Duration(cb.TimeoutSeconds) * time.Second)}); err != nil {
				return err
			}
		}
		if cb.HeartbeatSeconds > 0 {
			ev.Heartbeat = ptr(cb.HeartbeatSeconds)
			if err := Schedule(t.tx, Timer{Exec: t.ex.ID, Kind: timerHeartbeat + op.ID, At: t.now.Add(time.Duration(cb.HeartbeatSeconds) * time.Second)}); err != nil {
				return err
			}
		}
		return t.event(op, ev)
	}
	if op == nil || op.Status != OpStarted {
		return bad(msgCancelMissing, TypeCallback)
	}
	// The model has no CallbackCancelled event: a cancelled callback only
	// changes its operation.
	op.Status, op.Ended = OpCancelled, t.now
	if err := t.cancelCallbackTimers(op.ID); err != nil {
		return err
	}
	return t.put(op)
}

func (t *txn) cancelCallbackTimers(id string) error {
	if err := Cancel(t.tx, t.ex.ID, timerCallback+id); err != nil {
		return err
	}
	return Cancel(t.tx, t.ex.ID, timerHeartbeat+id)
}

func (t *txn) applyChained(u *spec.OperationUpdate, op *Operation, action string) error {
	if action == ActionStart {
		if op != nil {
			return bad(msgStartExists, TypeChainedInvoke)
		}
		o := u.ChainedInvokeOptions
		if o == nil || str(o.FunctionName) == "" {
			return bad(msgChainedOptions)
		}
		op = newOp(u, OpStarted)
		op.Chained = &ChainedState{FunctionName: *o.FunctionName, TenantID: str(o.TenantId), Input: u.Payload}
		if t.lease.time > 0 { // the node that took the checkpoint runs the target
			op.Chained.LeaseOwner, op.Chained.LeaseUntil = t.lease.node, t.now.Add(t.lease.time).UnixNano()
		}
		if err := t.create(op); err != nil {
			return err
		}
		return t.event(op, Event{Type: EvChainedInvokeStarted, FunctionName: op.Chained.FunctionName, TenantID: op.Chained.TenantID, Payload: u.Payload})
	}
	if op == nil || op.Status != OpStarted {
		return bad(msgCancelMissing, TypeChainedInvoke)
	}
	op.Status, op.Ended = OpStopped, t.now // [?] CANCEL → STOPPED
	if err := t.put(op); err != nil {
		return err
	}
	return t.event(op, Event{Type: EvChainedInvokeStopped, Error: FromSpecError(u.Error)})
}
