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
	base := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	s, err := Open(Config{Dir: b.TempDir(), MaxStreamBytes: 1 << 30, Now: func() time.Time { return base.Add(3 * time.Hour) }})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close(context.Background())
	benchFilter1M(b, Files(s), base, nil)
}

// benchFilter1M fills s with one group of 1,000,000 events (100 streams,
// one event a second per stream from base), runs analyze (if any), then
// times a one-minute query with and without a term pattern and an hour's
// first page.
func benchFilter1M(b *testing.B, s Logs, base time.Time, analyze func()) {
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
		s.AppendMarked("/aws/lambda/big", fmt.Sprintf("2026/12/05/[$LATEST]%032x", st), []byte(buf.String()), base, nil)
		s.Flush()
	}
	if analyze != nil {
		analyze()
	}
	match, err := ParsePattern("ERROR")
	if err != nil {
		b.Fatal(err)
	}
	from := base.Add(time.Hour).UnixMilli()
	for _, c := range []struct {
		name string
		in   FilterInput
		want int
	}{
		{"minute-term", FilterInput{Query: Query{Start: from, End: from + 60_000, Match: match.Match}}, 600},
		{"minute-all", FilterInput{Query: Query{Start: from, End: from + 60_000}}, 6000},
		{"hour-first-page", FilterInput{Query: Query{Start: from, End: from + 3_600_000}}, MaxPageEvents},
	} {
		b.Run(c.name, func(b *testing.B) {
			var n int
			for b.Loop() {
				out, err := s.Filter(b.Context(), "/aws/lambda/big", c.in)
				if err != nil {
					b.Fatal(err)
				}
				n = len(out.Events)
			}
			if n != c.want {
				b.Fatalf("%d events, want %d", n, c.want)
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/query")
		})
	}
}
