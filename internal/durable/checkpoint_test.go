package durable

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/spec"
	"github.com/lambdad/lambdad/internal/store"
)

func retryIn(u spec.OperationUpdate, secs int32) spec.OperationUpdate {
	return with(u, func(u *spec.OperationUpdate) { u.StepOptions = &spec.StepOptions{NextAttemptDelaySeconds: ptr(secs)} })
}

func waitFor(id string, secs int32) spec.OperationUpdate {
	return with(up(id, TypeWait, ActionStart), func(u *spec.OperationUpdate) { u.WaitOptions = &spec.WaitOptions{WaitSeconds: ptr(secs)} })
}

func payload(u spec.OperationUpdate, p string) spec.OperationUpdate {
	return with(u, func(u *spec.OperationUpdate) { u.Payload = ptr(p) })
}

func withErr(u spec.OperationUpdate) spec.OperationUpdate {
	return with(u, func(u *spec.OperationUpdate) { u.Error = errObj("boom") })
}

func parent(u spec.OperationUpdate, p string) spec.OperationUpdate {
	return with(u, func(u *spec.OperationUpdate) { u.ParentId = ptr(p) })
}

// TestCheckpointTransitions is docs/durable.md 1.5's table: each row sets an
// operation up with earlier checkpoints, then checkpoints the update under
// test, which either gives the operation a status or is refused with
// AWS's words and changes nothing.
func TestCheckpointTransitions(t *testing.T) {
	step, ctxOp, wait, cb, ch := TypeStep, TypeContext, TypeWait, TypeCallback, TypeChainedInvoke
	chained := with(up("c", ch, ActionStart), func(u *spec.OperationUpdate) {
		u.ChainedInvokeOptions = &spec.ChainedInvokeOptions{FunctionName: ptr("other:1")}
	})
	cases := []struct {
		name   string
		setup  [][]spec.OperationUpdate
		update []spec.OperationUpdate
		id     string // the operation whose status is checked
		status string
		msg    string // the refusal, when not ""
	}{
		{"step start", nil, []spec.OperationUpdate{up("s", step, ActionStart)}, "s", OpStarted, ""},
		{"step start twice", [][]spec.OperationUpdate{{up("s", step, ActionStart)}}, []spec.OperationUpdate{up("s", step, ActionStart)}, "s", OpStarted, msgStepStart},
		{"step succeed started", [][]spec.OperationUpdate{{up("s", step, ActionStart)}}, []spec.OperationUpdate{payload(up("s", step, ActionSucceed), `"r"`)}, "s", OpSucceeded, ""},
		{"step succeed unstarted", nil, []spec.OperationUpdate{up("s", step, ActionSucceed)}, "s", OpSucceeded, ""},
		{"step start and succeed in one request", nil, []spec.OperationUpdate{up("s", step, ActionStart), up("s", step, ActionSucceed)}, "s", OpSucceeded, ""},
		{"step fail", nil, []spec.OperationUpdate{withErr(up("s", step, ActionFail))}, "s", OpFailed, ""},
		{"step close twice", [][]spec.OperationUpdate{{up("s", step, ActionSucceed)}}, []spec.OperationUpdate{up("s", step, ActionFail)}, "s", OpSucceeded, msgStepClose},
		{"step retry", [][]spec.OperationUpdate{{up("s", step, ActionStart)}}, []spec.OperationUpdate{retryIn(withErr(up("s", step, ActionRetry)), 5)}, "s", OpPending, ""},
		{"step retry of pending", [][]spec.OperationUpdate{{retryIn(up("s", step, ActionRetry), 5)}}, []spec.OperationUpdate{retryIn(up("s", step, ActionRetry), 5)}, "s", OpPending, msgStepRetry},
		{"step start of pending", [][]spec.OperationUpdate{{retryIn(up("s", step, ActionRetry), 5)}}, []spec.OperationUpdate{up("s", step, ActionStart)}, "s", OpPending, msgStepStart},
		{"step retry without options", nil, []spec.OperationUpdate{up("s", step, ActionRetry)}, "s", "", msgStepOptions},
		{"step options on start", nil, []spec.OperationUpdate{retryIn(up("s", step, ActionStart), 1)}, "s", "", msgStepOptions},
		{"step retry with error and payload", nil, []spec.OperationUpdate{payload(retryIn(withErr(up("s", step, ActionRetry)), 1), "1")}, "s", "", msgRetryBoth},
		{"fail with payload", nil, []spec.OperationUpdate{payload(up("s", step, ActionFail), "1")}, "s", "", msgFailPayload},
		{"succeed with error", nil, []spec.OperationUpdate{withErr(up("s", step, ActionSucceed))}, "s", "", msgSucceedError},
		{"step cancel", nil, []spec.OperationUpdate{up("s", step, ActionCancel)}, "s", "", msgBadAction},
		{"unknown type", nil, []spec.OperationUpdate{up("s", "TIMER", ActionStart)}, "s", "", msgBadAction},
		{"same operation twice", nil, []spec.OperationUpdate{waitFor("w", 1), with(up("w", wait, ActionCancel), func(*spec.OperationUpdate) {})}, "w", "", msgTwice},
		{"context start", nil, []spec.OperationUpdate{up("p", ctxOp, ActionStart)}, "p", OpStarted, ""},
		{"context start twice", [][]spec.OperationUpdate{{up("p", ctxOp, ActionStart)}}, []spec.OperationUpdate{up("p", ctxOp, ActionStart)}, "p", OpStarted, "Cannot start a CONTEXT that already exists."},
		{"context succeed", [][]spec.OperationUpdate{{up("p", ctxOp, ActionStart)}}, []spec.OperationUpdate{payload(up("p", ctxOp, ActionSucceed), "1")}, "p", OpSucceeded, ""},
		{"context fail unstarted", nil, []spec.OperationUpdate{withErr(up("p", ctxOp, ActionFail))}, "p", "", msgContextClose},
		{"child of a context", [][]spec.OperationUpdate{{up("p", ctxOp, ActionStart)}}, []spec.OperationUpdate{parent(up("s", step, ActionStart), "p")}, "s", OpStarted, ""},
		{"child of a context started in the request", nil, []spec.OperationUpdate{up("p", ctxOp, ActionStart), parent(up("s", step, ActionStart), "p")}, "s", OpStarted, ""},
		{"child of a step", [][]spec.OperationUpdate{{up("x", step, ActionStart)}}, []spec.OperationUpdate{parent(up("s", step, ActionStart), "x")}, "s", "", msgBadParent},
		{"child of nothing", nil, []spec.OperationUpdate{parent(up("s", step, ActionStart), "nope")}, "s", "", msgBadParent},
		{"wait start", nil, []spec.OperationUpdate{waitFor("w", 10)}, "w", OpStarted, ""},
		{"wait start twice", [][]spec.OperationUpdate{{waitFor("w", 10)}}, []spec.OperationUpdate{waitFor("w", 10)}, "w", OpStarted, "Cannot start a WAIT that already exists."},
		{"wait without seconds", nil, []spec.OperationUpdate{up("w", wait, ActionStart)}, "w", "", msgWaitOptions},
		{"wait cancel", [][]spec.OperationUpdate{{waitFor("w", 10)}}, []spec.OperationUpdate{up("w", wait, ActionCancel)}, "w", OpCancelled, ""},
		{"wait cancel missing", nil, []spec.OperationUpdate{up("w", wait, ActionCancel)}, "w", "", "Cannot cancel a WAIT that does not exist or has already completed."},
		{"wait succeed", nil, []spec.OperationUpdate{up("w", wait, ActionSucceed)}, "w", "", msgBadAction},
		{"callback start", nil, []spec.OperationUpdate{up("cb", cb, ActionStart)}, "cb", OpStarted, ""},
		{"callback start twice", [][]spec.OperationUpdate{{up("cb", cb, ActionStart)}}, []spec.OperationUpdate{up("cb", cb, ActionStart)}, "cb", OpStarted, "Cannot start a CALLBACK that already exists."},
		{"callback cancel", [][]spec.OperationUpdate{{up("cb", cb, ActionStart)}}, []spec.OperationUpdate{up("cb", cb, ActionCancel)}, "cb", OpCancelled, ""},
		{"callback cancel twice", [][]spec.OperationUpdate{{up("cb", cb, ActionStart)}, {up("cb", cb, ActionCancel)}}, []spec.OperationUpdate{up("cb", cb, ActionCancel)}, "cb", OpCancelled, "Cannot cancel a CALLBACK that does not exist or has already completed."},
		{"chained start", nil, []spec.OperationUpdate{chained}, "c", OpStarted, ""},
		{"chained without function", nil, []spec.OperationUpdate{up("c", ch, ActionStart)}, "c", "", msgChainedOptions},
		{"chained start twice", [][]spec.OperationUpdate{{chained}}, []spec.OperationUpdate{chained}, "c", OpStarted, "Cannot start a CHAINED_INVOKE that already exists."},
		{"chained cancel", [][]spec.OperationUpdate{{chained}}, []spec.OperationUpdate{up("c", ch, ActionCancel)}, "c", OpStopped, ""},
		{"chained cancel missing", nil, []spec.OperationUpdate{up("c", ch, ActionCancel)}, "c", "", "Cannot cancel a CHAINED_INVOKE that does not exist or has already completed."},
		{"type mismatch", [][]spec.OperationUpdate{{up("s", step, ActionStart)}}, []spec.OperationUpdate{waitFor("s", 1)}, "s", OpStarted, msgTypeMismatch},
		{"error too large", nil, []spec.OperationUpdate{with(up("s", step, ActionFail), func(u *spec.OperationUpdate) {
			u.Error = errObj(strings.Repeat("x", maxErrorSize))
		})}, "s", "", msgErrorSize},
		{"step output at the limit", nil, []spec.OperationUpdate{payload(up("s", step, ActionSucceed), strings.Repeat("x", maxOutputSize))}, "s", OpSucceeded, ""},
		{"step output over the limit", nil, []spec.OperationUpdate{payload(up("s", step, ActionSucceed), strings.Repeat("x", maxOutputSize+1))}, "s", "",
			"STEP output payload size must be less than or equal to 262144 bytes"},
		{"retry output over the limit", nil, []spec.OperationUpdate{payload(retryIn(up("s", step, ActionRetry), 1), strings.Repeat("x", maxOutputSize+1))}, "s", "",
			"STEP output payload size must be less than or equal to 262144 bytes"},
		{"context output over the limit", [][]spec.OperationUpdate{{up("p", ctxOp, ActionStart)}}, []spec.OperationUpdate{payload(up("p", ctxOp, ActionSucceed), strings.Repeat("x", maxOutputSize+1))}, "p", OpStarted,
			"CONTEXT output payload size must be less than or equal to 262144 bytes"},
		{"missing id", nil, []spec.OperationUpdate{{Type: ptr(step), Action: ptr(ActionStart)}}, "s", "", msgMissingRequired},
		{"execution succeed", nil, []spec.OperationUpdate{up("s", step, ActionSucceed), payload(up("any", TypeExecution, ActionSucceed), "1")}, "s", OpSucceeded, ""},
		{"execution not last", nil, []spec.OperationUpdate{payload(up("e", TypeExecution, ActionSucceed), "1"), up("s", step, ActionStart)}, "s", "", msgExecutionLast},
		{"two executions", nil, []spec.OperationUpdate{up("e", TypeExecution, ActionFail), up("e2", TypeExecution, ActionSucceed)}, "s", "", msgManyExecution},
		{"execution start", nil, []spec.OperationUpdate{up("e", TypeExecution, ActionStart)}, "s", "", msgBadAction},
		// A refused update refuses the whole request: the first, valid, one
		// is not applied.
		{"all or nothing", nil, []spec.OperationUpdate{up("s", step, ActionStart), up("w", wait, ActionCancel)}, "s", "", "Cannot cancel a WAIT that does not exist or has already completed."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, testStore(t))
			r := e.run("x")
			for _, ups := range c.setup {
				r.mustCP(ups...)
			}
			before := r.exec()
			tok := r.tok
			res, err := r.cp(c.update...)
			op := r.op(c.id)
			if c.msg != "" {
				wantFault(t, err, fault.InvalidParameter, c.msg)
				// Nothing changed: not the token, the record nor the operation.
				if r.tok != tok || !reflect.DeepEqual(r.exec(), before) {
					t.Fatal("a refused checkpoint changed the execution")
				}
				if c.status == "" && op != nil {
					t.Fatalf("a refused checkpoint created %+v", op)
				}
				if _, err := r.cp(); err != nil {
					t.Fatalf("the token was consumed by a refused checkpoint: %v", err)
				}
			} else if err != nil {
				t.Fatal(err)
			} else if len(res.Operations) == 0 {
				t.Fatal("no operations in the answer")
			}
			if c.status != "" && (op == nil || op.Status != c.status) {
				t.Fatalf("operation %+v, want status %s", op, c.status)
			}
		})
	}
}

