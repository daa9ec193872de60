package durable

import (
	"reflect"
	"testing"
	"time"

	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/spec"
	"github.com/lambdad/lambdad/internal/store"
)

// TestTokenMisuse: every token that is not the execution's current one is
// refused with the words the SDKs match (docs/durable.md 1.4), and changes
// nothing.
func TestTokenMisuse(t *testing.T) {
	stores(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		r := e.run("a")
		other := e.run("b")
		first := r.tok
		r.mustCP(up("s", TypeStep, ActionStart))
		cbRes := r.mustCP(up("cb", TypeCallback, ActionStart))
		cbID := *SpecOperations(r.exec(), cbRes.Operations)[0].CallbackDetails.CallbackId
		cases := map[string]string{
			"reused":            first,
			"other execution's": other.tok,
			"garbage":           "AAAA",
			"empty":             "",
			"callback id":       cbID,
			"altered":           first[:len(first)-4] + "AAA=",
		}
		for name, tok := range cases {
			_, err := e.s.Checkpoint(ctx, r.arn, tok, "", []spec.OperationUpdate{up("x", TypeStep, ActionStart)})
			wantFault(t, err, fault.InvalidParameter, msgInvalidToken)
			_, _, _, err = e.s.State(ctx, r.arn, tok, "", 0)
			wantFault(t, err, fault.InvalidParameter, msgInvalidToken)
			if r.op("x") != nil {
				t.Fatalf("%s token: the update was applied", name)
			}
		}
		// State does not consume the token.
		if _, _, _, err := e.s.State(ctx, r.arn, r.tok, "", 0); err != nil {
			t.Fatal(err)
		}
		r.mustCP()
		// A new invocation makes the previous one's token stale.
		old := r.tok
		r.finish(`{"Status":"PENDING"}`)
		_, err := e.s.Checkpoint(ctx, r.arn, old, "", nil)
		wantFault(t, err, fault.InvalidParameter, msgInvalidToken)
		r.reinvoke()
		_, err = e.s.Checkpoint(ctx, r.arn, old, "", nil)
		wantFault(t, err, fault.InvalidParameter, msgInvalidToken)
		r.mustCP()
		// Unknown execution: the model gives these operations no
		// ResourceNotFoundException.
		for _, arn := range []string{r.arn + "x", "arn:nothing", ""} {
			_, err = e.s.Checkpoint(ctx, arn, r.tok, "", nil)
			wantFault(t, err, fault.InvalidParameter, msgInvalidToken)
			_, err = e.s.Checkpoint(ctx, arn, r.tok, "ct", nil)
			wantFault(t, err, fault.InvalidParameter, msgInvalidToken)
			_, _, _, err = e.s.State(ctx, arn, r.tok, "", 0)
			wantFault(t, err, fault.InvalidParameter, msgInvalidToken)
		}
		// A closing checkpoint consumes the last token and answers none;
		// that token is then refused. (Stop, in TestExecutionTimeoutAndStop,
		// closes under a current token.)
		last := r.tok
		r.mustCP(up("e", TypeExecution, ActionFail))
		_, err = e.s.Checkpoint(ctx, r.arn, last, "", nil)
		wantFault(t, err, fault.InvalidParameter, msgInvalidToken)
	})
}

// TestClientToken: a checkpoint repeated with its ClientToken and token gets
// the same answer and applies nothing; another ClientToken with the consumed
// token is a stale token [EMU-PY].
func TestClientToken(t *testing.T) {
	e := newEnv(t, testStore(t))
	r := e.run("a")
	ups := []spec.OperationUpdate{up("s", TypeStep, ActionStart)}
	a, err := e.s.Checkpoint(ctx, r.arn, r.tok, "ct-1", ups)
	if err != nil {
		t.Fatal(err)
	}
	events := r.exec().Events
	b, err := e.s.Checkpoint(ctx, r.arn, r.tok, "ct-1", ups)
	if err != nil {
		t.Fatal(err)
	}
	if a.Token != b.Token || !reflect.DeepEqual(a.Operations, b.Operations) || r.exec().Events != events {
		t.Fatalf("replay differs or applied: %+v %+v", a, b)
	}
	_, err = e.s.Checkpoint(ctx, r.arn, r.tok, "ct-2", ups)
	wantFault(t, err, fault.InvalidParameter, msgInvalidToken)
	// Past the 15-minute window the replay is gone.
	e.now = e.now.Add(16 * time.Minute)
	_, err = e.s.Checkpoint(ctx, r.arn, r.tok, "ct-1", ups)
	wantFault(t, err, fault.InvalidParameter, msgInvalidToken)
	// The new token goes on.
	if _, err := e.s.Checkpoint(ctx, r.arn, a.Token, "", nil); err != nil {
		t.Fatal(err)
	}
}

