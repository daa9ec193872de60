package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lambdad/lambdad/internal/store"
	"github.com/lambdad/lambdad/internal/testkit"
)

// TestStoreFlag: --store takes a PostgreSQL URL or nothing; anything else
// stops lambdad at start, from the flag or its variable.
func TestStoreFlag(t *testing.T) {
	env := func(m map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	cfg, _, err := parseSettings([]string{"--store", "postgres://u:p@db:5432/x?sslmode=disable"}, env(nil))
	if err != nil || cfg.Store != "postgres://u:p@db:5432/x?sslmode=disable" {
		t.Fatalf("--store postgres://… = %q, %v", cfg.Store, err)
	}
	if cfg, _, err := parseSettings(nil, env(nil)); err != nil || cfg.Store != "" {
		t.Fatalf("default --store = %q, %v; want bbolt (empty)", cfg.Store, err)
	}
	for _, bad := range []string{"mysql://x", "./meta.db", "postgres://u@db:notaport/x"} {
		if _, _, err := parseSettings([]string{"--store", bad}, env(nil)); err == nil {
			t.Errorf("--store %q accepted", bad)
		}
		if _, _, err := parseSettings(nil, env(map[string]string{"LAMBDAD_STORE": bad})); err == nil || !strings.Contains(err.Error(), "LAMBDAD_STORE") {
			t.Errorf("LAMBDAD_STORE=%q: %v", bad, err)
		}
	}
	if err := runMigrate([]string{"--from", t.TempDir(), "--to", "mysql://x"}); err == nil || !strings.Contains(err.Error(), "--to") {
		t.Errorf("migrate --to mysql://x = %v", err)
	}
}

// TestMigrateCommand runs `lambdad migrate` on a data directory's store: the
// records arrive, and a second run is refused unless --replace.
func TestMigrateCommand(t *testing.T) {
	ctx := context.Background()
	url := testkit.Postgres(t)
	dir := t.TempDir()
	b, err := store.OpenBolt(filepath.Join(dir, "metadata.db"))
	if err != nil {
		t.Fatal(err)
	}
	err = b.Update(ctx, func(tx store.Tx) error {
		for i := range 300 {
			if err := tx.Put("functions", fmt.Sprintf("k%03d", i), []byte{byte(i)}); err != nil {
				return err
			}
		}
		return tx.Put("meta", "schema", []byte("1"))
	})
	b.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"migrate", "--from", dir, "--to", url}); err != nil {
		t.Fatal(err)
	}
	err = run([]string{"migrate", "--from", dir, "--to", url})
	if err == nil || !strings.Contains(err.Error(), "--replace") {
		t.Fatalf("second migrate = %v, want refused, naming --replace", err)
	}
	if err := run([]string{"migrate", "--from", dir, "--to", url, "--replace"}); err != nil {
		t.Fatal(err)
	}
	p, err := store.OpenPostgres(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.View(ctx, func(tx store.Tx) error {
		if n := tx.Count("functions", ""); n != 300 {
			t.Errorf("%d functions records, want 300", n)
		}
		if v := tx.Get("functions", "k007"); len(v) != 1 || v[0] != 7 {
			t.Errorf("k007 = %v", v)
		}
		if string(tx.Get("meta", "schema")) != "1" {
			t.Errorf("meta/schema = %q", tx.Get("meta", "schema"))
		}
		return nil
	})
}
