package durable

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/spec"
	"github.com/lambdad/lambdad/internal/store"
)

func TestHistory(t *testing.T) {
	stores(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		r := e.run("a")
		r.mustCP(up("s", TypeStep, ActionStart), payload(up("s", TypeStep, ActionSucceed), `"v"`), waitFor("w", 2))
		r.finish(`{"Status":"PENDING"}`)
		e.now = e.now.Add(2 * time.Second)
		e.s.Fire(ctx, e.now)
		r.reinvoke()
		r.finish(`{"Status":"SUCCEEDED","Result":"\"ok\""}`)
		want := []string{EvExecutionStarted, EvStepStarted, EvStepSucceeded, EvWaitStarted, EvInvocationCompleted,
			EvWaitSucceeded, EvInvocationCompleted, EvExecutionSucceeded}
		all, next, err := e.s.History(ctx, r.arn, true, "", 0, false)
		if err != nil || next != nil {
			t.Fatal(err, next)
		}
		var types []string
		for i, ev := range all {
			types = append(types, ev.Type)
			if ev.ID != int32(i+1) {
				t.Fatalf("event %d has id %d", i, ev.ID)
			}
		}
		if !reflect.DeepEqual(types, want) {
			t.Fatalf("events %v, want %v", types, want)
		}
		// Execution events name the EXECUTION operation; InvocationCompleted
		// names none.
		if all[0].OpID != r.exec().ID || all[7].OpID != r.exec().ID || all[4].OpID != "" {
			t.Fatalf("ids %q %q %q", all[0].OpID, all[7].OpID, all[4].OpID)
		}
		// The model's shapes, with each type's details.
		sp := SpecEvent(&all[2])
		if *sp.EventType != EvStepSucceeded || *sp.Id != "s" || *sp.StepSucceededDetails.Result.Payload != `"v"` || *sp.EventId != 3 {
			t.Fatalf("%+v", sp)
		}
		if sp := SpecEvent(&all[0]); *sp.ExecutionStartedDetails.Input.Payload != `{"x":1}` || *sp.ExecutionStartedDetails.ExecutionTimeout != 3600 {
			t.Fatalf("%+v", sp.ExecutionStartedDetails)
		}
		if sp := SpecEvent(&all[3]); *sp.WaitStartedDetails.Duration != 2 || sp.WaitStartedDetails.ScheduledEndTimestamp == nil {
			t.Fatalf("%+v", sp.WaitStartedDetails)
		}
		if sp := SpecEvent(&all[4]); *sp.InvocationCompletedDetails.RequestId != "req" || sp.InvocationCompletedDetails.StartTimestamp == nil {
			t.Fatalf("%+v", sp.InvocationCompletedDetails)
		}
		// Pages of 3, both ways, give the same events.
		for _, reverse := range []bool{false, true} {
			var got []Event
			marker := ""
			for {
				page, next, err := e.s.History(ctx, r.arn, true, marker, 3, reverse)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, page...)
				if next == nil {
					break
				}
				marker = *next
			}
			exp := append([]Event(nil), all...)
			if reverse {
				for i, j := 0, len(exp)-1; i < j; i, j = i+1, j-1 {
					exp[i], exp[j] = exp[j], exp[i]
				}
			}
			if !reflect.DeepEqual(got, exp) {
				t.Fatalf("reverse=%v pages differ", reverse)
			}
		}
		// Without data, payloads are left out.
		bare, _, _ := e.s.History(ctx, r.arn, false, "", 0, false)
		for _, ev := range bare {
			if ev.Payload != nil || ev.Error != nil {
				t.Fatalf("data in %+v", ev)
			}
		}
		_, _, err = e.s.History(ctx, r.arn, true, "!!", 0, false)
		wantFault(t, err, fault.InvalidParameter, "Invalid marker: !!")
	})
}

