// Package storetest gives tests of the code above the store the engine
// LAMBDAD_TEST_STORE names, so their suites run on each engine:
// "postgres" (a database of the test's own, see testkit.Postgres), or
// the test's default.
package storetest

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/lambdad/lambdad/internal/store"
	"github.com/lambdad/lambdad/internal/testkit"
)

// Open returns the store a test runs on, closed when it ends: def when
// LAMBDAD_TEST_STORE is unset, else "memory", "bolt" (in a temporary
// directory) or "postgres".
func Open(t testing.TB, def string) store.Store {
	t.Helper()
	kind := os.Getenv("LAMBDAD_TEST_STORE")
	if kind == "" {
		kind = def
	}
	var (
		st  store.Store
		err error
	)
	switch kind {
	case "memory":
		return store.NewMemory()
	case "bolt":
		st, err = store.OpenBolt(filepath.Join(t.TempDir(), "metadata.db"))
	case "postgres":
		st, err = store.OpenPostgres(context.Background(), testkit.Postgres(t), nil)
	default:
		t.Fatalf("LAMBDAD_TEST_STORE=%q: want memory, bolt or postgres", kind)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