func TestCheckpointDetails(t *testing.T) {
	e := newEnv(t, testStore(t))
	r := e.run("x")
	res := r.mustCP(waitFor("w", 30), with(up("cb", TypeCallback, ActionStart), func(u *spec.OperationUpdate) {
		u.CallbackOptions = &spec.CallbackOptions{TimeoutSeconds: ptr(int32(60)), HeartbeatTimeoutSeconds: ptr(int32(10))}
	}), up("s", TypeStep, ActionStart), retryIn(withErr(up("s", TypeStep, ActionRetry)), 7))
	got := SpecOperations(r.exec(), res.Operations)
	if len(got) != 3 || *got[0].Id != "w" || *got[1].Id != "cb" || *got[2].Id != "s" {
		t.Fatalf("operations %+v", got)
	}
	if !got[0].WaitDetails.ScheduledEndTimestamp.Equal(e.now.Add(30 * time.Second)) {
		t.Fatalf("wait %+v", got[0].WaitDetails)
	}
	id := *got[1].CallbackDetails.CallbackId
	if c, err := CheckCallbackID(id, r.exec().Key); err != nil || c.Operation != "cb" {
		t.Fatalf("callback id %q: %v %v", id, c, err)
	}
	if d := got[2].StepDetails; *d.Attempt != 1 || !d.NextAttemptTimestamp.Equal(e.now.Add(7*time.Second)) || *d.Error.ErrorMessage != "boom" {
		t.Fatalf("step %+v", d)
	}
	// Timers: the wait, the callback's two deadlines, the retry, the timeout.
	var timers []string
	if err := keyed(e.st).View(ctx, func(tx store.Tx) error {
		ts, err := Due(tx, e.now.Add(time.Hour), 100)
		for _, tm := range ts {
			timers = append(timers, tm.Kind)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	want := []string{"retry/s", "heartbeat/cb", "wait/w", "callback/cb", "timeout"}
	if !reflect.DeepEqual(timers, want) {
		t.Fatalf("timers %v, want %v", timers, want)
	}
	// An empty checkpoint answers [] (not null) and a new token.
	tok := r.tok
	res = r.mustCP()
	if res.Operations == nil || len(res.Operations) != 0 || res.Token == tok {
		t.Fatalf("empty checkpoint %+v", res)
	}
	// Closing the execution by checkpoint answers no token and removes its
	// timers.
	if res := r.mustCP(payload(up("e", TypeExecution, ActionSucceed), `"done"`)); res.Token != "" {
		t.Fatalf("a closing checkpoint answered token %q", res.Token)
	}
	if ex := r.exec(); ex.Status != Succeeded || *ex.Result != `"done"` {
		t.Fatalf("execution %+v", ex)
	}
	if _, ok, _ := e.s.NextDue(ctx); ok {
		t.Fatal("a closed execution kept timers")
	}
}
