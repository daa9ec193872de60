package durable

import (
	"context"
	"encoding/json"
	"time"

	"github.com/lambdad/lambdad/internal/fault"
)

// Pausing (PauseDurableExecution, ResumeDurableExecution; docs/durable.md
// 1.10). A paused execution stays RUNNING in its record (Closed is false:
// its operations, callbacks and timers go on, as AWS documents "pending
// operations such as waits and callbacks continue to complete"); Paused
// says no invocation may begin. What became ready meanwhile sets
// NeedsInvoke and Owed without waking anyone; Resume wakes it.

// The statuses a paused execution shows [M: aws-sdk-go-v2 v1.118
// types.ExecutionStatus].
const (
	Pausing = "PAUSING"
	Paused  = "PAUSED"
)

// History events of a pause [aws-sdk-go-v2 v1.118 types.EventType].
const (
	EvExecutionPaused  = "ExecutionPaused"
	EvExecutionResumed = "ExecutionResumed"
)

// maxPausedLife is how long after its start an execution whose timeout is
// paused still times out: "366 days after it started" [API].
const maxPausedLife = 366 * 24 * time.Hour

// PauseState is a pause asked of a running execution.
type PauseState struct {
	// Requested is when PauseDurableExecution was called.
	Requested time.Time `json:"at"`
	// Effective is when the execution became PAUSED: at once when no
	// invocation ran, else when it ended (zero while PAUSING).
	Effective     time.Time `json:"ef,omitzero"`
	TimeoutPaused bool      `json:"tp,omitempty"`
	Reason        *string   `json:"r,omitempty"`
	// ClientToken makes a repeated pause a success [API].
	ClientToken string `json:"ct,omitempty"`
}

// Shown is the status the API shows: PAUSING while a paused execution's
// invocation still runs, PAUSED after it, else the record's.
func (e *Execution) Shown() string {
	switch {
	case e.Status != Running || e.Paused == nil:
		return e.Status
	case e.Paused.Effective.IsZero():
		return Pausing
	}
	return Paused
}

// deadline is when the execution times out: its ExecutionTimeout after its
// start, extended by the time it spent paused with its timeout paused, and
// never past 366 days after its start [API]. Zero for none.
func (e *Execution) deadline() time.Time {
	if e.TimeoutSeconds <= 0 {
		return time.Time{}
	}
	d := e.Started.Add(time.Duration(e.TimeoutSeconds)*time.Second + e.Extended)
	if limit := e.Started.Add(maxPausedLife); d.After(limit) {
		d = limit
	}
	return d
}

// expectedTimeout is GetDurableExecution's ExpectedExecutionTimeoutTimestamp:
// "366 days after the start time" while paused with the timeout paused
// [API], else the deadline.
func (e *Execution) expectedTimeout() time.Time {
	if e.Paused != nil && e.Paused.TimeoutPaused && e.TimeoutSeconds > 0 {
		return e.Started.Add(maxPausedLife)
	}
	return e.deadline()
}

// PauseInput is PauseDurableExecution's request.
type PauseInput struct {
	ClientToken string
	Reason      *string
	// TimeoutPaused is ExecutionTimeoutPaused; nil is its default, true.
	TimeoutPaused *bool
}

// ResumeInput is ResumeDurableExecution's request.
type ResumeInput struct {
	ClientToken string
	Reason      *string
}

// Messages of refused pauses and resumes: lambdad's words [?] (no
// recorded AWS answer found); the model lists ResourceConflictException
// for both operations.
const (
	msgPauseClosed   = "The durable execution %s is %s: only a running execution can be paused."
	msgPauseTwice    = "The durable execution %s is already %s."
	msgResumeClosed  = "The durable execution %s is %s: only a paused execution can be resumed."
	msgResumeRunning = "The durable execution %s is not paused."
)

