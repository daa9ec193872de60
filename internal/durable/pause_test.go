package durable

import (
	"testing"
	"time"

	"github.com/lambdad/lambdad/internal/fault"
)

// TestPauseTimeout: a pause with its timeout paused (the default) moves the
// execution's timeout to 366 days after its start, and the resume puts it
// back extended by the time paused; with ExecutionTimeoutPaused false the
// timeout runs on while paused.
func TestPauseTimeout(t *testing.T) {
	e := newEnv(t, testStore(t))
	r := e.run("a") // ExecutionTimeout 3600 s
	r.mustCP(waitFor("w", 7200))
	r.finish(`{"Status":"PENDING"}`)
	start := r.exec().Started
	if err := e.s.Pause(ctx, r.arn, PauseInput{}); err != nil {
		t.Fatal(err)
	}
	if ex := r.exec(); ex.Shown() != Paused || !ex.Paused.TimeoutPaused {
		t.Fatalf("%s %+v", ex.Shown(), ex.Paused)
	}
	// Paused for two hours: past the one-hour timeout, nothing times out.
	e.now = e.now.Add(2 * time.Hour)
	if wake, err := e.s.Fire(ctx, e.now); err != nil || len(wake) != 0 {
		t.Fatalf("a timer woke a paused execution: %v %v", wake, err)
	}
	if ex := r.exec(); ex.Status != Running {
		t.Fatalf("timed out while paused: %s", ex.Status)
	}
	// The wait (7200 s) ended meanwhile: recorded, nothing woken; the
	// resume owes the replay.
	if op := r.op("w"); op.Status != OpSucceeded {
		t.Fatalf("wait %s", op.Status)
	}
	wake, err := e.s.Resume(ctx, r.arn, ResumeInput{})
	if err != nil || wake != r.arn {
		t.Fatalf("resume: %q %v", wake, err)
	}
	if got, want := r.exec().deadline(), start.Add(3*time.Hour); !got.Equal(want) {
		t.Fatalf("deadline %v, want %v", got, want)
	}
	e.now = start.Add(3*time.Hour - time.Second)
	e.s.Fire(ctx, e.now)
	if ex := r.exec(); ex.Status != Running {
		t.Fatalf("timed out early: %s", ex.Status)
	}
	e.now = start.Add(3 * time.Hour)
	e.s.Fire(ctx, e.now)
	if ex := r.exec(); ex.Status != TimedOut {
		t.Fatalf("not timed out at the extended deadline: %s", ex.Status)
	}

	// The timeout not paused runs on.
	q := e.run("b")
	q.mustCP(waitFor("w", 7200))
	q.finish(`{"Status":"PENDING"}`)
	if err := e.s.Pause(ctx, q.arn, PauseInput{TimeoutPaused: ptr(false)}); err != nil {
		t.Fatal(err)
	}
	e.now = e.now.Add(time.Hour)
	e.s.Fire(ctx, e.now)
	if ex := q.exec(); ex.Status != TimedOut || ex.Paused != nil {
		t.Fatalf("%s %+v", ex.Status, ex.Paused)
	}
}

