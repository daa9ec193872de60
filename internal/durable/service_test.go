package durable

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/spec"
	"github.com/lambdad/lambdad/internal/store"
)

const fnARN = "arn:aws:lambda:us-east-1:000000000000:function:f"

// env is a service over a store with a clock the test moves.
type env struct {
	t   *testing.T
	s   *Service
	st  store.Store
	now time.Time
}

func newEnv(t *testing.T, st store.Store) *env {
	e := &env{t: t, st: st, now: time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)}
	e.s = New(Config{Store: st, Now: func() time.Time { return e.now }})
	return e
}

var ctx = context.Background()

func (e *env) start(name, payload string) *Started {
	e.t.Helper()
	st, err := e.s.Start(ctx, StartInput{FunctionARN: fnARN, Version: "1", Name: name, Payload: payload, ExecutionTimeout: 3600, RetentionDays: 1})
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

// run is one running invocation: its ARN and current token.
type run struct {
	e   *env
	arn string
	tok string
	inv uint32
}

func (e *env) run(name string) *run {
	e.t.Helper()
	st := e.start(name, `{"x":1}`)
	return &run{e: e, arn: st.Execution.ARN, tok: st.Input.CheckpointToken, inv: st.Input.Invocation()}
}

// cp checkpoints with the current token, and takes the next one on success.
func (r *run) cp(ups ...spec.OperationUpdate) (*CheckpointResult, error) {
	res, err := r.e.s.Checkpoint(ctx, r.arn, r.tok, "", ups)
	if err == nil {
		r.tok = res.Token
	}
	return res, err
}

func (r *run) mustCP(ups ...spec.OperationUpdate) *CheckpointResult {
	r.e.t.Helper()
	res, err := r.cp(ups...)
	if err != nil {
		r.e.t.Fatal(err)
	}
	return res
}

func (r *run) finish(output string) *Finished {
	r.e.t.Helper()
	f, err := r.e.s.Finish(ctx, r.arn, Outcome{Invocation: r.inv, RequestID: "req", Output: []byte(output)})
	if err != nil {
		r.e.t.Fatal(err)
	}
	return f
}

func (r *run) reinvoke() *InvocationInput {
	r.e.t.Helper()
	in, err := r.e.s.BeginInvocation(ctx, r.arn)
	if err != nil {
		r.e.t.Fatal(err)
	}
	r.tok, r.inv = in.CheckpointToken, in.Invocation()
	return in
}

func (r *run) op(id string) *Operation {
	r.e.t.Helper()
	var op *Operation
	err := keyed(r.e.st).View(ctx, func(tx store.Tx) error {
		ex, err := loadARN(tx, r.arn)
		if err != nil {
			return err
		}
		op, err = newTxn(tx, ex, time.Time{}).op(id)
		return err
	})
	if err != nil {
		r.e.t.Fatal(err)
	}
	return op
}

func (r *run) exec() *Execution {
	r.e.t.Helper()
	ex, err := r.e.s.Get(ctx, r.arn)
	if err != nil {
		r.e.t.Fatal(err)
	}
	return ex
}

func up(id, typ, action string) spec.OperationUpdate {
	return spec.OperationUpdate{Id: ptr(id), Type: ptr(typ), Action: ptr(action)}
}

func with(u spec.OperationUpdate, f func(*spec.OperationUpdate)) spec.OperationUpdate {
	f(&u)
	return u
}

func errObj(msg string) *spec.ErrorObject {
	return &spec.ErrorObject{ErrorType: ptr("Error"), ErrorMessage: ptr(msg)}
}

func wantFault(t *testing.T, err error, k fault.Kind, msg string) {
	t.Helper()
	f, ok := fault.As(err)
	if !ok || f.Kind != k || f.Message != msg {
		t.Fatalf("got %v, want %v %q", err, k, msg)
	}
}

func TestStartAndNameIdempotency(t *testing.T) {
	stores(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		a := e.start("order-1", `{"x":1}`)
		if !a.New || a.Input == nil {
			t.Fatalf("first start: %+v", a)
		}
		ex := a.Execution
		want := fnARN + ":1/durable-execution/order-1/" + ex.ID
		if ex.ARN != want || ex.Status != Running || ex.Version != "1" || ex.Name != "order-1" {
			t.Fatalf("execution %+v, want ARN %s", ex, want)
		}
		raw, err := a.Input.MarshalInput()
		if err != nil {
			t.Fatal(err)
		}
		var in map[string]any
		if err := json.Unmarshal(raw, &in); err != nil {
			t.Fatal(err)
		}
		if in["DurableExecutionArn"] != ex.ARN || in["CheckpointToken"] == "" {
			t.Fatalf("input %s", raw)
		}
		ops := a.Input.InitialExecutionState.Operations
		if len(ops) != 1 || *ops[0].Type != TypeExecution || *ops[0].ExecutionDetails.InputPayload != `{"x":1}` || *ops[0].Status != OpStarted {
			t.Fatalf("initial state %s", raw)
		}
		b := e.start("order-1", `{"x":1}`)
		if b.New || b.Input != nil || b.Execution.ARN != ex.ARN {
			t.Fatalf("same name and input: %+v", b)
		}
		_, err = e.s.Start(ctx, StartInput{FunctionARN: fnARN, Version: "1", Name: "order-1", Payload: `{"x":2}`})
		wantFault(t, err, fault.AlreadyStarted, "Durable execution with name order-1 already exists with a different input.")
		// Closed, the name still answers the same way.
		r := &run{e: e, arn: ex.ARN, tok: a.Input.CheckpointToken, inv: a.Input.Invocation()}
		r.finish(`{"Status":"SUCCEEDED","Result":"1"}`)
		if c := e.start("order-1", `{"x":1}`); c.New || c.Execution.Status != Succeeded {
			t.Fatalf("closed, same input: %+v", c)
		}
		_, err = e.s.Start(ctx, StartInput{FunctionARN: fnARN, Version: "1", Name: "order-1", Payload: `{}`})
		wantFault(t, err, fault.AlreadyStarted, "Durable execution with name order-1 already exists with a different input.")
		// Without a name, each start is new.
		if x, y := e.start("", "{}"), e.start("", "{}"); x.Execution.ARN == y.Execution.ARN || !y.New {
			t.Fatal("unnamed starts must differ")
		}
		// An unnamed execution is named by its id, which the name index
		// does not hold: a start with that name still finds it.
		u := e.start("", `{"u":1}`)
		if again := e.start(u.Execution.ID, `{"u":1}`); again.New || again.Execution.ARN != u.Execution.ARN {
			t.Fatalf("name = an unnamed execution's id: %+v", again)
		}
		_, err = e.s.Start(ctx, StartInput{FunctionARN: fnARN, Version: "1", Name: u.Execution.ID, Payload: `{}`})
		wantFault(t, err, fault.AlreadyStarted, "Durable execution with name "+u.Execution.ID+" already exists with a different input.")
	})
}
