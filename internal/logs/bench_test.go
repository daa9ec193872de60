package logs

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// BenchmarkAppend: the invoke path's cost of keeping a log.
func BenchmarkAppend(b *testing.B) {
	s, err := Open(Config{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close(context.Background())
	rec := []byte("START RequestId: x Version: $LATEST\nhello\nEND RequestId: x\nREPORT RequestId: x\tDuration: 1.00 ms\n")
	b.ReportAllocs()
	for b.Loop() {
		s.Append("/aws/lambda/fn", "2026/11/21/[$LATEST]abc", rec)
	}
	s.Flush()
}

// BenchmarkFilterLogEvents1M: one group of 1,000,000 events (100 streams,
// one event a second per stream over ~2.8 hours, about 90 MB on disk), a
// one-minute query with a term pattern, interleaved across streams, as
// FilterLogEvents reads it.
func BenchmarkFilterLogEvents1M(b *testing.B) {
	dir := b.TempDir()
	s, err := Open(Config{Dir: dir, MaxStreamBytes: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close(context.Background())
	base := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	const streams, perStream = 100, 10000
	for st := range streams {
		var buf strings.Builder
		for i := range perStream {
			t := base.Add(time.Duration(i) * time.Second)
			level := "INFO"
			if i%10 == 0 {
				level = "ERROR"
			}
			fmt.Fprintf(&buf, "[%s]\t%s\treq-%d\tmessage %d of stream %d\n", level, t.Format("2006-01-02T15:04:05.000Z"), i, i, st)
		}
		s.Append("/aws/lambda/big", fmt.Sprintf("2026/12/05/[$LATEST]%032x", st), []byte(buf.String()))
		s.Flush()
	}
	match, err := ParsePattern("ERROR")
	if err != nil {
		b.Fatal(err)
	}
	from := base.Add(time.Hour).UnixMilli()
	in := FilterInput{Query: Query{Start: from, End: from + 60_000, Match: match.Match}}
	var n int
	for b.Loop() {
		out, err := s.Filter("/aws/lambda/big", in)
		if err != nil {
			b.Fatal(err)
		}
		n = len(out.Events)
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/query")
	b.ReportMetric(float64(n), "events/query")
}
