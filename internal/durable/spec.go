package durable

import (
	"time"

	"github.com/lambdad/lambdad/internal/spec"
)

// Conversion of the stored records to the model's shapes, for the API layer
// to answer with (and for the invocation event). Nothing here is stored.

func ptr[T any](v T) *T { return &v }

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func ts(t time.Time) *spec.Timestamp {
	if t.IsZero() {
		return nil
	}
	return &spec.Timestamp{Time: t}
}

// SpecError is e in the model's shape.
func SpecError(e *ErrorObject) *spec.ErrorObject {
	if e == nil {
		return nil
	}
	return &spec.ErrorObject{ErrorType: e.Type, ErrorMessage: e.Message, ErrorData: e.Data, StackTrace: e.StackTrace}
}

// FromSpecError is the model's error in lambdad's.
func FromSpecError(e *spec.ErrorObject) *ErrorObject {
	if e == nil {
		return nil
	}
	return &ErrorObject{Type: e.ErrorType, Message: e.ErrorMessage, Data: e.ErrorData, StackTrace: e.StackTrace}
}

// SpecOperations converts ex's operations.
func SpecOperations(ex *Execution, ops []Operation) []spec.Operation {
	out := make([]spec.Operation, len(ops))
	for i := range ops {
		out[i] = SpecOperation(ex, &ops[i])
	}
	return out
}

// SpecOperation is op as the model's Operation.
func SpecOperation(ex *Execution, op *Operation) spec.Operation {
	o := spec.Operation{
		Id: ptr(op.ID), ParentId: strPtr(op.ParentID), Name: strPtr(op.Name), Type: ptr(op.Type),
		SubType: strPtr(op.SubType), Status: ptr(op.Status), StartTimestamp: ts(op.Started), EndTimestamp: ts(op.Ended),
	}
	switch op.Type {
	case TypeExecution:
		o.ExecutionDetails = &spec.ExecutionDetails{InputPayload: ptr(ex.Input)}
	case TypeStep:
		if s := op.Step; s != nil {
			o.StepDetails = &spec.StepDetails{Attempt: ptr(s.Attempt), NextAttemptTimestamp: ts(s.NextAttempt), Result: s.Result, Error: SpecError(s.Error)}
		}
	case TypeWait:
		if w := op.Wait; w != nil {
			o.WaitDetails = &spec.WaitDetails{ScheduledEndTimestamp: ts(w.End)}
		}
	case TypeCallback:
		if c := op.Callback; c != nil {
			o.CallbackDetails = &spec.CallbackDetails{CallbackId: ptr(c.ID), Result: c.Result, Error: SpecError(c.Error)}
		}
	case TypeContext:
		if c := op.Context; c != nil {
			o.ContextDetails = &spec.ContextDetails{Result: c.Result, Error: SpecError(c.Error)}
			if c.ReplayChildren {
				o.ContextDetails.ReplayChildren = ptr(true)
			}
		}
	case TypeChainedInvoke:
		if c := op.Chained; c != nil {
			o.ChainedInvokeDetails = &spec.ChainedInvokeDetails{Result: c.Result, Error: SpecError(c.Error)}
		}
	}
	return o
}

