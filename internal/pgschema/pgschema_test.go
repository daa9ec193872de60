package pgschema

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/lambdad/lambdad/internal/testkit"
)

// TestMigrateConcurrently starts several "nodes" migrating one database at
// once: every step runs exactly once, and a later, longer list applies only
// its new steps.
func TestMigrateConcurrently(t *testing.T) {
	ctx := context.Background()
	url := testkit.Postgres(t)
	pool, err := Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	steps := []string{
		"CREATE TABLE t (n integer)",
		"INSERT INTO t VALUES (1)",
	}
	var wg sync.WaitGroup
	errs := make(chan error, 5)
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := Connect(ctx, url)
			if err != nil {
				errs <- err
				return
			}
			defer p.Close()
			errs <- Migrate(ctx, p, "test", steps)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := Migrate(ctx, pool, "test", append(steps, "INSERT INTO t VALUES (2)")); err != nil {
		t.Fatal(err)
	}
	var n, sum int
	if err := pool.QueryRow(ctx, "SELECT count(*), sum(n) FROM t").Scan(&n, &sum); err != nil {
		t.Fatal(err)
	}
	if n != 2 || sum != 3 {
		t.Fatalf("rows = %d, sum = %d; want each step once (2 rows, sum 3)", n, sum)
	}
	err = Migrate(ctx, pool, "test", steps[:1])
	if err == nil || !strings.Contains(err.Error(), "newer than this lambdad knows") {
		t.Fatalf("an older lambdad on a newer schema: %v", err)
	}
	// A failed step changes nothing and is retried next time.
	if err := Migrate(ctx, pool, "other", []string{"CREATE TABLE u (n integer)", "SELECT no_such_column FROM u"}); err == nil {
		t.Fatal("a failing step was accepted")
	}
	var v int
	if err := pool.QueryRow(ctx, "SELECT version FROM lambdad_schema WHERE component = 'other'").Scan(&v); err != nil || v != 1 {
		t.Fatalf("other's version = %d, %v; want 1", v, err)
	}
}
