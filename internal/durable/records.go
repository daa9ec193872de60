package durable

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
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
	ID string `json:"i,omitempty"`
	// ARN is the execution's ARN: FunctionARN:Version/durable-execution/Name/ID.
	ARN  string `json:"-"`
	Name string `json:"n,omitempty"`
	// FunctionARN is unqualified; Version is the version it runs, pinned.
	FunctionARN string       `json:"f"`
	Version     string       `json:"ver"`
	Status      string       `json:"s"`
	Input       string       `json:"in"`
	Result      *string      `json:"r,omitempty"`
	Error       *ErrorObject `json:"e,omitempty"`
	Started     time.Time    `json:"t0"`
	Ended       time.Time    `json:"t1,omitzero"`
	// TimeoutSeconds and RetentionDays are the function's DurableConfig at
	// start; they stay with the execution.
	TimeoutSeconds int32  `json:"to,omitempty"`
	RetentionDays  int32  `json:"rd,omitempty"`
	KMSKeyARN      string `json:"kms,omitempty"`
	TraceID        string `json:"tr,omitempty"`
	// Key seals the execution's tokens and callback ids (token.go).
	Key []byte `json:"k"`
	// Invocation and Seq are the current checkpoint token's: a token is
	// accepted only with both.
	Invocation uint32 `json:"inv,omitempty"`
	Seq        uint64 `json:"q,omitempty"`
	// InvocationStarted is when the current invocation began (zero when
	// none runs).
	InvocationStarted time.Time `json:"it,omitzero"`
	// NeedsInvoke: something the execution waited for is ready, or an
	// invocation must be retried; the scheduler invokes it.
	NeedsInvoke bool `json:"ni,omitempty"`
	// Ops is how many operations were created (the next order number);
	// Events is the last history event id.
	Ops    int   `json:"ops,omitempty"`
	Events int32 `json:"evs,omitempty"`
	// Dirty lists the operations changed from outside (timers, callbacks)
	// since the function last saw the state: the next checkpoint answers
	// them, the next invocation names them (UpdatedOperationIds).
	Dirty []string `json:"d,omitempty"`
	// Paused is the pause asked of a running execution (pause.go), nil
	// when none; Extended is the time it spent paused with its timeout
	// paused, added to its deadline; ResumeToken is the last resume's
	// client token.
	Paused      *PauseState   `json:"pz,omitempty"`
	Extended    time.Duration `json:"tx,omitempty"`
	ResumeToken string        `json:"rtk,omitempty"`
	// Owed: NeedsInvoke was set while paused and nobody was woken for it,
	// so Resume wakes the execution (and only then: a wake handed out
	// before the pause is not handed twice).
	Owed bool `json:"ow,omitempty"`
	// LeaseOwner is the node that runs (or is about to run) the
	// execution's invocation, until LeaseUntil (Unix nanoseconds) unless it
	// renews it; empty without leases (lease.go).
	LeaseOwner string `json:"lo,omitempty"`
	LeaseUntil int64  `json:"lu,omitempty"`
}

// execRecord is Execution as stored: its ARN is derived from the other
// fields and its name, when it is the id (no name given at start), is left
// out, so 10,000 waiting executions store less.
type execRecord Execution

// execJSON stores the times as stamps: its fields hide execRecord's of
// the same JSON name (encoding/json takes the shallower).
type execJSON struct {
	execRecord
	Started           stamp `json:"t0,omitzero"`
	Ended             stamp `json:"t1,omitzero"`
	InvocationStarted stamp `json:"it,omitzero"`
}

// MarshalJSON stores e without what decodeExec derives: its id (the
// record's key), a name that is the id, and its ARN.
func (e Execution) MarshalJSON() ([]byte, error) {
	r := execJSON{execRecord: execRecord(e), Started: stamp(e.Started), Ended: stamp(e.Ended), InvocationStarted: stamp(e.InvocationStarted)}
	if r.Name == r.ID {
		r.Name = ""
	}
	r.ID = "" // the key
	return json.Marshal(r)
}

