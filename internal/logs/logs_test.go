package logs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func open(t *testing.T, cfg Config) *Store {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

func all(t *testing.T, s *Store, group string, q Query) []Event {
	t.Helper()
	var out []Event
	if err := s.Scan(group, q, func(e Event) bool { out = append(out, e); return true }); err != nil {
		t.Fatal(err)
	}
	return out
}

// A traceback written as one record (lines joined by CR, as the bootstraps
// write it) is one event with its lines; records keep the timestamps they
// carry, others take the invocation's start, END/REPORT its end.
func TestSplitRecords(t *testing.T) {
	start := time.Date(2026, 12, 5, 3, 0, 0, 0, time.UTC)
	at := start.Add(2 * time.Second)
	out := "START RequestId: r Version: $LATEST\n" +
		"plain print\n" +
		"[ERROR]\t2026-12-05T03:00:01.234Z\tr\tboom\rTraceback (most recent call last):\r  File \"x.py\"\n" +
		"after\n" +
		`{"timestamp":"2026-12-05T03:00:01.500Z","level":"INFO","message":"j"}` + "\n" +
		"2020-01-01T00:00:00.000Z printed, not the record's time\n" +
		"END RequestId: r\nREPORT RequestId: r\tDuration: 1.00 ms\n"
	evs := Split([]byte(out), start.UnixMilli(), at.UnixMilli())
	if len(evs) != 8 {
		t.Fatalf("%d events: %+v", len(evs), evs)
	}
	want := []int64{0, 0, 1234, 1234, 1500, 1500, 2000, 2000}
	for i, e := range evs {
		if e.Timestamp-start.UnixMilli() != want[i] {
			t.Errorf("event %d %q at +%d ms, want +%d", i, e.Message, e.Timestamp-start.UnixMilli(), want[i])
		}
	}
	if evs[2].Message != "[ERROR]\t2026-12-05T03:00:01.234Z\tr\tboom\nTraceback (most recent call last):\n  File \"x.py\"\n" {
		t.Errorf("traceback event %q", evs[2].Message)
	}
}

func TestAppendReadReopen(t *testing.T) {
	dir := t.TempDir()
	s := open(t, Config{Dir: dir, SegmentBytes: 300, Now: fixedNow})
	stream := "2026/12/05/[$LATEST]0123456789abcdef0123456789abcdef"
	for i := range 50 {
		s.Append("/aws/lambda/fn", stream, fmt.Appendf(nil, "2026-12-05T03:00:%02d.000Z\tr\tline %02d\n", i, i))
	}
	s.Append("/aws/lambda/../../etc", "x/../y", []byte("hostile names stay inside\n"))
	evs := all(t, s, "/aws/lambda/fn", Query{})
	if len(evs) != 50 || evs[49].Message != "2026-12-05T03:00:49.000Z\tr\tline 49\n" || evs[49].Ord != 49 {
		t.Fatalf("read %d events, last %+v", len(evs), evs[len(evs)-1])
	}
	t0 := time.Date(2026, 12, 5, 3, 0, 10, 0, time.UTC).UnixMilli()
	if got := all(t, s, "/aws/lambda/fn", Query{Start: t0, End: t0 + 5000}); len(got) != 5 || !strings.Contains(got[0].Message, "line 10") {
		t.Errorf("time-bounded read: %+v", got)
	}
	// Names on disk are shell-friendly; nothing escapes the directory.
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if strings.ContainsAny(strings.TrimPrefix(p, dir), "$[]") || !strings.HasPrefix(p, dir) {
			t.Errorf("file name %s", p)
		}
		return nil
	})
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	s2 := open(t, Config{Dir: dir, Now: fixedNow})
	if evs := all(t, s2, "/aws/lambda/fn", Query{}); len(evs) != 50 {
		t.Fatalf("after reopening: %d events", len(evs))
	}
	st, _ := s2.Streams("/aws/lambda/fn")
	if len(st) != 1 || st[0].Name != stream {
		t.Errorf("streams after reopening: %+v", st)
	}
	s2.Append("/aws/lambda/fn", stream, []byte("2026-12-05T03:01:00.000Z\tr\tmore\n"))
	if evs := all(t, s2, "/aws/lambda/fn", Query{}); len(evs) != 51 || evs[50].Ord != 50 {
		t.Errorf("appending after reopening: %d events, last %+v", len(evs), evs[len(evs)-1])
	}
	if g := s2.Groups(); len(g) != 2 || g[0].Name != "/aws/lambda/../../etc" {
		t.Errorf("groups %+v", g)
	}
}

