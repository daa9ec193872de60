package cluster

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/lambdad/lambdad/internal/testkit"
)

// BenchmarkAcquireWarm is an acquisition and its release with local share,
// through the scope's handle:
// no database round trip (compare BenchmarkSingleNodeCounter, the
// single-node admission of internal/invoke).
func BenchmarkAcquireWarm(b *testing.B) {
	ctx := context.Background()
	s := warmScope(b)
	for b.Loop() {
		r, ok, err := s.TryAcquire(ctx, 1000)
		if !ok || err != nil {
			b.Fatal(ok, err)
		}
		r()
	}
}

// warmScope is a scope of a node that holds share of it already, with
// allocations reported from here on.
func warmScope(b *testing.B) *Scope {
	n := join(b, testkit.Postgres(b), "a")
	s := n.Limiter().Scope("fn")
	r, err := s.Acquire(context.Background(), 1000)
	if err != nil {
		b.Fatal(err)
	}
	r()
	b.ReportAllocs()
	return s
}

// BenchmarkAcquireWarmParallel is BenchmarkAcquireWarm from every core.
func BenchmarkAcquireWarmParallel(b *testing.B) {
	ctx := context.Background()
	s := warmScope(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r, ok, err := s.TryAcquire(ctx, 1000)
			if !ok || err != nil {
				b.Error(ok, err)
				return
			}
			r()
		}
	})
}

// BenchmarkSingleNodeCounter is what internal/invoke's admit does per
// limit: an atomic add checked against the limit, and one to release.
func BenchmarkSingleNodeCounter(b *testing.B) {
	var c atomic.Int32
	limit := int32(1000)
	b.ReportAllocs()
	for b.Loop() {
		if c.Add(1) > limit {
			c.Add(-1)
			b.Fatal("over")
		}
		c.Add(-1)
	}
}

// BenchmarkAcquireCold is an acquisition that must take share from the
// database, and the give-back after it: what a contended scope costs.
func BenchmarkAcquireCold(b *testing.B) {
	n := join(b, testkit.Postgres(b), "a")
	ctx := context.Background()
	l := n.Limiter()
	s := l.Scope("fn")
	for b.Loop() {
		r, ok, err := l.TryAcquire(ctx, "fn", 1)
		if !ok || err != nil {
			b.Fatal(ok, err)
		}
		r()
		s.mu.Lock()
		l.giveBack(ctx, s, 0)
		s.mu.Unlock()
	}
}