func TestWaitFiresAndWakes(t *testing.T) {
	stores(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		r := e.run("a")
		r.mustCP(waitFor("w", 10))
		if f := r.finish(`{"Status":"PENDING"}`); f.Invoke {
			t.Fatal("nothing is ready yet")
		}
		if at, ok, _ := e.s.NextDue(ctx); !ok || !at.Equal(e.now.Add(10*time.Second)) {
			t.Fatalf("next due %v %v", at, ok)
		}
		if wake, err := e.s.Fire(ctx, e.now.Add(9*time.Second)); err != nil || len(wake) != 0 {
			t.Fatalf("early fire: %v %v", wake, err)
		}
		e.now = e.now.Add(10 * time.Second)
		wake, err := e.s.Fire(ctx, e.now)
		if err != nil || !reflect.DeepEqual(wake, []string{r.arn}) {
			t.Fatalf("fire: %v %v", wake, err)
		}
		if op := r.op("w"); op.Status != OpSucceeded || !op.Ended.Equal(e.now) {
			t.Fatalf("wait %+v", op)
		}
		if p, _ := e.s.Pending(ctx); !reflect.DeepEqual(p, []string{r.arn}) {
			t.Fatalf("pending %v", p)
		}
		in := r.reinvoke()
		if !reflect.DeepEqual(in.UpdatedOperationIds, []string{"w"}) || len(in.InitialExecutionState.Operations) != 2 {
			t.Fatalf("replay input %+v", in)
		}
		// A timer that fires while an invocation runs reaches it through its
		// next checkpoint, and wakes nothing.
		r.mustCP(waitFor("w2", 1))
		e.now = e.now.Add(time.Second)
		if wake, _ := e.s.Fire(ctx, e.now); len(wake) != 0 {
			t.Fatalf("woke a running execution: %v", wake)
		}
		res := r.mustCP()
		if len(res.Operations) != 1 || res.Operations[0].ID != "w2" || res.Operations[0].Status != OpSucceeded {
			t.Fatalf("external change not delivered: %+v", res.Operations)
		}
		if res := r.mustCP(); len(res.Operations) != 0 {
			t.Fatal("delivered twice")
		}
		// Changes the invocation did not see before answering PENDING wake it.
		r.mustCP(waitFor("w3", 1))
		e.now = e.now.Add(time.Second)
		e.s.Fire(ctx, e.now)
		if f := r.finish(`{"Status":"PENDING"}`); !f.Invoke {
			t.Fatal("PENDING with unseen changes must re-invoke")
		}
	})
}

