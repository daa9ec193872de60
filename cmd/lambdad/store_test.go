package main

import (
	"strings"
	"testing"
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