// UnmarshalJSON reads a stored execution; decodeExec completes it.
func (e *Execution) UnmarshalJSON(raw []byte) error {
	var r execJSON
	if err := json.Unmarshal(raw, &r); err != nil {
		return err
	}
	*e = Execution(r.execRecord)
	e.Started, e.Ended, e.InvocationStarted = time.Time(r.Started), time.Time(r.Ended), time.Time(r.InvocationStarted)
	return nil
}

// Closed says the execution has ended.
func (e *Execution) Closed() bool { return e.Status != Running }

// Operation is one operation of an execution.
type Operation struct {
	ID       string    `json:"i"`
	ParentID string    `json:"p,omitempty"`
	Name     string    `json:"n,omitempty"`
	Type     string    `json:"t"`
	SubType  string    `json:"st,omitempty"`
	Status   string    `json:"s"`
	Order    int       `json:"o,omitempty"`
	Started  time.Time `json:"t0"`
	Ended    time.Time `json:"t1,omitzero"`
	// Details, by type; EXECUTION's input is the execution's.
	Step     *StepState     `json:"sp,omitempty"`
	Wait     *WaitState     `json:"w,omitempty"`
	Callback *CallbackState `json:"cb,omitempty"`
	Context  *ContextState  `json:"cx,omitempty"`
	Chained  *ChainedState  `json:"ch,omitempty"`
}

// StepState is a STEP's details.
type StepState struct {
	Attempt     int32        `json:"a,omitempty"`
	NextAttempt time.Time    `json:"na,omitzero"`
	Result      *string      `json:"r,omitempty"`
	Error       *ErrorObject `json:"e,omitempty"`
}

// WaitState is a WAIT's details.
type WaitState struct {
	Seconds int32     `json:"s,omitempty"`
	End     time.Time `json:"end"`
}

// CallbackState is a CALLBACK's details.
type CallbackState struct {
	ID string `json:"i"`
	// TimeoutSeconds and HeartbeatSeconds are 0 when not set.
	TimeoutSeconds   int32        `json:"to,omitempty"`
	HeartbeatSeconds int32        `json:"hb,omitempty"`
	Result           *string      `json:"r,omitempty"`
	Error            *ErrorObject `json:"e,omitempty"`
}

// ContextState is a CONTEXT's details.
type ContextState struct {
	ReplayChildren bool         `json:"rc,omitempty"`
	Result         *string      `json:"r,omitempty"`
	Error          *ErrorObject `json:"e,omitempty"`
}

// ChainedState is a CHAINED_INVOKE's details.
type ChainedState struct {
	FunctionName string       `json:"f"`
	TenantID     string       `json:"tn,omitempty"`
	Input        *string      `json:"in,omitempty"`
	Result       *string      `json:"r,omitempty"`
	Error        *ErrorObject `json:"e,omitempty"`
	// LeaseOwner is the node running the target, until LeaseUntil (Unix
	// nanoseconds) unless it renews it; empty without leases (lease.go).
	LeaseOwner string `json:"lo,omitempty"`
	LeaseUntil int64  `json:"lu,omitempty"`
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
	ID       int32     `json:"i"`
	Type     string    `json:"t"`
	SubType  string    `json:"st,omitempty"`
	OpID     string    `json:"op,omitempty"`
	Name     string    `json:"n,omitempty"`
	ParentID string    `json:"p,omitempty"`
	At       time.Time `json:"at"`
	// Payload is the input (ExecutionStarted, ChainedInvokeStarted) or
	// the result (…Succeeded).
	Payload *string      `json:"pl,omitempty"`
	Error   *ErrorObject `json:"e,omitempty"`
	// Attempt and NextDelay are a step's RetryDetails.
	Attempt   *int32 `json:"a,omitempty"`
	NextDelay *int32 `json:"nd,omitempty"`
	// Duration and ScheduledEnd are a wait's.
	Duration     *int32    `json:"d,omitempty"`
	ScheduledEnd time.Time `json:"se,omitzero"`
	// CallbackID, Timeout and Heartbeat are a callback's.
	CallbackID string `json:"cb,omitempty"`
	Timeout    *int32 `json:"to,omitempty"`
	Heartbeat  *int32 `json:"hb,omitempty"`
	// FunctionName and TenantID are a chained invoke's.
	FunctionName string `json:"f,omitempty"`
	TenantID     string `json:"tn,omitempty"`
	// ExecutionTimeout is ExecutionStarted's.
	ExecutionTimeout *int32 `json:"xt,omitempty"`
	// InvocationStart, InvocationEnd and RequestID are InvocationCompleted's.
	InvocationStart time.Time `json:"is,omitzero"`
	InvocationEnd   time.Time `json:"ie,omitzero"`
	RequestID       string    `json:"rq,omitempty"`
	// PauseRequested and TimeoutPaused are ExecutionPaused's (its reason
	// in Payload), ResumeRequested ExecutionResumed's.
	PauseRequested  time.Time `json:"pr,omitzero"`
	TimeoutPaused   *bool     `json:"tp,omitempty"`
	ResumeRequested time.Time `json:"rr,omitzero"`
}

