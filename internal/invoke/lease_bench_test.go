package invoke_test

import (
	"context"
	"testing"
	"time"

	"github.com/lambdad/lambdad/internal/api/apitest"
	"github.com/lambdad/lambdad/internal/invoke"
)

// BenchmarkEventQueue is Event invokes through the queue, from Invoke to
// the end of their run, 64 queued at a time: the cost of the queue's store
// work (claim, lease, end) around warm invocations.
func BenchmarkEventQueue(b *testing.B) {
	// local: the embedded store's in-memory claims; leases: a shared
	// store's, written with each claim, renewal and end.
	b.Run("local", func(b *testing.B) { benchmarkEventQueue(b, false) })
	b.Run("leases", func(b *testing.B) { benchmarkEventQueue(b, true) })
}

func benchmarkEventQueue(b *testing.B, shared bool) {
	env := apitest.New(b, apitest.Options{Shared: shared})
	env.Python(b, "noop", "def handler(event, context):\n    return 1\n")
	ctx := context.Background()
	ref := apitest.Ref("noop", "")
	ran := env.Invoke.Counts().Invocations.Load
	wait := func(n int64) {
		deadline := time.Now().Add(time.Minute)
		for ran() < n {
			if time.Now().After(deadline) {
				b.Fatalf("%d of %d events ran", ran(), n)
			}
			time.Sleep(time.Millisecond)
		}
	}
	// Warm environments first.
	for range 32 {
		if _, err := env.Invoke.Invoke(ctx, ref, []byte(`{}`), invoke.Options{Type: invoke.Event}); err != nil {
			b.Fatal(err)
		}
	}
	wait(32)
	start := ran()
	b.ResetTimer()
	for i := range b.N {
		if _, err := env.Invoke.Invoke(ctx, ref, []byte(`{}`), invoke.Options{Type: invoke.Event}); err != nil {
			b.Fatal(err)
		}
		if i%64 == 63 {
			wait(start + int64(i) + 1 - 64)
		}
	}
	wait(start + int64(b.N))
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
