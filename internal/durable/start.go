package durable

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"time"

	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/ids"
	"github.com/lambdad/lambdad/internal/spec"
	"github.com/lambdad/lambdad/internal/store"
)

// StartInput is what Invoke knows when it starts an execution.
type StartInput struct {
	// FunctionARN is the function's unqualified ARN; Version the version
	// the execution runs (an alias already resolved), pinned for its life.
	FunctionARN string
	Version     string
	// Name is DurableExecutionName; "" has one generated.
	Name    string
	Payload string
	// ExecutionTimeout (seconds, 0 for none) and RetentionDays come from
	// the function's DurableConfig.
	ExecutionTimeout int32
	RetentionDays    int32
	KMSKeyARN        string
	TraceID          string
}

// DefaultRetentionDays is used when the function's DurableConfig has none
// (docs/durable.md 1.1, [?]).
const DefaultRetentionDays = 14

// InvocationInput is the event a durable function's handler is called with
// (docs/durable.md 1.3), in AWS's JSON shape.
type InvocationInput struct {
	DurableExecutionArn   string       `json:"DurableExecutionArn"`
	CheckpointToken       string       `json:"CheckpointToken"`
	InitialExecutionState InitialState `json:"InitialExecutionState"`
	UpdatedOperationIds   []string     `json:"UpdatedOperationIds,omitempty"`
	invocation            uint32       // the invocation it starts
}

// InitialState is the first page of the execution's operations; the SDK
// reads the rest with GetDurableExecutionState.
type InitialState struct {
	Operations []spec.Operation `json:"Operations"`
	NextMarker *string          `json:"NextMarker,omitempty"`
}

// Invocation is the invocation an InvocationInput starts (Finish takes it).
func (in *InvocationInput) Invocation() uint32 { return in.invocation }

// Started is Start's answer.
type Started struct {
	Execution *Execution
	// New is false when the name was already taken by an execution with
	// the same input: that one is answered, and nothing starts.
	New bool
	// Input is the first invocation's event (nil when not New).
	Input *InvocationInput
}

