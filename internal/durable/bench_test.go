package durable

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lambdad/lambdad/internal/spec"
	"github.com/lambdad/lambdad/internal/store"
)

func benchStore(b *testing.B) store.Store {
	st, err := store.OpenBolt(filepath.Join(b.TempDir(), "db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}

// BenchmarkCheckpoint: one execution checkpointing a step (START and
// SUCCEED) at a time, on bbolt with its fsync.
func BenchmarkCheckpoint(b *testing.B) {
	s := New(Config{Store: benchStore(b)})
	st, err := s.Start(ctx, StartInput{FunctionARN: fnARN, Version: "1", Payload: "{}"})
	if err != nil {
		b.Fatal(err)
	}
	tok := st.Input.CheckpointToken
	i := 0
	for b.Loop() {
		id := fmt.Sprintf("s%d", i)
		i++
		res, err := s.Checkpoint(ctx, st.Execution.ARN, tok, "", []spec.OperationUpdate{up(id, TypeStep, ActionStart), payload(up(id, TypeStep, ActionSucceed), `"r"`)})
		if err != nil {
			b.Fatal(err)
		}
		tok = res.Token
	}
}

// BenchmarkCheckpoint64: 64 executions checkpointing at once.
func BenchmarkCheckpoint64(b *testing.B) {
	s := New(Config{Store: benchStore(b)})
	type exec struct{ arn, tok string }
	execs := make(chan *exec, 64)
	for range 64 {
		st, err := s.Start(ctx, StartInput{FunctionARN: fnARN, Version: "1", Payload: "{}"})
		if err != nil {
			b.Fatal(err)
		}
		execs <- &exec{st.Execution.ARN, st.Input.CheckpointToken}
	}
	var n atomic.Int64
	b.SetParallelism(64)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			x := <-execs
			id := fmt.Sprintf("s%d", n.Add(1))
			res, err := s.Checkpoint(ctx, x.arn, x.tok, "", []spec.OperationUpdate{up(id, TypeStep, ActionStart), payload(up(id, TypeStep, ActionSucceed), `"r"`)})
			if err != nil {
				b.Error(err)
				return
			}
			x.tok = res.Token
			execs <- x
		}
	})
}

// BenchmarkWakeLatency1000: 1,000 executions each wait 1 s (their ends
// spread over the time it takes to start them, while the scheduler runs);
// the scheduler's lateness in handing each to the invoker after its wait's
// scheduled end, on bbolt: p50 and p99 reported.
func BenchmarkWakeLatency1000(b *testing.B) {
	const n = 1000
	var all []time.Duration
	for b.Loop() {
		s := New(Config{Store: benchStore(b)})
		var mu sync.Mutex
		due := map[string]time.Time{}
		woke := map[string]time.Time{}
		done := make(chan struct{})
		rctx, cancel := context.WithCancel(ctx)
		go s.Run(rctx, func(arn string) {
			mu.Lock()
			defer mu.Unlock()
			woke[arn] = time.Now()
			if len(woke) == n {
				close(done)
			}
		})
		for range n {
			st, err := s.Start(ctx, StartInput{FunctionARN: fnARN, Version: "1", Payload: "{}"})
			if err != nil {
				b.Fatal(err)
			}
			res, err := s.Checkpoint(ctx, st.Execution.ARN, st.Input.CheckpointToken, "", []spec.OperationUpdate{waitFor("w", 1)})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := s.Finish(ctx, st.Execution.ARN, Outcome{Invocation: st.Input.Invocation(), Output: []byte(`{"Status":"PENDING"}`)}); err != nil {
				b.Fatal(err)
			}
			for _, op := range res.Operations {
				if op.Type == TypeWait {
					mu.Lock()
					due[st.Execution.ARN] = op.Wait.End
					mu.Unlock()
				}
			}
		}
		<-done
		cancel()
		for arn, at := range woke {
			all = append(all, at.Sub(due[arn]))
		}
	}
	slices.Sort(all)
	b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkRestart10000: what a lambdad start reads of 10,000 executions
// waiting on timers, on bbolt reopened: Pending, ChainedStarted and the
// scheduler's first NextDue.
func BenchmarkRestart10000(b *testing.B) {
	const n = 10000
	path := filepath.Join(b.TempDir(), "db")
	st, err := store.OpenBolt(path)
	if err != nil {
		b.Fatal(err)
	}
	s := New(Config{Store: st})
	var wg sync.WaitGroup
	work := make(chan struct{}, n)
	for range n {
		work <- struct{}{}
	}
	close(work)
	for range 64 {
		wg.Go(func() {
			for range work {
				x, err := s.Start(ctx, StartInput{FunctionARN: fnARN, Version: "1", Payload: `{"order":1}`})
				if err == nil {
					_, err = s.Checkpoint(ctx, x.Execution.ARN, x.Input.CheckpointToken, "", []spec.OperationUpdate{
						up("s", TypeStep, ActionStart), payload(up("s", TypeStep, ActionSucceed), `"r"`), waitFor("w", 3600)})
				}
				if err == nil {
					_, err = s.Finish(ctx, x.Execution.ARN, Outcome{Invocation: x.Input.Invocation(), Output: []byte(`{"Status":"PENDING"}`)})
				}
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	st.Close()
	for b.Loop() {
		st, err := store.OpenBolt(path)
		if err != nil {
			b.Fatal(err)
		}
		s := New(Config{Store: st})
		pending, err := s.Pending(ctx)
		if err != nil || len(pending) != 0 {
			b.Fatal(len(pending), err)
		}
		if _, err := s.ChainedStarted(ctx); err != nil {
			b.Fatal(err)
		}
		if _, ok, err := s.NextDue(ctx); err != nil || !ok {
			b.Fatal(ok, err)
		}
		st.Close()
	}
}
