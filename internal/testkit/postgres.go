package testkit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Postgres returns the URL of a new, empty database of its own on the
// PostgreSQL server named by LAMBDAD_TEST_POSTGRES (a URL whose role may
// CREATE DATABASE; scripts/postgres.sh prints one), dropped when the test
// ends. Without that variable the test is skipped, unless
// LAMBDAD_TEST_REQUIRE_POSTGRES=1 (scripts/test.sh sets it), when it fails.
func Postgres(t testing.TB) string {
	t.Helper()
	admin := os.Getenv("LAMBDAD_TEST_POSTGRES")
	if admin == "" {
		if os.Getenv("LAMBDAD_TEST_REQUIRE_POSTGRES") == "1" {
			t.Fatal("LAMBDAD_TEST_POSTGRES is not set (scripts/postgres.sh prints a URL)")
		}
		t.Skip("LAMBDAD_TEST_POSTGRES is not set: no PostgreSQL to test against (scripts/test.sh sets it)")
	}
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("LAMBDAD_TEST_POSTGRES: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("connect to LAMBDAD_TEST_POSTGRES: %v", err)
	}
	defer conn.Close(context.Background())
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "lambdad_t_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Logf("drop database %s: %v", name, err)
			return
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("drop database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}