// Start starts a durable execution, or answers the execution already
// holding the name when its input is the same (DG idempotency table).
func (s *Service) Start(ctx context.Context, in StartInput) (*Started, error) {
	var out Started
	err := s.batch(ctx, func(tx store.Tx) error {
		out = Started{}
		now := s.now()
		sum := sha256.Sum256([]byte(in.Payload))
		if in.Name != "" {
			ex, err := named(tx, in.FunctionARN, in.Name)
			if err != nil {
				return err
			}
			if ex != nil {
				have := sha256.Sum256([]byte(ex.Input))
				if subtle.ConstantTimeCompare(have[:], sum[:]) != 1 {
					return fault.New(fault.AlreadyStarted, msgAlreadyStarted, in.Name)
				}
				out.Execution = ex
				return nil
			}
		}
		id := ids.UUID()
		name := in.Name
		if name == "" {
			name = id
		}
		key := make([]byte, 32)
		_, _ = rand.Read(key)
		retention := in.RetentionDays
		if retention <= 0 {
			retention = DefaultRetentionDays
		}
		ex := &Execution{
			V: SchemaVersion, ID: id, ARN: execARN(in.FunctionARN, in.Version, name, id), Name: name,
			FunctionARN: in.FunctionARN, Version: in.Version, Status: Running, Input: in.Payload,
			Started: now, TimeoutSeconds: in.ExecutionTimeout, RetentionDays: retention,
			KMSKeyARN: in.KMSKeyARN, TraceID: in.TraceID, Key: key,
		}
		t := s.newTxn(tx, ex, now)
		// The one EXECUTION operation, first in order: the SDK takes the
		// handler's event from it (1.3).
		op := &Operation{ID: id, Type: TypeExecution, Status: OpStarted}
		if err := t.create(op); err != nil {
			return err
		}
		timeout := in.ExecutionTimeout
		if err := t.event(nil, Event{Type: EvExecutionStarted, Payload: &in.Payload, ExecutionTimeout: &timeout}); err != nil {
			return err
		}
		if in.ExecutionTimeout > 0 {
			if err := Schedule(tx, Timer{Exec: id, Kind: timerTimeout, At: now.Add(time.Duration(in.ExecutionTimeout) * time.Second)}); err != nil {
				return err
			}
		}
		if in.Name != "" { // an unnamed execution's name is its id: named finds it by that
			if err := tx.Put(bName, in.FunctionARN+"/"+name, []byte(id)); err != nil {
				return err
			}
		}
		if err := tx.Put(bByFn, in.FunctionARN+"/"+nanoKey(now)+"/"+id, []byte{}); err != nil {
			return err
		}
		if err := tx.Put(bRunning, id, []byte{runningV, 0}); err != nil { // save sets the flags
			return err
		}
		input, err := t.begin()
		if err != nil {
			return err
		}
		if err := t.save(); err != nil {
			return err
		}
		out = Started{Execution: ex, New: true, Input: input}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if out.New {
		s.notify()
	}
	return &out, nil
}

// BeginInvocation starts a new invocation of a running execution (a
// replay): its token makes every earlier one stale, and its event holds the
// state from the start. The scheduler calls it for what Fire, Finish and the
// callbacks say needs an invocation, and at restart for what Pending lists.
func (s *Service) BeginInvocation(ctx context.Context, arn string) (*InvocationInput, error) {
	var in *InvocationInput
	paused := false
	err := s.batch(ctx, func(tx store.Tx) error {
		in, paused = nil, false
		ex, err := loadARN(tx, arn)
		if err != nil {
			return err
		}
		if ex.Closed() {
			return fault.Conflictf(resource, msgAlreadyClosed, arn)
		}
		t := s.newTxn(tx, ex, s.now())
		if ex.leasedElsewhere(s.cfg.NodeID, t.now) {
			return fault.Conflictf(resource, msgLeased, arn, ex.LeaseOwner)
		}
		if ex.Paused != nil {
			// No replay while paused: the one asked for (or the dead one
			// a restart found) is owed, and Resume starts it.
			paused = true
			ex.NeedsInvoke, ex.Owed, ex.InvocationStarted = true, true, time.Time{}
			if err := t.settlePause(); err != nil {
				return err
			}
			return t.save()
		}
		if in, err = t.begin(); err != nil {
			return err
		}
		return t.save()
	})
	if err == nil && paused {
		return nil, fault.Conflictf(resource, msgPauseTwice, arn, Paused)
	}
	return in, err
}

// maxInitialBytes bounds the operations put in an invocation's event: the
// event must stay under the 6 MB invocation payload; the SDK pages the rest.
const maxInitialBytes = 5 << 20

// begin moves the execution to a new invocation and builds its event.
func (t *txn) begin() (*InvocationInput, error) {
	ex := t.ex
	ex.Invocation++
	ex.Seq = 0
	ex.InvocationStarted = t.now
	ex.NeedsInvoke, ex.Owed = false, false
	t.take()
	updated := ex.Dirty
	ex.Dirty = nil
	tok, err := Token{Exec: ex.ID, Invocation: ex.Invocation, Seq: ex.Seq}.Encode(ex.Key)
	if err != nil {
		return nil, err
	}
	ops, next, err := statePage(t.tx, ex, "", MaxPageSize, maxInitialBytes)
	if err != nil {
		return nil, err
	}
	// The page read the store; operations this transaction wrote (Start's
	// EXECUTION operation) are already there, as writes are visible in it.
	return &InvocationInput{
		DurableExecutionArn: ex.ARN, CheckpointToken: tok,
		InitialExecutionState: InitialState{Operations: SpecOperations(ex, ops), NextMarker: next},
		UpdatedOperationIds:   updated, invocation: ex.Invocation,
	}, nil
}

// named finds fn's execution named name: by the name index, or, as an
// execution started without a name is named by its id and not indexed, by
// id. Nil when there is none.
func named(tx store.Tx, fn, name string) (*Execution, error) {
	if id := tx.Get(bName, fn+"/"+name); id != nil {
		return loadExec(tx, string(id))
	}
	ex, err := loadExec(tx, name)
	if err != nil || ex == nil || ex.FunctionARN != fn || ex.Name != ex.ID {
		return nil, err
	}
	return ex, nil
}

// MarshalInput is the event's JSON.
func (in *InvocationInput) MarshalInput() ([]byte, error) { return json.Marshal(in) }

// Timer kinds (due.go): the execution's timeout, and per operation.
const (
	timerTimeout   = "timeout"
	timerWait      = "wait/"
	timerRetry     = "retry/"
	timerCallback  = "callback/"
	timerHeartbeat = "heartbeat/"
)
