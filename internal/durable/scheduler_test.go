package durable

import (
	"context"
	"testing"
	"time"

	"github.com/lambdad/lambdad/internal/spec"
	"github.com/lambdad/lambdad/internal/store"
)

// TestRunWakesWaitingExecutions runs the scheduler on the real clock: a
// wait of one second set while Run sleeps with nothing due (so only the
// poke after the checkpoint can shorten its sleep) wakes the execution.
func TestRunWakesWaitingExecutions(t *testing.T) {
	s := New(Config{Store: store.NewMemory()})
	c, cancel := context.WithCancel(context.Background())
	woke := make(chan string, 4)
	done := make(chan error, 1)
	go func() { done <- s.Run(c, func(arn string) { woke <- arn }) }()
	st, err := s.Start(c, StartInput{FunctionARN: fnARN, Version: "1", Payload: "{}"})
	if err != nil {
		t.Fatal(err)
	}
	arn := st.Execution.ARN
	if _, err := s.Checkpoint(c, arn, st.Input.CheckpointToken, "", []spec.OperationUpdate{waitFor("w", 1)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Finish(c, arn, Outcome{Invocation: st.Input.Invocation(), Output: []byte(`{"Status":"PENDING"}`)}); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-woke:
		if got != arn {
			t.Fatalf("woke %s", got)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the wait never woke the execution")
	}
	ex, _ := s.Get(c, arn)
	if !ex.NeedsInvoke {
		t.Fatal("woken but not marked")
	}
	cancel()
	if err := <-done; err != context.Canceled {
		t.Fatalf("Run returned %v", err)
	}
}