// TestPauseRefusals: the states that refuse a pause or a resume, the client
// tokens that make a repeat a success, and a replay asked for while paused.
func TestPauseRefusals(t *testing.T) {
	e := newEnv(t, testStore(t))
	r := e.run("a")
	// PAUSING while the invocation runs; its next checkpoint is refused,
	// applying nothing.
	if err := e.s.Pause(ctx, r.arn, PauseInput{ClientToken: "p1"}); err != nil {
		t.Fatal(err)
	}
	if s := r.exec().Shown(); s != Pausing {
		t.Fatalf("%s, want PAUSING", s)
	}
	_, err := r.cp(up("s", TypeStep, ActionStart))
	wantFault(t, err, fault.Unavailable, msgPausedCheckpoint)
	if r.op("s") != nil {
		t.Fatal("a paused checkpoint was applied")
	}
	if err := e.s.Pause(ctx, r.arn, PauseInput{ClientToken: "p1"}); err != nil {
		t.Fatalf("the same client token: %v", err)
	}
	err = e.s.Pause(ctx, r.arn, PauseInput{ClientToken: "p2"})
	wantFault(t, err, fault.Conflict, "The durable execution "+r.arn+" is already PAUSING.")
	// The invocation fails (the SDK's answer to the refusal): PAUSED, and
	// no retry is asked for.
	f, err := e.s.Finish(ctx, r.arn, Outcome{Invocation: r.inv, Err: &ErrorObject{Message: ptr("503")}})
	if err != nil || f.Invoke {
		t.Fatalf("finish: %+v %v", f, err)
	}
	if s := r.exec().Shown(); s != Paused {
		t.Fatalf("%s, want PAUSED", s)
	}
	// A replay asked for while paused is refused and owed.
	_, err = e.s.BeginInvocation(ctx, r.arn)
	wantFault(t, err, fault.Conflict, "The durable execution "+r.arn+" is already PAUSED.")
	if wake, err := e.s.Resume(ctx, r.arn, ResumeInput{ClientToken: "r1"}); err != nil || wake != r.arn {
		t.Fatalf("resume: %q %v", wake, err)
	}
	if wake, err := e.s.Resume(ctx, r.arn, ResumeInput{ClientToken: "r1"}); err != nil || wake != "" {
		t.Fatalf("the same client token: %q %v", wake, err)
	}
	_, err = e.s.Resume(ctx, r.arn, ResumeInput{})
	wantFault(t, err, fault.Conflict, "The durable execution "+r.arn+" is not paused.")
	r.reinvoke()
	r.mustCP(up("s", TypeStep, ActionStart))

	// Resuming a PAUSING execution cancels the pause: its invocation goes
	// on, nothing is woken, no event written.
	if err := e.s.Pause(ctx, r.arn, PauseInput{}); err != nil {
		t.Fatal(err)
	}
	events := r.exec().Events
	if wake, err := e.s.Resume(ctx, r.arn, ResumeInput{}); err != nil || wake != "" {
		t.Fatalf("resume while pausing: %q %v", wake, err)
	}
	if r.exec().Events != events {
		t.Fatal("a cancelled pause wrote events")
	}
	r.mustCP()

	if _, err := e.s.Stop(ctx, r.arn, nil); err != nil {
		t.Fatal(err)
	}
	err = e.s.Pause(ctx, r.arn, PauseInput{})
	wantFault(t, err, fault.Conflict, "The durable execution "+r.arn+" is STOPPED: only a running execution can be paused.")
	_, err = e.s.Resume(ctx, r.arn, ResumeInput{})
	wantFault(t, err, fault.Conflict, "The durable execution "+r.arn+" is STOPPED: only a paused execution can be resumed.")
	err = e.s.Pause(ctx, r.arn+"x", PauseInput{})
	wantFault(t, err, fault.NotFound, "Durable execution not found: "+r.arn+"x")
}

// TestPauseWakesOnce: a replay handed out before the pause (its
// BeginInvocation not yet run) is not handed out again by the resume, which
// would start two invocations, the first one's token then stale.
func TestPauseWakesOnce(t *testing.T) {
	e := newEnv(t, testStore(t))
	r := e.run("a")
	r.mustCP(waitFor("w", 10))
	r.finish(`{"Status":"PENDING"}`)
	e.now = e.now.Add(10 * time.Second)
	if wake, err := e.s.Fire(ctx, e.now); err != nil || len(wake) != 1 {
		t.Fatalf("the wait woke %v %v", wake, err)
	}
	// Paused and resumed before the handed-out replay begins.
	if err := e.s.Pause(ctx, r.arn, PauseInput{}); err != nil {
		t.Fatal(err)
	}
	if wake, err := e.s.Resume(ctx, r.arn, ResumeInput{}); err != nil || wake != "" {
		t.Fatalf("resume woke %q %v: the replay was handed out already", wake, err)
	}
	r.reinvoke()
	// Handed out, then refused while paused: now the resume owes it.
	r.mustCP(waitFor("w2", 10))
	r.finish(`{"Status":"PENDING"}`)
	e.now = e.now.Add(10 * time.Second)
	if wake, err := e.s.Fire(ctx, e.now); err != nil || len(wake) != 1 {
		t.Fatalf("the wait woke %v %v", wake, err)
	}
	if err := e.s.Pause(ctx, r.arn, PauseInput{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.BeginInvocation(ctx, r.arn); !fault.Is(err, fault.Conflict) {
		t.Fatalf("a replay began while paused: %v", err)
	}
	if wake, err := e.s.Resume(ctx, r.arn, ResumeInput{}); err != nil || wake != r.arn {
		t.Fatalf("resume woke %q %v", wake, err)
	}
}
