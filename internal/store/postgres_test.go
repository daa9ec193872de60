package store

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lambdad/lambdad/internal/testkit"
)

// TestPostgresWatch: a commit on one node is announced to the other, with
// the buckets it wrote; a rolled-back transaction is not.
func TestPostgresWatch(t *testing.T) {
	ctx := context.Background()
	url := testkit.Postgres(t)
	a, err := OpenPostgres(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	// Pool settings in the URL are the pool's, not the listener's.
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	b, err := OpenPostgres(ctx, url+sep+"pool_max_conns=3", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	got := make(chan []string, 10)
	b.Watch(func(buckets []string) { got <- buckets })
	own := make(chan []string, 10)
	a.Watch(func(buckets []string) { own <- buckets })
	// Each listener starts by saying anything may have changed.
	for _, c := range []chan []string{got, own} {
		select {
		case v := <-c:
			if v != nil {
				t.Fatalf("first report = %q, want nil (anything)", v)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the listener did not start")
		}
	}
	must(t, a.Update(ctx, func(tx Tx) error { return tx.Put("x", "k", nil) }))
	a.Update(ctx, func(tx Tx) error { tx.Put("rolledback", "k", nil); return context.Canceled })
	must(t, a.Update(ctx, func(tx Tx) error {
		tx.Put("y", "k", nil)
		return tx.Delete("z", "k")
	}))
	for _, want := range [][]string{{"x"}, {"y", "z"}} {
		select {
		case v := <-got:
			slices.Sort(v)
			if !slices.Equal(v, want) {
				t.Fatalf("reported %q, want %q", v, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no report of %q", want)
		}
	}
	select {
	case v := <-own:
		t.Errorf("a node was told of its own write: %q", v)
	case v := <-got:
		t.Errorf("unexpected report %q", v)
	case <-time.After(200 * time.Millisecond):
	}

	// The listening connections break (a server restart, a network
	// cut): once back, each node says anything may have changed, since it
	// may have missed notifications meanwhile.
	_, err = a.pool.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()`)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []chan []string{got, own} {
		select {
		case v := <-c:
			if v != nil {
				t.Fatalf("report after reconnecting = %q, want nil (anything)", v)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no report after the listening connection broke")
		}
	}
	must(t, a.Update(ctx, func(tx Tx) error { return tx.Put("x", "k2", nil) }))
	select {
	case v := <-got:
		if !slices.Equal(v, []string{"x"}) {
			t.Fatalf("after reconnecting: reported %q", v)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no report of a write after reconnecting")
	}
}

// TestPostgresRefused: a bad URL or an unreachable server fails at open.
func TestPostgresRefused(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, url := range []string{"postgres://%zz", "postgres://nobody@127.0.0.1:1/x?connect_timeout=2"} {
		s, err := OpenPostgres(ctx, url, nil)
		if err == nil {
			s.Close()
			t.Errorf("OpenPostgres(%s) succeeded", url)
		} else if !strings.Contains(err.Error(), "postgres") {
			t.Errorf("OpenPostgres(%s) = %v: does not say what failed", url, err)
		}
	}
}
