package durable

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/store"
)

// Config is what the service needs.
type Config struct {
	Store store.Store
	// Now is the clock (time.Now when nil); tests move it.
	Now    func() time.Time
	Logger *slog.Logger
	// NodeID and LeaseTime lease invocations to this node when nodes share
	// the store (lease.go); LeaseTime 0 (a store of the node's own) takes
	// no leases.
	NodeID    string
	LeaseTime time.Duration
}

// Service keeps durable executions: their records, operations, history,
// tokens and timers, each change in one store transaction. It knows nothing
// of HTTP or of how a function is invoked: its callers (the API layer, the
// invoker, the scheduler) learn from its answers which executions need an
// invocation.
type Service struct {
	cfg Config
	// poke wakes Run when a change may have set an earlier timer.
	poke chan struct{}
}

// New makes a service over cfg.Store.
func New(cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Store = keyed(cfg.Store)
	return &Service{cfg: cfg, poke: make(chan struct{}, 1)}
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// batch runs fn in a write transaction committed with concurrent ones when
// the store groups commits (store.Batcher); fn may then run more than once.
func (s *Service) batch(ctx context.Context, fn func(store.Tx) error) error {
	if b, ok := s.cfg.Store.(store.Batcher); ok {
		return b.Batch(ctx, fn)
	}
	return s.cfg.Store.Update(ctx, fn)
}

// The resource name durable not-found faults carry.
const resource = "DurableExecution"

// Messages. Those marked [?] are lambdad's words where no recorded AWS answer
// was found (docs/durable.md "Left open"); the others are AWS's, or the SDKs'
// and AWS's emulators' (docs/durable.md 1.4, 1.5).
const (
	// AWS's own words: its maintainers quote the service's constant
	// (aws-durable-execution-sdk-python#721) and fixed the Python, Java, Rust
	// and JS SDKs to match them after JS 2.4.0, which matches the prefix
	// "Invalid Checkpoint Token" and so fails the execution on a stale token,
	// on AWS and here alike (docs/durable.md 1.4).
	msgInvalidToken = "Invalid checkpoint token"
	// [?]
	msgExecNotFound = "Durable execution not found: %s"
	// [?]
	msgAlreadyStarted = "Durable execution with name %s already exists with a different input."
	// [?]
	msgAlreadyClosed = "Durable execution %s has already ended."
	// The documented meaning of CallbackTimeoutException [M].
	msgCallbackClosed = "The callback ID token has either expired or the callback associated with the token has already been closed."
	// [?]
	msgCallbackNotFound = "Callback not found."
	// [?]
	msgCallbackInvalid = "Invalid callback id."
	// [EMU]
	msgPendingNothing = "Cannot return PENDING status with no pending operations."
)

func notFound(arn string) error { return fault.NotFoundf(resource, msgExecNotFound, arn) }

func invalidToken() error { return fault.InvalidParameterf(msgInvalidToken) }

// execARN is AWS's form [M]: <function ARN>:<version>/durable-execution/<name>/<id>.
func execARN(fnARN, version, name, id string) string {
	return fnARN + ":" + version + "/durable-execution/" + name + "/" + id
}

// parseARN reads the execution id from an execution ARN.
func parseARN(arn string) (id string, ok bool) {
	_, rest, ok := strings.Cut(arn, "/durable-execution/")
	if !ok {
		return "", false
	}
	name, id, ok := strings.Cut(rest, "/")
	if !ok || name == "" || id == "" || strings.Contains(id, "/") {
		return "", false
	}
	return id, true
}

// loadExec reads execution id, nil when there is none.
func loadExec(tx store.Tx, id string) (*Execution, error) {
	raw := tx.Get(bExec, id)
	if raw == nil {
		return nil, nil
	}
	return decodeExec(id, raw)
}

// loadARN reads the execution arn names, or answers that it does not exist.
func loadARN(tx store.Tx, arn string) (*Execution, error) {
	id, ok := parseARN(arn)
	if !ok {
		return nil, notFound(arn)
	}
	ex, err := loadExec(tx, id)
	if err == nil && (ex == nil || ex.ARN != arn) {
		err = notFound(arn)
	}
	return ex, err
}

// txn is one change of one execution: its record, the operations read or
// written, and the events added, all saved by the transaction it runs in.
type txn struct {
	tx  store.Tx
	ex  *Execution
	now time.Time
	ops map[string]*Operation
	// touched lists operations written, in first-write order.
	touched []string
	// chained: a CHAINED_INVOKE started in this transaction.
	chained bool
	// lease is the node's, for the invocations this change begins or wakes.
	lease lease
}

func newTxn(tx store.Tx, ex *Execution, now time.Time) *txn {
	return &txn{tx: tx, ex: ex, now: now, ops: map[string]*Operation{}}
}

// op reads operation id, nil when the execution has none.
func (t *txn) op(id string) (*Operation, error) {
	if op, ok := t.ops[id]; ok {
		return op, nil
	}
	order := t.tx.Get(bOpID, t.ex.ID+"/"+id)
	if id == t.ex.ID {
		order = []byte(fmt.Sprintf("%08d", 0)) // the EXECUTION operation, first and not indexed
	}
	if order == nil {
		return nil, nil
	}
	raw := t.tx.Get(bOp, t.ex.ID+"/"+string(order))
	if raw == nil {
		return nil, fmt.Errorf("durable: operation %s of %s indexed but missing", id, t.ex.ID)
	}
	op, err := decodeOp(raw)
	if err == nil {
		t.ops[id] = op
	}
	return op, err
}

// create adds a new operation, started now.
func (t *txn) create(op *Operation) error {
	op.Order = t.ex.Ops
	op.Started = t.now
	t.ex.Ops++
	if op.Order == 0 && op.ID == t.ex.ID {
		return t.put(op) // the EXECUTION operation: op finds it without the index
	}
	if err := t.tx.Put(bOpID, t.ex.ID+"/"+op.ID, []byte(fmt.Sprintf("%08d", op.Order))); err != nil {
		return err
	}
	return t.put(op)
}

// put saves op and notes it as changed.
func (t *txn) put(op *Operation) error {
	raw, err := encode(op)
	if err != nil {
		return err
	}
	t.ops[op.ID] = op
	if !slices.Contains(t.touched, op.ID) {
		t.touched = append(t.touched, op.ID)
	}
	return t.tx.Put(bOp, opKey(t.ex.ID, op.Order), raw)
}

// event appends a history event about op (nil for the execution's own:
// those carry the EXECUTION operation's id, as [EMU]'s histories show, but
// InvocationCompleted has none).
func (t *txn) event(op *Operation, ev Event) error {
	t.ex.Events++
	ev.ID, ev.At = t.ex.Events, t.now
	switch {
	case op != nil:
		ev.OpID, ev.Name, ev.ParentID, ev.SubType = op.ID, op.Name, op.ParentID, op.SubType
	}
	// The execution's own events store neither its id nor, started, its
	// input: readEvent derives them from the execution.
	if ev.Type == EvExecutionStarted && ev.Payload != nil && *ev.Payload == t.ex.Input {
		ev.Payload = nil
	}
	raw, err := encode(ev)
	if err != nil {
		return err
	}
	return t.tx.Put(bEvent, eventKey(t.ex.ID, ev.ID), raw)
}

// save writes the execution record.
func (t *txn) save() error {
	t.settleLease()
	raw, err := encode(t.ex)
	if err != nil {
		return err
	}
	if err := t.tx.Put(bExec, t.ex.ID, raw); err != nil || t.ex.Closed() {
		return err
	}
	return t.tx.Put(bRunning, t.ex.ID, runningValue(t.tx.Get(bRunning, t.ex.ID), t.ex, t.chained))
}

// runningValue is ex's running index value, keeping old's sticky flag
// (an old value without flags, from before them, counts as having it).
func runningValue(old []byte, ex *Execution, chained bool) []byte {
	f := byte(runHadChained)
	if len(old) == runningFlagLen && old[0] == runningV && !chained {
		f = old[1] & runHadChained
	}
	if ex.NeedsInvoke || !ex.InvocationStarted.IsZero() {
		f |= runInvoke
	}
	return []byte{runningV, f}
}

// markDirty notes an operation changed from outside the function; wake
// says the execution now needs an invocation for it: false while one runs
// (it learns of the change from its next checkpoint), and false when it
// was already marked (it was handed to the invoker once; BeginInvocation
// clears the mark).
func (t *txn) markDirty(id string) (wake bool) {
	if !slices.Contains(t.ex.Dirty, id) {
		t.ex.Dirty = append(t.ex.Dirty, id)
	}
	if t.ex.InvocationStarted.IsZero() && !t.ex.NeedsInvoke {
		t.ex.NeedsInvoke = true
		if t.ex.Paused != nil {
			t.ex.Owed = true // Resume wakes it
			return false
		}
		return true
	}
	return false
}

// close ends the execution with status, its result or error, and the event
// that says so; its timers go, and its retention starts.
func (t *txn) close(status string, result *string, e *ErrorObject) error {
	ex := t.ex
	ex.Status, ex.Result, ex.Error, ex.Ended = status, result, e, t.now
	ex.NeedsInvoke, ex.Dirty, ex.Paused, ex.Owed = false, nil, nil, false
	if op, err := t.op(ex.ID); err != nil {
		return err
	} else if op != nil {
		op.Status, op.Ended = status, t.now
		if err := t.put(op); err != nil {
			return err
		}
	}
	ev := Event{}
	switch status {
	case Succeeded:
		ev.Type, ev.Payload = EvExecutionSucceeded, result
	case Failed:
		ev.Type, ev.Error = EvExecutionFailed, e
	case TimedOut:
		ev.Type, ev.Error = EvExecutionTimedOut, e
	case Stopped:
		ev.Type, ev.Error = EvExecutionStopped, e
	}
	if err := t.event(nil, ev); err != nil {
		return err
	}
	if err := CancelAll(t.tx, ex.ID); err != nil {
		return err
	}
	if err := t.tx.Delete(bRunning, ex.ID); err != nil {
		return err
	}
	expire := t.now.Add(time.Duration(ex.RetentionDays) * 24 * time.Hour)
	return t.tx.Put(bExpire, nanoKey(expire)+"/"+ex.ID, []byte{})
}

// Pagination.

// DefaultPageSize is the page size of durable reads when MaxItems is 0 or
// absent, and MaxPageSize their bound: the model's documentation of
// MaxItems for GetDurableExecutionState and GetDurableExecutionHistory ("The
// default is 100 and the maximum allowed is 1000. A value of 0 uses the
// default.") and ListDurableExecutionsByFunction ("Default is 100."), as the
// API reference repeats it.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

func pageSize(max int) int {
	if max <= 0 {
		return DefaultPageSize
	}
	return min(max, MaxPageSize)
}

func encodeMarker(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func decodeMarker(m string) (string, error) {
	if m == "" {
		return "", nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(m)
	if err != nil || len(raw) == 0 {
		return "", invalidMarker(m)
	}
	return string(raw), nil
}

// invalidMarker is internal/functions' wording [?].
func invalidMarker(m string) error { return fault.InvalidParameterf("Invalid marker: %s", m) }
