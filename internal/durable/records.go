package durable

import (
	"encoding/json"
	"fmt"
	"time"
)

// The records of durable executions, as lambdad stores them.
//
// These are lambdad's own types with JSON names lambdad chose, never the
// generated wire shapes of internal/spec (spec.go converts them for the API
// layer): regenerating the model must not change what is on disk
// (TestStoredRecordsGolden pins them). Every record carries the schema
// version it was written with ("v"); when a type changes, bump
// SchemaVersion, freeze the old type and convert it on read, as
// internal/functions/migrate.go does for its records.
const SchemaVersion = 1

// Buckets of the durable state (beside due.go's two).
const (
	// bExec: "<exec id>" → Execution.
	bExec = "durable-exec"
	// bOp: "<exec id>/<order, 8 digits>" → Operation, in start order.
	bOp = "durable-op"
	// bOpID: "<exec id>/<operation id>" → the order part of its bOp key.
	bOpID = "durable-op-id"
	// bEvent: "<exec id>/<event id, 10 digits>" → Event, in order.
	bEvent = "durable-event"
	// bName: "<unqualified function ARN>/<execution name>" → exec id.
	bName = "durable-name"
	// bByFn: "<unqualified function ARN>/<start nanos, 20 digits>/<exec id>"
	// → "", the executions of a function in start order.
	bByFn = "durable-by-function"
	// bClient: "<exec id>/<client token>" → the checkpoint answer given.
	bClient = "durable-client-token"
	// bExpire: "<end + retention nanos, 20 digits>/<exec id>" → "", what
	// Purge removes.
	bExpire = "durable-expire"
	// bRunning: "<exec id>" → flags, the executions not closed: what a
	// start reads, without the closed ones kept for their retention. The
	// value (runningFlags) says what a start needs of the execution, so it
	// reads no other record of those that only wait; an empty value (before
	// the flags) means "read the execution".
	bRunning = "durable-running"
)

// The bytes of a running index value: runningV then flags.
const (
	runningV       = 'r'
	runInvoke      = 1 << 0 // NeedsInvoke or an invocation started: Pending lists it
	runHadChained  = 1 << 1 // a CHAINED_INVOKE was started once: ChainedStarted reads its operations
	runningFlagLen = 2
)

// Execution statuses [M].
const (
	Running   = "RUNNING"
	Succeeded = "SUCCEEDED"
	Failed    = "FAILED"
	TimedOut  = "TIMED_OUT"
	Stopped   = "STOPPED"
)

// Operation types, actions and the statuses an operation can have [M].
const (
	TypeExecution     = "EXECUTION"
	TypeContext       = "CONTEXT"
	TypeStep          = "STEP"
	TypeWait          = "WAIT"
	TypeCallback      = "CALLBACK"
	TypeChainedInvoke = "CHAINED_INVOKE"

	ActionStart   = "START"
	ActionSucceed = "SUCCEED"
	ActionFail    = "FAIL"
	ActionRetry   = "RETRY"
	ActionCancel  = "CANCEL"

	OpStarted   = "STARTED"
	OpPending   = "PENDING"
	OpReady     = "READY"
	OpSucceeded = "SUCCEEDED"
	OpFailed    = "FAILED"
	OpCancelled = "CANCELLED"
	OpTimedOut  = "TIMED_OUT"
	OpStopped   = "STOPPED"
)

// ErrorObject is an error as the SDK reports it (the model's ErrorObject).
type ErrorObject struct {
	Type       *string  `json:"type,omitempty"`
	Message    *string  `json:"message,omitempty"`
	Data       *string  `json:"data,omitempty"`
	StackTrace []string `json:"stackTrace,omitempty"`
}

