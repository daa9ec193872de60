package store

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/lambdad/lambdad/internal/testkit"
)

func benchPostgres(b *testing.B) *Postgres {
	b.Helper()
	p, err := OpenPostgres(context.Background(), testkit.Postgres(b), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Close() })
	return p
}

// p50 runs do b.N times and reports the median time of one call.
func p50(b *testing.B, do func() error) {
	b.Helper()
	times := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		if err := do(); err != nil {
			b.Fatal(err)
		}
		times = append(times, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Nanoseconds()), "p50-ns")
}

// BenchmarkPostgresViewGet is a read-only transaction of one Get.
func BenchmarkPostgresViewGet(b *testing.B) {
	p := benchPostgres(b)
	ctx := context.Background()
	must(b, p.Update(ctx, func(tx Tx) error { return tx.Put("b", "k", make([]byte, 2000)) }))
	p50(b, func() error {
		return p.View(ctx, func(tx Tx) error {
			if tx.Get("b", "k") == nil {
				b.Fatal("missing")
			}
			return nil
		})
	})
}

// BenchmarkPostgresUpdate is a read-modify-write of one record.
func BenchmarkPostgresUpdate(b *testing.B) {
	p := benchPostgres(b)
	ctx := context.Background()
	p50(b, func() error {
		return p.Update(ctx, func(tx Tx) error {
			v := tx.Get("b", "k")
			return tx.Put("b", "k", append(v[:len(v):len(v)], 'x')[:min(len(v)+1, 100)])
		})
	})
}

// BenchmarkPostgresScanPage reads a page of 50 keys from the middle of a
// bucket: an index range scan, the same cost with 100 keys or 100,000.
func BenchmarkPostgresScanPage(b *testing.B) {
	for _, n := range []int{100, 100000} {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			p := benchPostgres(b)
			ctx := context.Background()
			_, err := p.pool.Exec(ctx, `INSERT INTO lambdad_kv (bucket, key, val)
				SELECT 'functions', convert_to('acct/region/fn-' || lpad(i::text, 6, '0'), 'UTF8'), convert_to(repeat('x', 500), 'UTF8')
				FROM generate_series(0, $1 - 1) i`, n)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := p.pool.Exec(ctx, "ANALYZE lambdad_kv"); err != nil {
				b.Fatal(err)
			}
			after := fmt.Sprintf("acct/region/fn-%06d", n/4)
			p50(b, func() error {
				k := 0
				return p.View(ctx, func(tx Tx) error {
					tx.Scan("functions", "acct/region/", after, func(string, []byte) bool { k++; return k < 50 })
					if k != 50 {
						b.Fatalf("page of %d", k)
					}
					return nil
				})
			})
		})
	}
}