// SpecExecution is GetDurableExecution's answer; includeData false leaves
// input, result and error out.
func SpecExecution(ex *Execution, includeData bool) spec.GetDurableExecutionResponse {
	r := spec.GetDurableExecutionResponse{
		DurableExecutionArn: ptr(ex.ARN), DurableExecutionName: ptr(ex.Name),
		FunctionArn: ptr(ex.FunctionARN + ":" + ex.Version), Status: ptr(ex.Shown()),
		StartTimestamp: ts(ex.Started), EndTimestamp: ts(ex.Ended), Version: ptr(ex.Version),
		ExecutionDataIncluded: ptr(includeData),
		DurableConfig: &spec.DurableConfig{ExecutionTimeout: ptr(ex.TimeoutSeconds), RetentionPeriodInDays: ptr(ex.RetentionDays),
			KMSKeyArn: strPtr(ex.KMSKeyARN)},
	}
	if ex.TimeoutSeconds == 0 {
		r.DurableConfig.ExecutionTimeout = nil
	}
	if ex.TraceID != "" {
		r.TraceHeader = &spec.TraceHeader{XAmznTraceId: ptr(ex.TraceID)}
	}
	if !ex.Closed() {
		r.ExpectedExecutionTimeoutTimestamp = ts(ex.expectedTimeout())
	}
	if p := ex.Paused; p != nil && !ex.Closed() {
		r.PauseDetails = &spec.PauseDetails{ExecutionTimeoutPaused: ptr(p.TimeoutPaused), PauseRequestTimestamp: ts(p.Requested)}
		if includeData {
			r.PauseDetails.Reason = p.Reason
		}
	}
	if includeData {
		r.InputPayload = ptr(ex.Input)
		if ex.Status == Succeeded {
			r.Result = ex.Result
		}
		r.Error = SpecError(ex.Error)
	}
	return r
}

// SpecListItem is ex in ListDurableExecutionsByFunction's answer.
func SpecListItem(ex *Execution) spec.Execution {
	return spec.Execution{
		DurableExecutionArn: ptr(ex.ARN), DurableExecutionName: ptr(ex.Name),
		FunctionArn: ptr(ex.FunctionARN + ":" + ex.Version), Status: ptr(ex.Shown()),
		StartTimestamp: ts(ex.Started), EndTimestamp: ts(ex.Ended), KMSKeyArn: strPtr(ex.KMSKeyARN),
	}
}

func evResult(p *string) *spec.EventResult {
	if p == nil {
		return &spec.EventResult{}
	}
	return &spec.EventResult{Payload: p, Truncated: ptr(false)}
}

func evError(e *ErrorObject) *spec.EventError {
	if e == nil {
		return &spec.EventError{}
	}
	return &spec.EventError{Payload: SpecError(e), Truncated: ptr(false)}
}

func evInput(p *string) *spec.EventInput {
	if p == nil {
		return &spec.EventInput{}
	}
	return &spec.EventInput{Payload: p, Truncated: ptr(false)}
}

func retry(ev *Event) *spec.RetryDetails {
	if ev.Attempt == nil && ev.NextDelay == nil {
		return nil
	}
	return &spec.RetryDetails{CurrentAttempt: ev.Attempt, NextAttemptDelaySeconds: ev.NextDelay}
}

