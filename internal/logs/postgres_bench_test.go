package logs

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkPGFilterLogEvents1M is BenchmarkFilterLogEvents1M on
// PostgreSQL: one group of 1,000,000 events (100 streams, one event a
// second per stream), a one-minute query with and without a term pattern,
// and an hour's first page.
func BenchmarkPGFilterLogEvents1M(b *testing.B) {
	base := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	pool := pgPool(b)
	s := openPG(b, pool, PGConfig{MaxStreamBytes: 1 << 30, Now: func() time.Time { return base.Add(3 * time.Hour) }})
	benchFilter1M(b, s, base, func() {
		if _, err := pool.Exec(context.Background(), "VACUUM ANALYZE lambdad_log_events"); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkPGWrite: what the writer stores a second, invocations of four
// lines each to 10 streams, a batch written every 250 invocations (an
// enqueue costs what BenchmarkAppend shows: the queue is the file store's).
func BenchmarkPGWrite(b *testing.B) {
	s := openPG(b, pgPool(b), PGConfig{FlushInterval: time.Hour})
	rec := []byte("START RequestId: x Version: $LATEST\nhello\nEND RequestId: x\nREPORT RequestId: x\tDuration: 1.00 ms\n")
	n := 0
	for b.Loop() {
		s.Append("/aws/lambda/fn", fmt.Sprintf("2026/11/21/[$LATEST]%d", n%10), rec)
		if n++; n%250 == 0 {
			s.Flush()
		}
	}
	s.Flush()
	b.ReportMetric(float64(4*n)/b.Elapsed().Seconds(), "events/s")
}