// stamp is a stored time: Unix nanoseconds, 19 digits where RFC 3339 takes
// 30 characters and its quotes. Only non-zero times are stored (omitzero);
// the range, years 1678 to 2262, holds every time lambdad records.
type stamp time.Time

func (s stamp) IsZero() bool { return time.Time(s).IsZero() }

func (s stamp) MarshalJSON() ([]byte, error) {
	return strconv.AppendInt(nil, time.Time(s).UnixNano(), 10), nil
}

func (s *stamp) UnmarshalJSON(raw []byte) error {
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return fmt.Errorf("durable: bad stored time %q", raw)
	}
	*s = stamp(time.Unix(0, n).UTC())
	return nil
}

// code stores one of a fixed list of names (an operation's type and
// status, an event's type) as its index: "t":12 instead of
// "t":"InvocationCompleted". The lists below only ever grow at their end.
type code int

func (c code) MarshalJSON() ([]byte, error) {
	if c < 0 {
		return nil, fmt.Errorf("durable: a name not in the stored lists")
	}
	return strconv.AppendInt(nil, int64(c), 10), nil
}

func (c code) of(names []string) (string, error) {
	if c < 0 || int(c) >= len(names) {
		return "", fmt.Errorf("durable: bad stored code %d", c)
	}
	return names[c], nil
}

// The stored codes' names, by code: append only.
var (
	opTypes    = []string{TypeExecution, TypeContext, TypeStep, TypeWait, TypeCallback, TypeChainedInvoke}
	opStatuses = []string{OpStarted, OpPending, OpReady, OpSucceeded, OpFailed, OpCancelled, OpTimedOut, OpStopped}
	evTypes    = []string{EvExecutionStarted, EvExecutionSucceeded, EvExecutionFailed, EvExecutionTimedOut, EvExecutionStopped,
		EvContextStarted, EvContextSucceeded, EvContextFailed, EvWaitStarted, EvWaitSucceeded, EvWaitCancelled,
		EvStepStarted, EvStepSucceeded, EvStepFailed, EvChainedInvokeStarted, EvChainedInvokeSucceeded, EvChainedInvokeFailed,
		EvChainedInvokeTimedOut, EvChainedInvokeStopped, EvCallbackStarted, EvCallbackSucceeded, EvCallbackFailed,
		EvCallbackTimedOut, EvInvocationCompleted, EvExecutionPaused, EvExecutionResumed}
)

// The stored forms of Operation, its details with times, and Event: each
// hides the time fields of its plain copy with stamps of the same JSON
// name.
type (
	opPlain   Operation
	stepPlain StepState
	waitPlain WaitState
	evPlain   Event
	opJSON    struct {
		opPlain
		Type    code  `json:"t"`
		Status  code  `json:"s"`
		Started stamp `json:"t0,omitzero"`
		Ended   stamp `json:"t1,omitzero"`
	}
	stepJSON struct {
		stepPlain
		NextAttempt stamp `json:"na,omitzero"`
	}
	waitJSON struct {
		waitPlain
		End stamp `json:"end,omitzero"`
	}
	evJSON struct {
		evPlain
		Type            code  `json:"t"`
		At              stamp `json:"at,omitzero"`
		ScheduledEnd    stamp `json:"se,omitzero"`
		InvocationStart stamp `json:"is,omitzero"`
		InvocationEnd   stamp `json:"ie,omitzero"`
		PauseRequested  stamp `json:"pr,omitzero"`
		ResumeRequested stamp `json:"rr,omitzero"`
	}
)

