package durable

import (
	"errors"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/lambdad/lambdad/internal/spec"
	"github.com/lambdad/lambdad/internal/store"
)

var allBuckets = []string{bExec, bOp, bOpID, bEvent, bName, bByFn, bClient, bExpire, bRunning, bDue, bDueBy}

// dump is every key and value of the durable buckets.
func dump(t *testing.T, st store.Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	if err := keyed(st).View(ctx, func(tx store.Tx) error {
		for _, b := range allBuckets {
			if err := tx.Scan(b, "", "", func(k string, v []byte) bool {
				out[b+" "+k] = string(v)
				return true
			}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestNoCommitNoTrace is the kill -9 rule for every write of the service:
// run through a store whose transactions do all their work and then fail
// (a crash before the commit), each leaves the bbolt file, reopened,
// exactly as it was.
func TestNoCommitNoTrace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	st, err := store.OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, st)
	r := e.run("a")
	r.mustCP(waitFor("w", 5), up("cb", TypeCallback, ActionStart), up("s", TypeStep, ActionStart), retryIn(up("s", TypeStep, ActionRetry), 1))
	cb := callbackID(t, r, "cb")
	done := e.run("b")
	done.finish(`{"Status":"SUCCEEDED","Result":"1"}`)
	before := dump(t, st)
	c := New(Config{Store: failAfter{st}, Now: func() time.Time { return e.now.Add(time.Hour * 24 * 2) }})
	writes := map[string]func() error{
		"start": func() error {
			_, err := c.Start(ctx, StartInput{FunctionARN: fnARN, Version: "1", Name: "new", Payload: "{}", ExecutionTimeout: 9})
			return err
		},
		"checkpoint": func() error {
			_, err := c.Checkpoint(ctx, r.arn, r.tok, "ct", []spec.OperationUpdate{up("w", TypeWait, ActionCancel), payload(up("x", TypeExecution, ActionSucceed), "1")})
			return err
		},
		"begin invocation": func() error { _, err := c.BeginInvocation(ctx, r.arn); return err },
		"finish": func() error {
			_, err := c.Finish(ctx, r.arn, Outcome{Invocation: r.inv, Output: []byte(`{"Status":"FAILED"}`)})
			return err
		},
		"stop":               func() error { _, err := c.Stop(ctx, r.arn, nil); return err },
		"callback success":   func() error { _, err := c.CallbackSuccess(ctx, cb, []byte("1")); return err },
		"callback failure":   func() error { _, err := c.CallbackFailure(ctx, cb, nil); return err },
		"callback heartbeat": func() error { return c.CallbackHeartbeat(ctx, cb) },
		"fire":               func() error { _, err := c.Fire(ctx, e.now.Add(time.Hour*24*2)); return err },
		"purge":              func() error { _, err := c.Purge(ctx, e.now.Add(time.Hour*24*2)); return err },
	}
	for name, write := range writes {
		if err := write(); !errors.Is(err, errCrash) {
			t.Fatalf("%s: %v, want the crash", name, err)
		}
	}
	st.Close()
	if st, err = store.OpenBolt(path); err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if after := dump(t, st); !reflect.DeepEqual(after, before) {
		t.Fatal("an uncommitted write left a trace in the file")
	}
	// failAfter fails only a transaction whose work succeeded, so each
	// write above did all its work. On the real store they commit: the
	// timers fire, and the ended execution's retention is over.
	e2 := New(Config{Store: st, Now: func() time.Time { return e.now.Add(time.Hour * 24 * 2) }})
	if _, err := e2.Fire(ctx, e.now.Add(time.Hour*24*2)); err != nil {
		t.Fatal(err)
	}
	if n, err := e2.Purge(ctx, e.now.Add(time.Hour*24*2)); err != nil || n != 1 {
		t.Fatalf("purge %d %v", n, err)
	}
}

// TestRestartReplaysRunningExecutions: after a kill -9, an execution whose
// invocation never finished is listed by Pending, and its replay's token
// makes the dead invocation's token stale; an acknowledged step stays done.
func TestRestartReplaysRunningExecutions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	st, err := store.OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, st)
	r := e.run("a")
	r.mustCP(up("s", TypeStep, ActionStart), payload(up("s", TypeStep, ActionSucceed), `"done"`))
	waiting := e.run("b")
	waiting.mustCP(waitFor("w", 60))
	waiting.finish(`{"Status":"PENDING"}`)
	dead := r.tok
	st.Close() // the process dies: nothing else is written

	st, err = store.OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	e = newEnv(t, st)
	r.e, waiting.e = e, e
	pending, err := e.s.Pending(ctx)
	if err != nil || !reflect.DeepEqual(pending, []string{r.arn}) {
		t.Fatalf("pending %v %v", pending, err)
	}
	in := r.reinvoke()
	if _, err := e.s.Checkpoint(ctx, r.arn, dead, "", nil); err == nil {
		t.Fatal("the dead invocation's token still works")
	}
	var step *spec.Operation
	for i := range in.InitialExecutionState.Operations {
		if o := &in.InitialExecutionState.Operations[i]; *o.Id == "s" {
			step = o
		}
	}
	if step == nil || *step.Status != OpSucceeded || *step.StepDetails.Result != `"done"` {
		t.Fatalf("the acknowledged step is not in the replay: %+v", step)
	}
	// The waiting one resumes from the index at its time.
	if at, ok, _ := e.s.NextDue(ctx); !ok || !at.Equal(e.now.Add(60*time.Second)) {
		t.Fatalf("next due %v %v", at, ok)
	}
}