// SpecEvent is ev as the model's Event, with the details of its type.
func SpecEvent(ev *Event) spec.Event {
	e := spec.Event{
		EventType: ptr(ev.Type), SubType: strPtr(ev.SubType), EventId: ptr(ev.ID), Id: strPtr(ev.OpID),
		Name: strPtr(ev.Name), EventTimestamp: ts(ev.At), ParentId: strPtr(ev.ParentID),
	}
	switch ev.Type {
	case EvExecutionStarted:
		e.ExecutionStartedDetails = &spec.ExecutionStartedDetails{Input: evInput(ev.Payload), ExecutionTimeout: ev.ExecutionTimeout}
	case EvExecutionSucceeded:
		e.ExecutionSucceededDetails = &spec.ExecutionSucceededDetails{Result: evResult(ev.Payload)}
	case EvExecutionFailed:
		e.ExecutionFailedDetails = &spec.ExecutionFailedDetails{Error: evError(ev.Error)}
	case EvExecutionTimedOut:
		// Without an error, as AWS records a timeout (lifecycle.go fire);
		// the model makes it optional, unlike the failed and stopped details.
		e.ExecutionTimedOutDetails = &spec.ExecutionTimedOutDetails{}
		if ev.Error != nil {
			e.ExecutionTimedOutDetails.Error = evError(ev.Error)
		}
	case EvExecutionStopped:
		e.ExecutionStoppedDetails = &spec.ExecutionStoppedDetails{Error: evError(ev.Error)}
	case EvContextStarted:
		e.ContextStartedDetails = &spec.ContextStartedDetails{}
	case EvContextSucceeded:
		e.ContextSucceededDetails = &spec.ContextSucceededDetails{Result: evResult(ev.Payload)}
	case EvContextFailed:
		e.ContextFailedDetails = &spec.ContextFailedDetails{Error: evError(ev.Error)}
	case EvWaitStarted:
		e.WaitStartedDetails = &spec.WaitStartedDetails{Duration: ev.Duration, ScheduledEndTimestamp: ts(ev.ScheduledEnd)}
	case EvWaitSucceeded:
		e.WaitSucceededDetails = &spec.WaitSucceededDetails{Duration: ev.Duration}
	case EvWaitCancelled:
		e.WaitCancelledDetails = &spec.WaitCancelledDetails{Error: evError(ev.Error)}
	case EvStepStarted:
		e.StepStartedDetails = &spec.StepStartedDetails{}
	case EvStepSucceeded:
		e.StepSucceededDetails = &spec.StepSucceededDetails{Result: evResult(ev.Payload), RetryDetails: retry(ev)}
	case EvStepFailed:
		e.StepFailedDetails = &spec.StepFailedDetails{Error: evError(ev.Error), RetryDetails: retry(ev)}
	case EvChainedInvokeStarted:
		e.ChainedInvokeStartedDetails = &spec.ChainedInvokeStartedDetails{FunctionName: ptr(ev.FunctionName),
			TenantId: strPtr(ev.TenantID), Input: evInput(ev.Payload)}
	case EvChainedInvokeSucceeded:
		e.ChainedInvokeSucceededDetails = &spec.ChainedInvokeSucceededDetails{Result: evResult(ev.Payload)}
	case EvChainedInvokeFailed:
		e.ChainedInvokeFailedDetails = &spec.ChainedInvokeFailedDetails{Error: evError(ev.Error)}
	case EvChainedInvokeTimedOut:
		e.ChainedInvokeTimedOutDetails = &spec.ChainedInvokeTimedOutDetails{Error: evError(ev.Error)}
	case EvChainedInvokeStopped:
		e.ChainedInvokeStoppedDetails = &spec.ChainedInvokeStoppedDetails{Error: evError(ev.Error)}
	case EvCallbackStarted:
		e.CallbackStartedDetails = &spec.CallbackStartedDetails{CallbackId: ptr(ev.CallbackID), Timeout: ev.Timeout, HeartbeatTimeout: ev.Heartbeat}
	case EvCallbackSucceeded:
		e.CallbackSucceededDetails = &spec.CallbackSucceededDetails{Result: evResult(ev.Payload)}
	case EvCallbackFailed:
		e.CallbackFailedDetails = &spec.CallbackFailedDetails{Error: evError(ev.Error)}
	case EvCallbackTimedOut:
		e.CallbackTimedOutDetails = &spec.CallbackTimedOutDetails{Error: evError(ev.Error)}
	case EvExecutionPaused:
		e.ExecutionPausedDetails = &spec.ExecutionPausedDetails{ExecutionTimeoutPaused: ev.TimeoutPaused, PauseRequestTimestamp: ts(ev.PauseRequested)}
		if ev.Payload != nil {
			e.ExecutionPausedDetails.Reason = &spec.EventPauseReason{Payload: ev.Payload, Truncated: ptr(false)}
		}
	case EvExecutionResumed:
		e.ExecutionResumedDetails = &spec.ExecutionResumedDetails{ResumeRequestTimestamp: ts(ev.ResumeRequested)}
		if ev.Payload != nil {
			e.ExecutionResumedDetails.Reason = &spec.EventResumeReason{Payload: ev.Payload, Truncated: ptr(false)}
		}
	case EvInvocationCompleted:
		d := &spec.InvocationCompletedDetails{StartTimestamp: ts(ev.InvocationStart), EndTimestamp: ts(ev.InvocationEnd), RequestId: ptr(ev.RequestID)}
		if ev.Error != nil {
			d.Error = evError(ev.Error)
		}
		e.InvocationCompletedDetails = d
	}
	return e
}