func TestStepRetry(t *testing.T) {
	e := newEnv(t, testStore(t))
	r := e.run("a")
	for attempt := int32(1); attempt <= 2; attempt++ {
		r.mustCP(up("s", TypeStep, ActionStart))
		r.mustCP(retryIn(withErr(up("s", TypeStep, ActionRetry)), 2))
		if op := r.op("s"); op.Status != OpPending || op.Step.Attempt != attempt {
			t.Fatalf("attempt %d: %+v", attempt, op)
		}
		r.finish(`{"Status":"PENDING"}`)
		e.now = e.now.Add(2 * time.Second)
		if wake, _ := e.s.Fire(ctx, e.now); len(wake) != 1 {
			t.Fatal("retry did not wake")
		}
		if op := r.op("s"); op.Status != OpReady {
			t.Fatalf("after delay: %+v", op)
		}
		r.reinvoke()
	}
	r.mustCP(up("s", TypeStep, ActionStart), payload(up("s", TypeStep, ActionSucceed), "42"))
	if op := r.op("s"); op.Status != OpSucceeded || op.Step.Attempt != 2 || *op.Step.Result != "42" {
		t.Fatalf("final %+v", op)
	}
	evs, _, err := e.s.History(ctx, r.arn, true, "", 0, false)
	if err != nil {
		t.Fatal(err)
	}
	var fails []int32
	var succeeded int32
	for _, ev := range evs {
		switch ev.Type {
		case EvStepFailed:
			fails = append(fails, *ev.Attempt)
		case EvStepSucceeded:
			succeeded = *ev.Attempt
		}
	}
	if !reflect.DeepEqual(fails, []int32{1, 2}) || succeeded != 3 {
		t.Fatalf("StepFailed attempts %v, StepSucceeded %d", fails, succeeded)
	}
}

func callbackID(t *testing.T, r *run, opID string) string {
	t.Helper()
	op := r.op(opID)
	if op == nil || op.Callback == nil {
		t.Fatalf("no callback %s", opID)
	}
	return op.Callback.ID
}

