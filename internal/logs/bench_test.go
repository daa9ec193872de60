package logs

import (
	"context"
	"syscall"
	"testing"
	"time"
)

func cpu() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkAppendPaced appends one record per "invoke", invokes 300 µs apart (as in the warm benchmark):
// the process's CPU per record, the pacing's own cost included (the same
// in both versions).
func BenchmarkAppendPaced(b *testing.B) {
	s, err := Open(Config{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	rec := make([]byte, 300)
	for i := range rec {
		rec[i] = 'x'
	}
	rec[len(rec)-1] = '\n'
	c0 := cpu()
	n := 0
	for b.Loop() {
		s.Append("/aws/lambda/fn", "2026/12/04/[$LATEST]abc", rec)
		time.Sleep(300 * time.Microsecond)
		n++
	}
	s.Close(context.Background())
	b.ReportMetric(float64((cpu()-c0).Nanoseconds())/1e3/float64(n), "cpu-µs/op")
}
