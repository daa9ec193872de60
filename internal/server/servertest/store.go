package servertest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/lambdad/lambdad/internal/testkit"
)

// TestStore is the --store of a test's lambdad on dir: "" (bbolt in dir),
// or with LAMBDAD_TEST_STORE=postgres a PostgreSQL database of the test's
// own, the same one each time the test starts a lambdad on dir again (its
// URL is kept in dir).
func TestStore(t testing.TB, dir string) string {
	t.Helper()
	if os.Getenv("LAMBDAD_TEST_STORE") != "postgres" {
		return ""
	}
	keep := filepath.Join(dir, ".test-store")
	if b, err := os.ReadFile(keep); err == nil {
		return string(b)
	}
	url := testkit.Postgres(t)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keep, []byte(url), 0o600); err != nil {
		t.Fatal(err)
	}
	return url
}