func TestCallbacks(t *testing.T) {
	e := newEnv(t, testStore(t))
	r := e.run("a")
	r.mustCP(up("ok", TypeCallback, ActionStart), up("ko", TypeCallback, ActionStart),
		with(up("hb", TypeCallback, ActionStart), func(u *spec.OperationUpdate) {
			u.CallbackOptions = &spec.CallbackOptions{HeartbeatTimeoutSeconds: ptr(int32(5)), TimeoutSeconds: ptr(int32(100))}
		}))
	r.finish(`{"Status":"PENDING"}`)
	ok, ko, hb := callbackID(t, r, "ok"), callbackID(t, r, "ko"), callbackID(t, r, "hb")
	arn, err := e.s.CallbackSuccess(ctx, ok, []byte(`"yes"`))
	if err != nil || arn != r.arn {
		t.Fatalf("success: %q %v", arn, err)
	}
	if op := r.op("ok"); op.Status != OpSucceeded || *op.Callback.Result != `"yes"` {
		t.Fatalf("%+v", op)
	}
	// The execution already needs an invocation: a second completion does
	// not ask for another.
	if arn, err := e.s.CallbackFailure(ctx, ko, &ErrorObject{Message: ptr("no")}); err != nil || arn != "" {
		t.Fatalf("failure: %q %v", arn, err)
	}
	if op := r.op("ko"); op.Status != OpFailed || *op.Callback.Error.Message != "no" {
		t.Fatalf("%+v", op)
	}
	// Closed callbacks, and ids that are not callbacks.
	_, err = e.s.CallbackSuccess(ctx, ok, nil)
	wantFault(t, err, fault.CallbackTimeout, msgCallbackClosed)
	_, err = e.s.CallbackFailure(ctx, "AAAA", nil)
	wantFault(t, err, fault.InvalidParameter, msgCallbackInvalid)
	_, err = e.s.CallbackSuccess(ctx, r.tok, nil)
	wantFault(t, err, fault.InvalidParameter, msgCallbackInvalid)
	forged, _ := CallbackID{Exec: r.exec().ID, Operation: "ok"}.Encode([]byte("not the key"))
	_, err = e.s.CallbackSuccess(ctx, forged, nil)
	wantFault(t, err, fault.NotFound, msgCallbackNotFound)
	gone, _ := CallbackID{Exec: "no-such-exec", Operation: "ok"}.Encode([]byte("k"))
	wantFault(t, e.s.CallbackHeartbeat(ctx, gone), fault.NotFound, msgCallbackNotFound)
	// Heartbeats move the heartbeat deadline; without one it times out.
	r.reinvoke()
	r.finish(`{"Status":"PENDING"}`)
	for range 3 {
		e.now = e.now.Add(4 * time.Second)
		if err := e.s.CallbackHeartbeat(ctx, hb); err != nil {
			t.Fatal(err)
		}
		if wake, _ := e.s.Fire(ctx, e.now); len(wake) != 0 {
			t.Fatal("timed out despite heartbeats")
		}
	}
	e.now = e.now.Add(5 * time.Second)
	if wake, _ := e.s.Fire(ctx, e.now); len(wake) != 1 {
		t.Fatal("heartbeat timeout did not wake")
	}
	// AWS's error of a missed heartbeat (lifecycle.go fire).
	if op := r.op("hb"); op.Status != OpTimedOut || op.Callback.Error == nil ||
		str(op.Callback.Error.Type) != "Callback.Heartbeat" || str(op.Callback.Error.Message) != "Callback timed out on heartbeat" {
		t.Fatalf("%+v %+v", op, op.Callback.Error)
	}
	// A callback's own timeout: AWS's Callback.Timeout.
	r.reinvoke()
	r.mustCP(with(up("slow", TypeCallback, ActionStart), func(u *spec.OperationUpdate) {
		u.CallbackOptions = &spec.CallbackOptions{TimeoutSeconds: ptr(int32(3))}
	}))
	r.finish(`{"Status":"PENDING"}`)
	e.now = e.now.Add(3 * time.Second)
	if wake, _ := e.s.Fire(ctx, e.now); len(wake) != 1 {
		t.Fatal("callback timeout did not wake")
	}
	if op := r.op("slow"); op.Status != OpTimedOut || op.Callback.Error == nil ||
		str(op.Callback.Error.Type) != "Callback.Timeout" || str(op.Callback.Error.Message) != "Callback timed out" {
		t.Fatalf("%+v %+v", op, op.Callback.Error)
	}
	evs, _, err := e.s.History(ctx, r.arn, true, "", 0, true)
	if err != nil {
		t.Fatal(err)
	}
	if ev := SpecEvent(&evs[0]); ev.CallbackTimedOutDetails == nil || ev.CallbackTimedOutDetails.Error.Payload == nil ||
		str(ev.CallbackTimedOutDetails.Error.Payload.ErrorType) != "Callback.Timeout" {
		t.Fatalf("last event %+v", ev)
	}
	wantFault(t, e.s.CallbackHeartbeat(ctx, hb), fault.CallbackTimeout, msgCallbackClosed)
	// A callback of a finished execution.
	r.reinvoke()
	r.mustCP(up("late", TypeCallback, ActionStart))
	late := callbackID(t, r, "late")
	r.finish(`{"Status":"FAILED","Error":{"ErrorMessage":"x"}}`)
	_, err = e.s.CallbackSuccess(ctx, late, nil)
	wantFault(t, err, fault.CallbackTimeout, msgCallbackClosed)
}