// A stream keeps at most MaxStreamBytes (whole segments are dropped, oldest
// first); a group at most MaxGroupBytes.
func TestBounds(t *testing.T) {
	s := open(t, Config{SegmentBytes: 1000, MaxStreamBytes: 3000, MaxGroupBytes: 5000})
	for i := range 400 {
		s.Append("/g", "a", fmt.Appendf(nil, "a %04d\n", i))
		s.Append("/g", "b", fmt.Appendf(nil, "b %04d\n", i))
	}
	st, _ := s.Streams("/g")
	var total int64
	for _, x := range st {
		if x.StoredBytes > 3000 {
			t.Errorf("stream %s keeps %d bytes", x.Name, x.StoredBytes)
		}
		total += x.StoredBytes
	}
	if total > 5000+1000 {
		t.Errorf("group keeps %d bytes", total)
	}
	evs := all(t, s, "/g", Query{Streams: []string{"a"}})
	if len(evs) == 0 || evs[len(evs)-1].Message != "a 0399\n" || evs[0].Ord == 0 {
		t.Errorf("after bounds: %d events from %+v", len(evs), evs[0])
	}
}

// Retention: events older than the policy are not returned, and whole
// segments past it are deleted.
func TestRetention(t *testing.T) {
	now := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	s := open(t, Config{SegmentBytes: 100, Now: clock})
	old := now.Add(-48 * time.Hour).Format("2006-01-02T15:04:05.000Z")
	for range 10 {
		s.AppendSince("/g", "s", []byte(old+"\tr\told\n"), now.Add(-48*time.Hour))
	}
	s.Append("/g", "s", []byte(now.Format("2006-01-02T15:04:05.000Z")+"\tr\tnew\n"))
	if n := len(all(t, s, "/g", Query{})); n != 11 {
		t.Fatalf("%d events before retention", n)
	}
	if err := s.SetRetention("/g", 1); err != nil {
		t.Fatal(err)
	}
	evs := all(t, s, "/g", Query{})
	if len(evs) != 1 || !strings.Contains(evs[0].Message, "new") {
		t.Errorf("after a 1-day retention: %+v", evs)
	}
	if st, _ := s.Streams("/g"); len(st) != 1 || st[0].StoredBytes > 200 {
		t.Errorf("old segments kept: %+v", st)
	}
	if err := s.SetRetention("/nope", 1); err != ErrNoGroup {
		t.Errorf("retention of a missing group: %v", err)
	}
}

// An invoke that ends after shutdown still appends its log: the record is
// dropped, lambdad does not panic.
func TestAppendAfterClose(t *testing.T) {
	backends(t, time.Now, func(t *testing.T, s Logs) {
		if err := s.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		s.Append("/aws/lambda/fn", "late", []byte("after close\n"))
		if err := s.Close(context.Background()); err != nil {
			t.Errorf("second Close: %v", err)
		}
	})
}

// A log group of 512 characters (the model's limit) and a long stream name
// are stored and read back by their real names.
func TestLongNames(t *testing.T) {
	dir := t.TempDir()
	s := open(t, Config{Dir: dir})
	long := "/aws/" + strings.Repeat("g", 506) + "a"
	other := long[:len(long)-1] + "b"
	stream := "2026/12/04/[$LATEST]" + strings.Repeat("s", 300)
	s.Append(long, stream, []byte("kept\n"))
	s.Append(other, stream, []byte("other\n"))
	s.Close(context.Background())
	s2 := open(t, Config{Dir: dir})
	if evs := all(t, s2, long, Query{Streams: []string{stream}}); len(evs) != 1 || evs[0].Message != "kept\n" {
		t.Errorf("long group: %+v", evs)
	}
	if evs := all(t, s2, other, Query{}); len(evs) != 1 || evs[0].Message != "other\n" {
		t.Errorf("other long group: %+v", evs)
	}
}

func TestLiveSubscription(t *testing.T) {
	backends(t, time.Now, func(t *testing.T, s Logs) {
		sub := s.Subscribe([]string{"/g"})
		defer s.Unsubscribe(sub)
		s.Append("/other", "s", []byte("not mine\n"))
		s.Append("/g", "s", []byte("mine\n"))
		select {
		case evs := <-sub.C:
			if len(evs) != 1 || evs[0].Message != "mine\n" || evs[0].Group != "/g" {
				t.Errorf("live events %+v", evs)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no live event")
		}
	})
}
