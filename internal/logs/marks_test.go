package logs

import (
	"strings"
	"testing"
	"time"
)

// Plain lines take the time their bytes came (the last mark at or before
// their first byte); records keep their own; output from before the
// invocation precedes START, which is the start; a CR-joined record is one
// event; END and REPORT take the end.
func TestSplitMarked(t *testing.T) {
	start := time.Date(2026, 12, 5, 3, 0, 0, 0, time.UTC).UnixMilli()
	at := start + 2000
	pre := "written before the invocation\n"
	startLine := "START RequestId: r Version: $LATEST\n"
	first := "first print\n"
	second := "second print, in two reads"
	rest := " ends here\n"
	rec := "[INFO]\t2026-12-05T03:00:01.100Z\tr\trecord\n"
	tb := "[ERROR]\t2026-12-05T03:00:01.500Z\tr\tboom\rTraceback\r  File \"x.py\"\n"
	late := "late print\n"
	end := "END RequestId: r\nREPORT RequestId: r\tDuration: 1.00 ms\n"
	out := pre + startLine + first + second + rest + rec + tb + late + end
	off := func(s string) int { return strings.Index(out, s) }
	marks := []Mark{
		{off(pre), start - 5000},
		{off(first), start + 10},
		{off(second), start + 300},
		{off(rest), start + 900}, // the rest of a line: the line keeps its first byte's time
		{off(rec), start + 1200},
		{off(late), start + 1800},
	}
	evs := SplitMarked([]byte(out), marks, start, at)
	want := []struct {
		msg string
		at  int64
	}{
		{pre, -5000}, {startLine, 0}, {first, 10}, {second + rest, 300}, {rec, 1100},
		{strings.ReplaceAll(tb, "\r", "\n"), 1500}, {late, 1800},
		{"END RequestId: r\n", 2000}, {"REPORT RequestId: r\tDuration: 1.00 ms\n", 2000},
	}
	if len(evs) != len(want) {
		t.Fatalf("%d events, want %d: %+v", len(evs), len(want), evs)
	}
	for i, w := range want {
		if evs[i].Message != w.msg || evs[i].Timestamp-start != w.at {
			t.Errorf("event %d: %q at %+d ms, want %q at %+d ms", i, evs[i].Message, evs[i].Timestamp-start, w.msg, w.at)
		}
	}
	// Without marks, plain lines take the start (Split).
	if evs := SplitMarked([]byte(startLine+first+end), nil, start, at); evs[1].Timestamp != start {
		t.Errorf("unmarked print at %+d ms, want the start", evs[1].Timestamp-start)
	}
}