func TestStatePagesAndHidesClosedChildren(t *testing.T) {
	e := newEnv(t, testStore(t))
	r := e.run("a")
	var ups []spec.OperationUpdate
	for i := range 5 {
		ups = append(ups, up(fmt.Sprintf("s%d", i), TypeStep, ActionSucceed))
	}
	r.mustCP(ups...)
	// A closed context hides its children (and theirs); one that replays
	// them does not.
	r.mustCP(up("p", TypeContext, ActionStart), parent(up("p1", TypeContext, ActionStart), "p"), parent(up("c", TypeStep, ActionSucceed), "p1"),
		up("q", TypeContext, ActionStart), parent(up("d", TypeStep, ActionSucceed), "q"))
	r.mustCP(up("p1", TypeContext, ActionSucceed), up("p", TypeContext, ActionSucceed),
		with(up("q", TypeContext, ActionSucceed), func(u *spec.OperationUpdate) { u.ContextOptions = &spec.ContextOptions{ReplayChildren: ptr(true)} }))
	var ids []string
	marker := ""
	for {
		ops, next, _, err := e.s.State(ctx, r.arn, r.tok, marker, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, op := range ops {
			ids = append(ids, op.ID)
		}
		if next == nil {
			break
		}
		marker = *next
	}
	ex := r.exec()
	want := []string{ex.ID, "s0", "s1", "s2", "s3", "s4", "p", "q", "d"}
	if !reflect.DeepEqual(ids, want) {
		t.Fatalf("state %v, want %v", ids, want)
	}
	// The invocation's event carries the same state.
	in := r.reinvoke()
	if len(in.InitialExecutionState.Operations) != len(want) || in.InitialExecutionState.NextMarker != nil {
		t.Fatalf("initial state %+v", in.InitialExecutionState)
	}
}

func TestListByFunction(t *testing.T) {
	e := newEnv(t, testStore(t))
	var arns []string
	for i := range 5 {
		r := e.run(fmt.Sprintf("n%d", i))
		arns = append(arns, r.arn)
		if i%2 == 0 {
			r.finish(`{"Status":"SUCCEEDED"}`)
		}
		e.now = e.now.Add(time.Minute)
	}
	v2, _ := e.s.Start(ctx, StartInput{FunctionARN: fnARN, Version: "2", Name: "v2", Payload: "{}"})
	other, _ := e.s.Start(ctx, StartInput{FunctionARN: fnARN + "x", Version: "1", Payload: "{}"})
	list := func(in ListInput) []string {
		t.Helper()
		in.FunctionARN = fnARN
		var out []string
		for {
			page, next, err := e.s.ListByFunction(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			for _, ex := range page {
				out = append(out, ex.ARN)
			}
			if next == nil {
				return out
			}
			in.Marker = *next
		}
	}
	all := append(append([]string(nil), arns...), v2.Execution.ARN)
	if got := list(ListInput{MaxItems: 2, OldestFirst: true}); !reflect.DeepEqual(got, all) {
		t.Fatalf("all, oldest first %v", got)
	}
	// Newest first by default, as AWS lists them.
	if got := list(ListInput{MaxItems: 4}); len(got) != 6 || got[0] != v2.Execution.ARN || got[5] != arns[0] {
		t.Fatalf("newest first %v", got)
	}
	if got := list(ListInput{Statuses: []string{Succeeded}, MaxItems: 1, OldestFirst: true}); !reflect.DeepEqual(got, []string{arns[0], arns[2], arns[4]}) {
		t.Fatalf("succeeded %v", got)
	}
	if got := list(ListInput{Name: "n3"}); !reflect.DeepEqual(got, []string{arns[3]}) {
		t.Fatalf("by name %v", got)
	}
	if got := list(ListInput{Version: "2"}); !reflect.DeepEqual(got, []string{v2.Execution.ARN}) {
		t.Fatalf("by version %v", got)
	}
	start := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	if got := list(ListInput{StartedAfter: start.Add(30 * time.Second), StartedBefore: start.Add(150 * time.Second), OldestFirst: true}); !reflect.DeepEqual(got, arns[1:3]) {
		t.Fatalf("by time %v", got)
	}
	if got := list(ListInput{}); len(got) != 6 || got[0] == other.Execution.ARN {
		t.Fatal("another function's execution listed")
	}
	it := SpecListItem(other.Execution)
	if *it.FunctionArn != fnARN+"x:1" || *it.Status != Running {
		t.Fatalf("%+v", it)
	}
}

// failAfter is a store whose write transactions run fn whole and then fail,
// as a crash before the commit would: nothing fn wrote may be kept.
type failAfter struct{ store.Store }

var errCrash = errors.New("crash before commit")

func (f failAfter) Update(ctx2 context.Context, fn func(store.Tx) error) error {
	return f.Store.Update(ctx2, func(tx store.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return errCrash
	})
}

// TestCheckpointAllOrNothingOnDisk is the kill -9 rule at the store level:
// a checkpoint whose transaction does not commit leaves no trace in the
// bbolt file (no operation, event, timer, token change), and one that
// commits is there whole after reopening it.
func TestCheckpointAllOrNothingOnDisk(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	open := func() *store.Bolt {
		st, err := store.OpenBolt(path)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	st := open()
	e := newEnv(t, st)
	r := e.run("a")
	r.mustCP(up("s", TypeStep, ActionStart))
	before := r.exec()
	crashing := New(Config{Store: failAfter{st}, Now: func() time.Time { return e.now }})
	ups := []spec.OperationUpdate{payload(up("s", TypeStep, ActionSucceed), "1"), waitFor("w", 5),
		up("cb", TypeCallback, ActionStart), retryIn(up("r", TypeStep, ActionRetry), 3)}
	if _, err := crashing.Checkpoint(ctx, r.arn, r.tok, "ct", ups); !errors.Is(err, errCrash) {
		t.Fatalf("got %v", err)
	}
	if _, err := crashing.Stop(ctx, r.arn, nil); !errors.Is(err, errCrash) {
		t.Fatal(err)
	}
	st.Close()
	st = open()
	defer st.Close()
	e = newEnv(t, st)
	r.e = e
	if ex := r.exec(); !reflect.DeepEqual(ex, before) {
		t.Fatalf("execution changed by an uncommitted checkpoint:\n%+v\n%+v", ex, before)
	}
	for _, id := range []string{"w", "cb", "r"} {
		if r.op(id) != nil {
			t.Fatalf("operation %s kept", id)
		}
	}
	if op := r.op("s"); op.Status != OpStarted {
		t.Fatalf("%+v", op)
	}
	if at, _, _ := e.s.NextDue(ctx); !at.Equal(before.Started.Add(time.Hour)) {
		t.Fatalf("a timer of the uncommitted checkpoint was kept: %v", at)
	}
	// The token was not consumed: the same checkpoint now commits, whole.
	tok := r.tok
	res, err := e.s.Checkpoint(ctx, r.arn, tok, "ct", ups)
	if err != nil {
		t.Fatal(err)
	}
	r.tok = res.Token
	st.Close()
	st = open()
	defer st.Close()
	e = newEnv(t, st)
	r.e = e
	if len(res.Operations) != 4 || r.op("s").Status != OpSucceeded || r.op("w").Status != OpStarted ||
		r.op("cb").Callback == nil || r.op("r").Status != OpPending {
		t.Fatal("committed checkpoint not whole after reopening")
	}
	ex := r.exec()
	if ex.Seq != before.Seq+1 || ex.Events != before.Events+4 {
		t.Fatalf("seq %d events %d", ex.Seq, ex.Events)
	}
	if at, _, _ := e.s.NextDue(ctx); !at.Equal(e.now.Add(3 * time.Second)) {
		t.Fatalf("next due %v", at)
	}
	// Its ClientToken replay survives the restart.
	again, err := e.s.Checkpoint(ctx, r.arn, tok, "ct", ups)
	if err != nil || again.Token != res.Token || !reflect.DeepEqual(again.Operations, res.Operations) {
		t.Fatalf("replay after restart: %v", err)
	}
}
