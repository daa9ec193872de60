package store

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/lambdad/lambdad/internal/testkit"
)

// TestClaimRowsPG: against a real PostgreSQL, a claim selects the due rows
// of its prefix in byte order, and a second transaction's claim skips the
// rows the first holds until it commits.
func TestClaimRowsPG(t *testing.T) {
	ctx := context.Background()
	url := testkit.Postgres(t)
	conn1, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn1.Close(ctx)
	conn2, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close(ctx)
	if _, err := conn1.Exec(ctx, `CREATE TABLE kv (bucket text, key text COLLATE "C", val bytea NOT NULL, PRIMARY KEY (bucket, key))`); err != nil {
		t.Fatal(err)
	}
	// "q/B" sorts before "q/a" bytewise, not in most locales.
	keys := []string{"a/1", "q/a", "q/B", "q/c", "q/d", "q/e", "q\x7f/x", "r/1"}
	for i, k := range keys {
		if _, err := conn1.Exec(ctx, `INSERT INTO kv VALUES ('b', $1, $2)`, k, []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
		if _, err := conn1.Exec(ctx, `INSERT INTO kv VALUES ('other', $1, '')`, k); err != nil {
			t.Fatal(err)
		}
	}
	tx1, err := conn1.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx1.Rollback(ctx)
	got1, vals, err := ClaimRowsPG(ctx, tx1, "kv", "b", "q/", "q/d", 2)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got1, []string{"q/B", "q/a"}) || string(vals[0]) != "2" {
		t.Fatalf("first claim: %q %q", got1, vals)
	}
	tx2, err := conn2.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx2.Rollback(ctx)
	got2, _, err := ClaimRowsPG(ctx, tx2, "kv", "b", "q/", "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got2, []string{"q/c", "q/d", "q/e"}) {
		t.Fatalf("second claim, while the first holds its rows: %q", got2)
	}
	// The first moves its rows away and commits: they are gone for all.
	if _, err := tx1.Exec(ctx, `DELETE FROM kv WHERE bucket = 'b' AND key = ANY($1)`, got1); err != nil {
		t.Fatal(err)
	}
	if err := tx1.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tx2.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	tx3, err := conn2.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx3.Rollback(ctx)
	got3, _, err := ClaimRowsPG(ctx, tx3, "kv", "b", "", "", 100)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got3, []string{"a/1", "q/c", "q/d", "q/e", "q\x7f/x", "r/1"}) {
		t.Fatalf("after the first committed: %q", got3)
	}
	// A prefix whose end is not text still bounds the claim to it.
	got4, _, err := ClaimRowsPG(ctx, tx3, "kv", "b", "q\x7f", "", 100)
	if err != nil || !slices.Equal(got4, []string{"q\x7f/x"}) {
		t.Fatalf("prefix q\\x7f: %q, %v", got4, err)
	}
}