// Execution is one durable execution.
type Execution struct {
	V  int    `json:"v"`
	ID string `json:"id"`
	// ARN is the execution's ARN: FunctionARN:Version/durable-execution/Name/ID.
	ARN  string `json:"arn"`
	Name string `json:"name"`
	// FunctionARN is unqualified; Version is the version it runs, pinned.
	FunctionARN string       `json:"functionArn"`
	Version     string       `json:"version"`
	Status      string       `json:"status"`
	Input       string       `json:"input"`
	Result      *string      `json:"result,omitempty"`
	Error       *ErrorObject `json:"error,omitempty"`
	Started     time.Time    `json:"started"`
	Ended       time.Time    `json:"ended,omitzero"`
	// TimeoutSeconds and RetentionDays are the function's DurableConfig at
	// start; they stay with the execution.
	TimeoutSeconds int32  `json:"timeoutSeconds"`
	RetentionDays  int32  `json:"retentionDays"`
	KMSKeyARN      string `json:"kmsKeyArn,omitempty"`
	TraceID        string `json:"traceId,omitempty"`
	// Key seals the execution's tokens and callback ids (token.go).
	Key []byte `json:"key"`
	// Invocation and Seq are the current checkpoint token's: a token is
	// accepted only with both.
	Invocation uint32 `json:"invocation"`
	Seq        uint64 `json:"seq"`
	// InvocationStarted is when the current invocation began (zero when
	// none runs).
	InvocationStarted time.Time `json:"invocationStarted,omitzero"`
	// NeedsInvoke: something the execution waited for is ready, or an
	// invocation must be retried; the scheduler invokes it.
	NeedsInvoke bool `json:"needsInvoke,omitempty"`
	// Ops is how many operations were created (the next order number);
	// Events is the last history event id.
	Ops    int   `json:"ops"`
	Events int32 `json:"events"`
	// Dirty lists the operations changed from outside (timers, callbacks)
	// since the function last saw the state: the next checkpoint answers
	// them, the next invocation names them (UpdatedOperationIds).
	Dirty []string `json:"dirty,omitempty"`
}

// Closed says the execution has ended.
func (e *Execution) Closed() bool { return e.Status != Running }

// Operation is one operation of an execution.
type Operation struct {
	ID       string    `json:"id"`
	ParentID string    `json:"parentId,omitempty"`
	Name     string    `json:"name,omitempty"`
	Type     string    `json:"type"`
	SubType  string    `json:"subType,omitempty"`
	Status   string    `json:"status"`
	Order    int       `json:"order"`
	Started  time.Time `json:"started"`
	Ended    time.Time `json:"ended,omitzero"`
	// Details, by type; EXECUTION's input is the execution's.
	Step     *StepState     `json:"step,omitempty"`
	Wait     *WaitState     `json:"wait,omitempty"`
	Callback *CallbackState `json:"callback,omitempty"`
	Context  *ContextState  `json:"context,omitempty"`
	Chained  *ChainedState  `json:"chained,omitempty"`
}

// StepState is a STEP's details.
type StepState struct {
	Attempt     int32        `json:"attempt"`
	NextAttempt time.Time    `json:"nextAttempt,omitzero"`
	Result      *string      `json:"result,omitempty"`
	Error       *ErrorObject `json:"error,omitempty"`
}

// WaitState is a WAIT's details.
type WaitState struct {
	Seconds int32     `json:"seconds"`
	End     time.Time `json:"end"`
}

// CallbackState is a CALLBACK's details.
type CallbackState struct {
	ID string `json:"id"`
	// TimeoutSeconds and HeartbeatSeconds are 0 when not set.
	TimeoutSeconds   int32        `json:"timeoutSeconds,omitempty"`
	HeartbeatSeconds int32        `json:"heartbeatSeconds,omitempty"`
	Result           *string      `json:"result,omitempty"`
	Error            *ErrorObject `json:"error,omitempty"`
}

// ContextState is a CONTEXT's details.
type ContextState struct {
	ReplayChildren bool         `json:"replayChildren,omitempty"`
	Result         *string      `json:"result,omitempty"`
	Error          *ErrorObject `json:"error,omitempty"`
}

// ChainedState is a CHAINED_INVOKE's details.
type ChainedState struct {
	FunctionName string       `json:"functionName"`
	TenantID     string       `json:"tenantId,omitempty"`
	Input        *string      `json:"input,omitempty"`
	Result       *string      `json:"result,omitempty"`
	Error        *ErrorObject `json:"error,omitempty"`
}

