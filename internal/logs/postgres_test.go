package logs

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lambdad/lambdad/internal/testkit"
)

// pgPool is a pool on a fresh database (the test is skipped without
// LAMBDAD_TEST_POSTGRES).
func pgPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), testkit.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func exists(t *testing.T, s Logs, name string) bool {
	t.Helper()
	ok, err := s.GroupExists(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func openPG(t testing.TB, pool *pgxpool.Pool, cfg PGConfig) *PG {
	t.Helper()
	cfg.Pool = pool
	p, err := OpenPG(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(context.Background()) })
	return p
}

// backends runs fn against the file store and the PostgreSQL one, both
// with the clock now.
func backends(t *testing.T, now func() time.Time, fn func(t *testing.T, s Logs)) {
	t.Run("file", func(t *testing.T) { fn(t, Files(open(t, Config{Now: now}))) })
	t.Run("postgres", func(t *testing.T) { fn(t, openPG(t, pgPool(t), PGConfig{Now: now})) })
}

// mixed appends events to three streams whose times interleave, some with
// the same timestamp, and a message that is not UTF-8 and holds a NUL.
func mixed(s Logs) {
	for i := range 40 {
		st := []string{"a", "b", "c/x"}[i%3]
		s.Append("/g", st, fmt.Appendf(nil, "2026-12-05T03:00:%02d.000Z\tr\tevent %02d %s\n", i/2, i, []string{"ERROR", "INFO"}[i%2]))
	}
	s.Append("/g", "b", []byte("2026-12-05T03:00:30.000Z\tbin \xff\x00 end\n"))
}

// Both stores answer the same requests alike: pages, tokens, interleaving,
// patterns, time bounds, stream choices, GetLogEvents both ways.
func TestBackendsAgree(t *testing.T) {
	type result struct {
		Filter  [][]FilterOutput
		Get     [][]GetOutput
		Streams []string
	}
	results := map[string]result{}
	errPat, _ := ParsePattern("ERROR")
	t0 := time.Date(2026, 12, 5, 3, 0, 5, 0, time.UTC).UnixMilli()
	backends(t, fixedNow, func(t *testing.T, s Logs) {
		mixed(s)
		var r result
		for _, in := range []FilterInput{
			{Limit: 7},
			{Limit: 4, Query: Query{Match: errPat.Match}},
			{Limit: 5, Query: Query{Start: t0, End: t0 + 6000}},
			{Query: Query{Streams: []string{"a", "c/x"}}},
			{Limit: 3, Query: Query{Prefix: "c/"}},
		} {
			var pages []FilterOutput
			for range 100 {
				out, err := s.Filter(t.Context(), "/g", in)
				if err != nil {
					t.Fatal(err)
				}
				pages = append(pages, out)
				if out.Next == "" {
					break
				}
				in.Token = out.Next
			}
			r.Filter = append(r.Filter, pages)
		}
		for _, in := range []GetInput{
			{Stream: "b", Limit: 4, StartFromHead: true},
			{Stream: "b", Limit: 4},
			{Stream: "a", Limit: 3, Start: t0, End: t0 + 8000, StartFromHead: true},
		} {
			var pages []GetOutput
			for range 20 {
				out, err := s.Get(t.Context(), "/g", in)
				if err != nil {
					t.Fatal(err)
				}
				pages = append(pages, out)
				next := out.Forward
				if !in.StartFromHead {
					next = out.Backward
				}
				if next == in.Token {
					break
				}
				in.Token = next
			}
			r.Get = append(r.Get, pages)
		}
		streams, err := s.Streams(t.Context(), "/g")
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range streams {
			r.Streams = append(r.Streams, fmt.Sprintf("%s %d %d", st.Name, st.FirstEvent, st.LastEvent))
		}
		if _, err := s.Filter(t.Context(), "/g", FilterInput{Query: Query{Streams: []string{"a", "nope"}}}); !errors.Is(err, ErrNoStream) {
			t.Errorf("unknown stream: %v", err)
		}
		if _, err := s.Get(t.Context(), "/nope", GetInput{Stream: "a"}); !errors.Is(err, ErrNoGroup) {
			t.Errorf("unknown group: %v", err)
		}
		if _, err := s.Filter(t.Context(), "/g", FilterInput{Token: "!!"}); !errors.Is(err, ErrToken) {
			t.Errorf("bad token: %v", err)
		}
		results[t.Name()[strings.LastIndex(t.Name(), "/")+1:]] = r
	})
	f, p := results["file"], results["postgres"]
	if p.Filter == nil {
		t.Skip("no PostgreSQL")
	}
	if len(f.Filter[0]) != 6 || len(f.Filter[0][0].Events) != 7 {
		t.Fatalf("file store's first query: %d pages", len(f.Filter[0]))
	}
	if last := f.Filter[0][5].Events; !strings.Contains(last[len(last)-1].Message, "\xff\x00") {
		t.Errorf("last event %q", last[len(last)-1].Message)
	}
	if len(f.Get[0]) < 4 || len(f.Get[1]) < 4 || len(f.Get[0][0].Events) != 4 || len(f.Filter[1][0].Events) != 4 {
		t.Fatalf("file store's pages: %+v %+v", f.Get[0], f.Filter[1])
	}
	for i := range f.Filter {
		if !reflect.DeepEqual(f.Filter[i], p.Filter[i]) {
			t.Errorf("FilterLogEvents query %d:\nfile     %+v\npostgres %+v", i, f.Filter[i], p.Filter[i])
		}
	}
	for i := range f.Get {
		if !reflect.DeepEqual(f.Get[i], p.Get[i]) {
			t.Errorf("GetLogEvents query %d:\nfile     %+v\npostgres %+v", i, f.Get[i], p.Get[i])
		}
	}
	if !reflect.DeepEqual(f.Streams, p.Streams) {
		t.Errorf("streams: file %v, postgres %v", f.Streams, p.Streams)
	}
}

// Groups: created, listed, refused twice, deleted with their events;
// retention hides and then deletes old events.
func TestBackendsGroups(t *testing.T) {
	now := time.Date(2026, 12, 5, 3, 0, 0, 0, time.UTC)
	backends(t, func() time.Time { return now }, func(t *testing.T, s Logs) {
		if err := s.CreateGroup(t.Context(), "/empty"); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateGroup(t.Context(), "/empty"); !errors.Is(err, ErrGroupExists) {
			t.Errorf("second create: %v", err)
		}
		old := now.Add(-72 * time.Hour).Format("2006-01-02T15:04:05.000Z")
		s.AppendMarked("/g", "s", []byte(old+"\told\n"), now.Add(-72*time.Hour), nil)
		s.Append("/g", "s", []byte("new\n"))
		gs, _ := s.Groups(t.Context())
		if len(gs) != 2 || gs[0].Name != "/empty" || gs[1].Name != "/g" || gs[1].StoredBytes == 0 || !exists(t, s, "/g") {
			t.Fatalf("groups %+v", gs)
		}
		if err := s.SetRetention(t.Context(), "/g", 1); err != nil {
			t.Fatal(err)
		}
		out, err := s.Filter(t.Context(), "/g", FilterInput{})
		if err != nil || len(out.Events) != 1 || out.Events[0].Message != "new\n" || out.Events[0].Ord != 1 {
			t.Fatalf("after retention: %+v %v", out, err)
		}
		if err := s.SetRetention(t.Context(), "/nope", 1); !errors.Is(err, ErrNoGroup) {
			t.Errorf("retention of no group: %v", err)
		}
		if err := s.DeleteGroup(t.Context(), "/g"); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteGroup(t.Context(), "/g"); !errors.Is(err, ErrNoGroup) {
			t.Errorf("second delete: %v", err)
		}
		if exists(t, s, "/g") {
			t.Error("deleted group exists")
		}
		// Written again, the group starts afresh.
		s.Append("/g", "s", []byte("again\n"))
		out, err = s.Filter(t.Context(), "/g", FilterInput{})
		if err != nil || len(out.Events) != 1 || out.Events[0].Ord != 0 {
			t.Fatalf("after re-creation: %+v %v", out, err)
		}
	})
}

// Two nodes on one database: each reads what the other wrote, positions in
// a stream both write stay distinct, and a live tail on one sees the
// other's events.
func TestPGTwoNodes(t *testing.T) {
	pool := pgPool(t)
	a := openPG(t, pool, PGConfig{})
	pool2, err := pgxpool.New(context.Background(), pool.Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	defer pool2.Close()
	b := openPG(t, pool2, PGConfig{})
	sub := b.Subscribe([]string{"/g"})
	defer b.Unsubscribe(sub)
	for i := range 10 {
		a.Append("/g", "shared", fmt.Appendf(nil, "from a %d\n", i))
		b.Append("/g", "shared", fmt.Appendf(nil, "from b %d\n", i))
		a.Flush()
		b.Flush()
	}
	a.Append("/g", "a-only", []byte("tail me\n"))
	a.Flush()
	out, err := b.Get(t.Context(), "/g", GetInput{Stream: "shared", StartFromHead: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Events) != 20 {
		t.Fatalf("%d events", len(out.Events))
	}
	for i, e := range out.Events {
		if e.Ord != int64(i) {
			t.Fatalf("event %d has position %d", i, e.Ord)
		}
	}
	streams, err := b.Streams(t.Context(), "/g")
	if err != nil || len(streams) != 2 || streams[0].Name != "a-only" {
		t.Fatalf("streams %+v %v", streams, err)
	}
	// Both create one group at once: each node's events are kept.
	for i := range 20 {
		g := fmt.Sprintf("/new-%d", i)
		var wg sync.WaitGroup
		for _, n := range []*PG{a, b} {
			wg.Go(func() {
				n.Append(g, "s-"+n.node, []byte("hello\n"))
				n.Flush()
			})
		}
		wg.Wait()
		if out, err := a.Filter(t.Context(), g, FilterInput{}); err != nil || len(out.Events) != 2 {
			t.Fatalf("%s: %+v %v", g, out, err)
		}
	}
	deadline := time.After(10 * time.Second)
	for {
		select {
		case evs := <-sub.C:
			for _, e := range evs {
				if e.Message == "tail me\n" && e.Group == "/g" && e.Stream == "a-only" {
					return
				}
			}
		case <-deadline:
			t.Fatal("b's live tail did not see a's event")
		}
	}
}

// Bounds: a stream past MaxStreamBytes, a group past MaxGroupBytes lose
// their oldest events at a sweep.
func TestPGBounds(t *testing.T) {
	p := openPG(t, pgPool(t), PGConfig{MaxStreamBytes: 1000})
	for i := range 100 {
		p.Append("/g", "s", fmt.Appendf(nil, "line %03d %s\n", i, strings.Repeat("x", 50)))
	}
	p.Flush()
	p.Sweep()
	out, err := p.Get(t.Context(), "/g", GetInput{Stream: "s", StartFromHead: true})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(out.Events); n == 0 || n > 1000/70 || out.Events[n-1].Ord != 99 {
		t.Fatalf("%d events kept, last %+v", n, out.Events[len(out.Events)-1])
	}
	st, _ := p.Streams(t.Context(), "/g")
	if st[0].StoredBytes > 1000 || st[0].FirstEvent == 0 {
		t.Errorf("stream after the bound: %+v", st[0])
	}

	g := openPG(t, pgPool(t), PGConfig{MaxGroupBytes: 2000})
	base := time.Date(2026, 12, 5, 3, 0, 0, 0, time.UTC)
	for i := range 100 {
		at := base.Add(time.Duration(i) * time.Second).Format("2006-01-02T15:04:05.000Z")
		g.AppendMarked("/g", fmt.Sprintf("s%d", i%3), fmt.Appendf(nil, "%s line %03d %s\n", at, i, strings.Repeat("x", 20)), base, nil)
	}
	g.Flush()
	g.Sweep()
	all, err := g.Filter(t.Context(), "/g", FilterInput{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(all.Events); n == 0 || n > 2000/60 || !strings.Contains(all.Events[n-1].Message, "line 099") {
		t.Fatalf("%d events kept", n)
	}
	var total int64
	streams, _ := g.Streams(t.Context(), "/g")
	for _, st := range streams {
		total += st.StoredBytes
		if st.FirstEvent < all.Events[0].Timestamp {
			t.Errorf("stream %s's first event %d before the group's %d", st.Name, st.FirstEvent, all.Events[0].Timestamp)
		}
	}
	if total > 2000 || total < 1500 {
		t.Errorf("group keeps %d bytes", total)
	}
}

// Pages of large events stop at 1 MB, and the next page goes on from there.
func TestBackendsLargeEvents(t *testing.T) {
	backends(t, fixedNow, func(t *testing.T, s Logs) {
		for i := range 12 {
			s.Append("/big", fmt.Sprintf("s%d", i%2), fmt.Appendf(nil, "2026-12-05T03:00:%02d.000Z\t%02d %s\n", i, i, strings.Repeat("x", 200<<10)))
		}
		var got []string
		in := FilterInput{}
		pages := 0
		for ; pages < 10; pages++ {
			out, err := s.Filter(t.Context(), "/big", in)
			if err != nil {
				t.Fatal(err)
			}
			size := 0
			for _, e := range out.Events {
				size += len(e.Message) + 26
				got = append(got, e.Message[25:27])
			}
			if size > 1<<20 {
				t.Errorf("page of %d bytes", size)
			}
			if out.Next == "" {
				break
			}
			in.Token = out.Next
		}
		if pages != 2 || len(got) != 12 || got[0] != "00" || got[11] != "11" {
			t.Errorf("%d pages: %v", pages+1, got)
		}
	})
}