// Pause is PauseDurableExecution. With no invocation running the execution
// is PAUSED now; with one, PAUSING until it ends: lambdad lets it run to
// its end, its checkpoints landing, where AWS documents the change "when
// the invocation reaches its next checkpoint" (docs/durable.md 1.10). A
// paused timeout is moved to 366 days after the start; Resume moves it back,
// extended by the time paused.
func (s *Service) Pause(ctx context.Context, arn string, in PauseInput) error {
	err := s.update(ctx, arn, func(t *txn) error {
		ex := t.ex
		if ex.Closed() {
			return fault.Conflictf(resource, msgPauseClosed, arn, ex.Status)
		}
		if ex.Paused != nil {
			if in.ClientToken != "" && in.ClientToken == ex.Paused.ClientToken {
				return nil
			}
			return fault.Conflictf(resource, msgPauseTwice, arn, ex.Shown())
		}
		p := &PauseState{Requested: t.now, TimeoutPaused: in.TimeoutPaused == nil || *in.TimeoutPaused,
			Reason: in.Reason, ClientToken: in.ClientToken}
		ex.Paused = p
		if p.TimeoutPaused && ex.TimeoutSeconds > 0 {
			if err := Schedule(t.tx, Timer{Exec: ex.ID, Kind: timerTimeout, At: ex.Started.Add(maxPausedLife)}); err != nil {
				return err
			}
		}
		if ex.InvocationStarted.IsZero() {
			return t.settlePause()
		}
		return nil
	})
	if err == nil {
		s.notify()
	}
	return err
}

// settlePause makes a pausing execution PAUSED, with its event, once no
// invocation runs.
func (t *txn) settlePause() error {
	p := t.ex.Paused
	if p == nil || !p.Effective.IsZero() {
		return nil
	}
	p.Effective = t.now
	return t.event(nil, Event{Type: EvExecutionPaused, Payload: p.Reason, PauseRequested: p.Requested, TimeoutPaused: &p.TimeoutPaused})
}

// Resume is ResumeDurableExecution. It answers the execution's ARN when it
// needs an invocation now (something became ready while it was paused, or
// the pause interrupted a replay), "" otherwise. Resuming a PAUSING
// execution cancels the pause; its invocation goes on [API].
func (s *Service) Resume(ctx context.Context, arn string, in ResumeInput) (string, error) {
	wake := ""
	err := s.update(ctx, arn, func(t *txn) error {
		wake = ""
		ex := t.ex
		if ex.Closed() {
			return fault.Conflictf(resource, msgResumeClosed, arn, ex.Status)
		}
		p := ex.Paused
		if p == nil {
			if in.ClientToken != "" && in.ClientToken == ex.ResumeToken {
				return nil
			}
			return fault.Conflictf(resource, msgResumeRunning, arn)
		}
		ex.Paused, ex.ResumeToken = nil, in.ClientToken
		if p.TimeoutPaused && ex.TimeoutSeconds > 0 {
			ex.Extended += t.now.Sub(p.Requested)
			if err := Schedule(t.tx, Timer{Exec: ex.ID, Kind: timerTimeout, At: ex.deadline()}); err != nil {
				return err
			}
		}
		if p.Effective.IsZero() {
			// [?] whether AWS records a cancelled pause: lambdad does not.
			return nil
		}
		if ex.Owed && ex.InvocationStarted.IsZero() {
			wake, ex.Owed = ex.ARN, false
		}
		return t.event(nil, Event{Type: EvExecutionResumed, Payload: in.Reason, ResumeRequested: t.now})
	})
	if err == nil {
		s.notify()
	}
	return wake, err
}

// msgPausedCheckpoint is lambdad's words [?] for a checkpoint refused
// because its execution is pausing.
const msgPausedCheckpoint = "The durable execution is paused."

// pausedCheckpoint refuses, applying nothing, the checkpoint of an
// invocation that runs while its execution is pausing: AWS documents the
// execution PAUSING "until the invocation reaches its next checkpoint",
// then PAUSED, and on resume replays "if the pause interrupted an
// invocation". A 5xx is what the SDKs treat as an invocation error (they
// retry the call, then fail the invocation, never the execution: docs/
// durable.md 1.4), so the invocation ends, Finish makes the execution
// PAUSED and owes it the replay Resume starts, from its last checkpoint.
// The status and wording AWS uses for this are not known [?].
func pausedCheckpoint() error { return fault.New(fault.Unavailable, msgPausedCheckpoint) }

// pauseJSON stores PauseState's times as stamps (records.go).
type (
	pausePlain PauseState
	pauseJSON  struct {
		pausePlain
		Requested stamp `json:"at,omitzero"`
		Effective stamp `json:"ef,omitzero"`
	}
)

func (p PauseState) MarshalJSON() ([]byte, error) {
	return json.Marshal(pauseJSON{pausePlain(p), stamp(p.Requested), stamp(p.Effective)})
}

func (p *PauseState) UnmarshalJSON(raw []byte) error {
	var r pauseJSON
	if err := json.Unmarshal(raw, &r); err != nil {
		return err
	}
	*p = PauseState(r.pausePlain)
	p.Requested, p.Effective = time.Time(r.Requested), time.Time(r.Effective)
	return nil
}