func TestExecutionTimeoutAndStop(t *testing.T) {
	e := newEnv(t, testStore(t))
	r := e.run("a")
	r.mustCP(waitFor("w", 7200))
	r.finish(`{"Status":"PENDING"}`)
	e.now = e.now.Add(time.Hour)
	if wake, err := e.s.Fire(ctx, e.now); err != nil || len(wake) != 0 {
		t.Fatalf("timeout woke %v %v", wake, err)
	}
	// No error, as AWS records a timeout (lifecycle.go fire).
	ex := r.exec()
	if ex.Status != TimedOut || !ex.Ended.Equal(e.now) || ex.Error != nil {
		t.Fatalf("%+v", ex)
	}
	if got := SpecExecution(ex, true); got.Error != nil {
		t.Fatalf("GetDurableExecution's error %+v", got.Error)
	}
	evs, _, err := e.s.History(ctx, r.arn, true, "", 0, true)
	if err != nil {
		t.Fatal(err)
	}
	if ev := SpecEvent(&evs[0]); ev.ExecutionTimedOutDetails == nil || ev.ExecutionTimedOutDetails.Error != nil {
		t.Fatalf("last event %+v", ev)
	}
	if _, ok, _ := e.s.NextDue(ctx); ok {
		t.Fatal("the wait's timer outlived the execution")
	}
	_, err = e.s.BeginInvocation(ctx, r.arn)
	wantFault(t, err, fault.Conflict, "Durable execution "+r.arn+" has already ended.")

	s := e.run("b")
	s.mustCP(up("cb", TypeCallback, ActionStart))
	cb := callbackID(t, s, "cb")
	at, err := e.s.Stop(ctx, s.arn, &ErrorObject{Message: ptr("enough")})
	if err != nil || !at.Equal(e.now) {
		t.Fatal(err)
	}
	if ex := s.exec(); ex.Status != Stopped || *ex.Error.Message != "enough" {
		t.Fatalf("%+v", ex)
	}
	// Operations in progress stay as they were; the running invocation's
	// next checkpoint is refused; callbacks are closed.
	if op := s.op("cb"); op.Status != OpStarted {
		t.Fatalf("%+v", op)
	}
	_, err = s.cp()
	wantFault(t, err, fault.InvalidParameter, msgInvalidToken)
	_, err = e.s.CallbackSuccess(ctx, cb, nil)
	wantFault(t, err, fault.CallbackTimeout, msgCallbackClosed)
	_, err = e.s.Stop(ctx, s.arn, nil)
	wantFault(t, err, fault.InvalidParameter, "Durable execution "+s.arn+" has already ended.")
	_, err = e.s.Stop(ctx, s.arn+"0", nil)
	wantFault(t, err, fault.NotFound, "Durable execution not found: "+s.arn+"0")
}

func TestFinish(t *testing.T) {
	cases := []struct {
		name, output string
		err          *ErrorObject
		checkpoint   []spec.OperationUpdate
		status       string
		invoke       bool
		result       string
		errMsg       string
	}{
		{name: "succeeded", output: `{"Status":"SUCCEEDED","Result":"7"}`, status: Succeeded, result: "7"},
		{name: "failed", output: `{"Status":"FAILED","Error":{"ErrorType":"E","ErrorMessage":"bad"}}`, status: Failed, errMsg: "bad"},
		{name: "pending with nothing pending", output: `{"Status":"PENDING"}`, status: Failed, errMsg: msgPendingNothing},
		{name: "pending on a wait", output: `{"Status":"PENDING"}`, checkpoint: []spec.OperationUpdate{waitFor("w", 5)}, status: Running},
		{name: "invocation error", err: &ErrorObject{Message: ptr("crash")}, status: Running, invoke: true},
		{name: "not a durable output", output: `{"statusCode":200}`, status: Failed, errMsg: msgBadOutput},
		{name: "large result checkpointed", output: `{"Status":"SUCCEEDED","Result":""}`,
			checkpoint: []spec.OperationUpdate{payload(up("execution-result-1", TypeExecution, ActionSucceed), "big")}, status: Succeeded, result: "big"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, testStore(t))
			r := e.run("a")
			if c.checkpoint != nil {
				r.mustCP(c.checkpoint...)
			}
			f, err := e.s.Finish(ctx, r.arn, Outcome{Invocation: r.inv, RequestID: "rq", Output: []byte(c.output), Err: c.err})
			if err != nil {
				t.Fatal(err)
			}
			ex := r.exec()
			if ex.Status != c.status || f.Invoke != c.invoke || ex.NeedsInvoke != c.invoke {
				t.Fatalf("got %s invoke %v, want %s %v", ex.Status, f.Invoke, c.status, c.invoke)
			}
			if c.result != "" && (ex.Result == nil || *ex.Result != c.result) {
				t.Fatalf("result %v", ex.Result)
			}
			if c.errMsg != "" && (ex.Error == nil || *ex.Error.Message != c.errMsg) {
				t.Fatalf("error %+v", ex.Error)
			}
			evs, _, _ := e.s.History(ctx, r.arn, true, "", 0, false)
			var completed int
			for _, ev := range evs {
				if ev.Type == EvInvocationCompleted {
					completed++
					if ev.RequestID != "rq" {
						t.Fatalf("%+v", ev)
					}
				}
			}
			if completed != 1 {
				t.Fatalf("%d InvocationCompleted", completed)
			}
			// The same outcome again, or an older invocation's, changes nothing.
			before := r.exec()
			if _, err := e.s.Finish(ctx, r.arn, Outcome{Invocation: r.inv, Output: []byte(c.output)}); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(r.exec(), before) {
				t.Fatal("a repeated Finish changed the execution")
			}
		})
	}
}