func (o Operation) MarshalJSON() ([]byte, error) {
	return json.Marshal(opJSON{opPlain(o), code(slices.Index(opTypes, o.Type)), code(slices.Index(opStatuses, o.Status)), stamp(o.Started), stamp(o.Ended)})
}

func (o *Operation) UnmarshalJSON(raw []byte) error {
	var r opJSON
	if err := json.Unmarshal(raw, &r); err != nil {
		return err
	}
	*o = Operation(r.opPlain)
	var err error
	if o.Type, err = r.Type.of(opTypes); err != nil {
		return err
	}
	if o.Status, err = r.Status.of(opStatuses); err != nil {
		return err
	}
	o.Started, o.Ended = time.Time(r.Started), time.Time(r.Ended)
	return nil
}

func (st StepState) MarshalJSON() ([]byte, error) {
	return json.Marshal(stepJSON{stepPlain(st), stamp(st.NextAttempt)})
}

func (st *StepState) UnmarshalJSON(raw []byte) error {
	var r stepJSON
	if err := json.Unmarshal(raw, &r); err != nil {
		return err
	}
	*st = StepState(r.stepPlain)
	st.NextAttempt = time.Time(r.NextAttempt)
	return nil
}

func (w WaitState) MarshalJSON() ([]byte, error) {
	return json.Marshal(waitJSON{waitPlain(w), stamp(w.End)})
}

func (w *WaitState) UnmarshalJSON(raw []byte) error {
	var r waitJSON
	if err := json.Unmarshal(raw, &r); err != nil {
		return err
	}
	*w = WaitState(r.waitPlain)
	w.End = time.Time(r.End)
	return nil
}

func (ev Event) MarshalJSON() ([]byte, error) {
	return json.Marshal(evJSON{evPlain(ev), code(slices.Index(evTypes, ev.Type)), stamp(ev.At), stamp(ev.ScheduledEnd), stamp(ev.InvocationStart), stamp(ev.InvocationEnd),
		stamp(ev.PauseRequested), stamp(ev.ResumeRequested)})
}

func (ev *Event) UnmarshalJSON(raw []byte) error {
	var r evJSON
	if err := json.Unmarshal(raw, &r); err != nil {
		return err
	}
	*ev = Event(r.evPlain)
	var err error
	if ev.Type, err = r.Type.of(evTypes); err != nil {
		return err
	}
	ev.At, ev.ScheduledEnd, ev.InvocationStart, ev.InvocationEnd = time.Time(r.At), time.Time(r.ScheduledEnd), time.Time(r.InvocationStart), time.Time(r.InvocationEnd)
	ev.PauseRequested, ev.ResumeRequested = time.Time(r.PauseRequested), time.Time(r.ResumeRequested)
	return nil
}

func opKey(exec string, order int) string   { return fmt.Sprintf("%s/%08d", exec, order) }
func eventKey(exec string, id int32) string { return fmt.Sprintf("%s/%010d", exec, id) }
func nanoKey(t time.Time) string            { return fmt.Sprintf("%0*d", dueDigits, nanos(t)) }

func encode(v any) ([]byte, error) { return json.Marshal(v) }

// decodeExec reads the execution stored under id.
func decodeExec(id string, raw []byte) (*Execution, error) {
	var e Execution
	if err := json.Unmarshal(raw, &e); err != nil {
		return nil, fmt.Errorf("durable: bad execution record: %w", err)
	}
	if e.V != SchemaVersion {
		return nil, fmt.Errorf("durable: execution record of schema %d, this lambdad reads %d", e.V, SchemaVersion)
	}
	e.ID = id
	if e.Name == "" {
		e.Name = id
	}
	e.ARN = execARN(e.FunctionARN, e.Version, e.Name, e.ID)
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
