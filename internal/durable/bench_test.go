package durable

import (
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

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