func TestPurge(t *testing.T) {
	stores(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		r := e.run("a")
		keep := e.run("b")
		r.mustCP(up("s", TypeStep, ActionSucceed))
		r.finish(`{"Status":"SUCCEEDED","Result":"1"}`)
		if n, err := e.s.Purge(ctx, e.now.Add(23*time.Hour)); err != nil || n != 0 {
			t.Fatalf("early purge %d %v", n, err)
		}
		if n, err := e.s.Purge(ctx, e.now.Add(24*time.Hour)); err != nil || n != 1 {
			t.Fatalf("purge %d %v", n, err)
		}
		_, err := e.s.Get(ctx, r.arn)
		wantFault(t, err, fault.NotFound, "Durable execution not found: "+r.arn)
		_, _, err = e.s.History(ctx, r.arn, true, "", 0, false)
		wantFault(t, err, fault.NotFound, "Durable execution not found: "+r.arn)
		// Nothing of it is left in any bucket; the other execution is whole.
		exID := r.arn[len(r.arn)-36:]
		for _, b := range []string{bOp, bOpID, bEvent, bClient, bDueBy} {
			if err := keyed(st).View(ctx, func(tx store.Tx) error {
				if n := tx.Count(b, exID); n != 0 {
					t.Errorf("%s keeps %d keys", b, n)
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		if keep.exec().Status != Running {
			t.Fatal("purged the wrong execution")
		}
		// The name is free again.
		if s := e.start("a", `{"other":1}`); !s.New {
			t.Fatal("name not reusable after retention")
		}
	})
}

// TestWakeOnce: an execution is handed to the invoker once per need, however
// many of its timers fire before it is invoked.
func TestWakeOnce(t *testing.T) {
	e := newEnv(t, testStore(t))
	r := e.run("a")
	r.mustCP(waitFor("w1", 1), waitFor("w2", 2))
	r.finish(`{"Status":"PENDING"}`)
	e.now = e.now.Add(time.Second)
	if wake, _ := e.s.Fire(ctx, e.now); len(wake) != 1 {
		t.Fatalf("first timer: %v", wake)
	}
	e.now = e.now.Add(time.Second)
	if wake, _ := e.s.Fire(ctx, e.now); len(wake) != 0 {
		t.Fatalf("woken twice: %v", wake)
	}
	in := r.reinvoke()
	if len(in.UpdatedOperationIds) != 2 {
		t.Fatalf("updated %v", in.UpdatedOperationIds)
	}
}

// TestClientTokenReplayStartsNothing: a replayed checkpoint does not hand
// its chained invokes to the invoker a second time.
func TestClientTokenReplayStartsNothing(t *testing.T) {
	e := newEnv(t, testStore(t))
	r := e.run("a")
	ups := []spec.OperationUpdate{with(up("k", TypeChainedInvoke, ActionStart), func(u *spec.OperationUpdate) {
		u.ChainedInvokeOptions = &spec.ChainedInvokeOptions{FunctionName: ptr("g:1")}
	})}
	a, err := e.s.Checkpoint(ctx, r.arn, r.tok, "ct", ups)
	if err != nil || !reflect.DeepEqual(a.ChainedInvokes, []string{"k"}) {
		t.Fatalf("%+v %v", a, err)
	}
	b, err := e.s.Checkpoint(ctx, r.arn, r.tok, "ct", ups)
	if err != nil || b.Token != a.Token || len(b.ChainedInvokes) != 0 {
		t.Fatalf("%+v %v", b, err)
	}
}
