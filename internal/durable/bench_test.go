package durable

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
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
	waiting(b, New(Config{Store: st}), n)
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

// waiting starts n executions on s, each with a step done and an hour's
// wait pending, their invocations finished PENDING: executions waiting on
// timers, 64 at a time.
func waiting(b *testing.B, s *Service, n int) {
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
}

// BenchmarkMemory10000: what 10,000 executions waiting on timers add to
// the process that holds them (the scheduler running, as in lambdad), after
// a GC that returns freed memory: VmRSS, its anonymous and file-backed
// (bbolt's map) parts, and the Go heap in use; then what a restart with them
// pending takes (reopen, Pending, ChainedStarted, the scheduler's first
// NextDue) and adds. Run it alone (-benchtime=1x): RSS is the process's.
func BenchmarkMemory10000(b *testing.B) {
	const n = 10000
	for b.Loop() {
		path := filepath.Join(b.TempDir(), "db")
		st, err := store.OpenBolt(path)
		if err != nil {
			b.Fatal(err)
		}
		s := New(Config{Store: st})
		rctx, cancel := context.WithCancel(ctx)
		ran := make(chan struct{})
		go func() { s.Run(rctx, func(string) {}); close(ran) }()
		before := memNow(b)
		waiting(b, s, n)
		after := memNow(b)
		cancel()
		<-ran
		st.Close()

		t0 := time.Now()
		st, err = store.OpenBolt(path)
		if err != nil {
			b.Fatal(err)
		}
		s = New(Config{Store: st})
		if p, err := s.Pending(ctx); err != nil || len(p) != 0 {
			b.Fatal(len(p), err)
		}
		if _, err := s.ChainedStarted(ctx); err != nil {
			b.Fatal(err)
		}
		if _, ok, err := s.NextDue(ctx); err != nil || !ok {
			b.Fatal(ok, err)
		}
		restart := time.Since(t0)
		restarted := memNow(b)
		st.Close()

		mb := func(a, b uint64) float64 { return (float64(a) - float64(b)) / (1 << 20) }
		b.ReportMetric(mb(after.rss, before.rss), "rss-MB")
		b.ReportMetric(mb(after.anon, before.anon), "anon-MB")
		b.ReportMetric(mb(after.file, before.file), "file-MB")
		b.ReportMetric(mb(after.heap, before.heap), "heap-MB")
		b.ReportMetric(mb(restarted.rss, before.rss), "restarted-rss-MB")
		b.ReportMetric(mb(restarted.anon, before.anon), "restarted-anon-MB")
		b.ReportMetric(restart.Seconds(), "restart-s")
	}
}

type mem struct{ rss, anon, file, heap uint64 }

// memNow reads the process's memory after a GC that returns what it
// freed to the system.
func memNow(b *testing.B) mem {
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m := mem{heap: ms.HeapInuse}
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Skip("no /proc/self/status:", err)
	}
	for line := range strings.Lines(string(raw)) {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseUint(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			m.rss = kb << 10
		case "RssAnon:":
			m.anon = kb << 10
		case "RssFile:":
			m.file = kb << 10
		}
	}
	return m
}