// History event types [M].
const (
	EvExecutionStarted       = "ExecutionStarted"
	EvExecutionSucceeded     = "ExecutionSucceeded"
	EvExecutionFailed        = "ExecutionFailed"
	EvExecutionTimedOut      = "ExecutionTimedOut"
	EvExecutionStopped       = "ExecutionStopped"
	EvContextStarted         = "ContextStarted"
	EvContextSucceeded       = "ContextSucceeded"
	EvContextFailed          = "ContextFailed"
	EvWaitStarted            = "WaitStarted"
	EvWaitSucceeded          = "WaitSucceeded"
	EvWaitCancelled          = "WaitCancelled"
	EvStepStarted            = "StepStarted"
	EvStepSucceeded          = "StepSucceeded"
	EvStepFailed             = "StepFailed"
	EvChainedInvokeStarted   = "ChainedInvokeStarted"
	EvChainedInvokeSucceeded = "ChainedInvokeSucceeded"
	EvChainedInvokeFailed    = "ChainedInvokeFailed"
	EvChainedInvokeTimedOut  = "ChainedInvokeTimedOut"
	EvChainedInvokeStopped   = "ChainedInvokeStopped"
	EvCallbackStarted        = "CallbackStarted"
	EvCallbackSucceeded      = "CallbackSucceeded"
	EvCallbackFailed         = "CallbackFailed"
	EvCallbackTimedOut       = "CallbackTimedOut"
	EvInvocationCompleted    = "InvocationCompleted"
)

// Event is one history event. Which detail fields are set depends on Type
// (spec.go maps each to the model's <Type>Details).
type Event struct {
	ID       int32     `json:"id"`
	Type     string    `json:"type"`
	SubType  string    `json:"subType,omitempty"`
	OpID     string    `json:"opId,omitempty"`
	Name     string    `json:"name,omitempty"`
	ParentID string    `json:"parentId,omitempty"`
	At       time.Time `json:"at"`
	// Payload is the input (ExecutionStarted, ChainedInvokeStarted) or
	// the result (…Succeeded).
	Payload *string      `json:"payload,omitempty"`
	Error   *ErrorObject `json:"error,omitempty"`
	// Attempt and NextDelay are a step's RetryDetails.
	Attempt   *int32 `json:"attempt,omitempty"`
	NextDelay *int32 `json:"nextDelay,omitempty"`
	// Duration and ScheduledEnd are a wait's.
	Duration     *int32    `json:"duration,omitempty"`
	ScheduledEnd time.Time `json:"scheduledEnd,omitzero"`
	// CallbackID, Timeout and Heartbeat are a callback's.
	CallbackID string `json:"callbackId,omitempty"`
	Timeout    *int32 `json:"timeout,omitempty"`
	Heartbeat  *int32 `json:"heartbeat,omitempty"`
	// FunctionName and TenantID are a chained invoke's.
	FunctionName string `json:"functionName,omitempty"`
	TenantID     string `json:"tenantId,omitempty"`
	// ExecutionTimeout is ExecutionStarted's.
	ExecutionTimeout *int32 `json:"executionTimeout,omitempty"`
	// InvocationStart, InvocationEnd and RequestID are InvocationCompleted's.
	InvocationStart time.Time `json:"invocationStart,omitzero"`
	InvocationEnd   time.Time `json:"invocationEnd,omitzero"`
	RequestID       string    `json:"requestId,omitempty"`
}

func opKey(exec string, order int) string   { return fmt.Sprintf("%s/%08d", exec, order) }
func eventKey(exec string, id int32) string { return fmt.Sprintf("%s/%010d", exec, id) }
func nanoKey(t time.Time) string            { return fmt.Sprintf("%0*d", dueDigits, nanos(t)) }

func encode(v any) ([]byte, error) { return json.Marshal(v) }

func decodeExec(raw []byte) (*Execution, error) {
	var e Execution
	if err := json.Unmarshal(raw, &e); err != nil {
		return nil, fmt.Errorf("durable: bad execution record: %w", err)
	}
	if e.V != SchemaVersion {
		return nil, fmt.Errorf("durable: execution record of schema %d, this lambdad reads %d", e.V, SchemaVersion)
	}
	return &e, nil
}

func decodeOp(raw []byte) (*Operation, error) {
	var op Operation
	if err := json.Unmarshal(raw, &op); err != nil {
		return nil, fmt.Errorf("durable: bad operation record: %w", err)
	}
	return &op, nil
}

func decodeEvent(raw []byte) (*Event, error) {
	var ev Event
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, fmt.Errorf("durable: bad event record: %w", err)
	}
	return &ev, nil
}
