package server_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lambdad/lambdad/internal/server"
	"github.com/lambdad/lambdad/internal/testkit"
)

// cloneFunctions makes n copies of function fn-000000's records in the
// PostgreSQL store at url, named fn-000001…, in one statement per bucket:
// 100,000 functions through the API would take minutes.
func cloneFunctions(b *testing.B, url string, n int) {
	b.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	tag, err := conn.Exec(ctx, `INSERT INTO lambdad_kv (bucket, key, val)
		SELECT bucket,
		       convert_to(replace(convert_from(key, 'UTF8'), 'fn-000000', 'fn-' || lpad(g::text, 6, '0')), 'UTF8'),
		       convert_to(replace(convert_from(val, 'UTF8'), 'fn-000000', 'fn-' || lpad(g::text, 6, '0')), 'UTF8')
		FROM lambdad_kv, generate_series(1, $1) g
		WHERE bucket IN ('functions', 'versions', 'coderefs') AND position('fn-000000' in convert_from(key, 'UTF8')) > 0`, n-1)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "ANALYZE lambdad_kv"); err != nil {
		b.Fatal(err)
	}
	b.Logf("cloned %d rows", tag.RowsAffected())
}

// BenchmarkScaleFunctions: with 100 and 100,000 functions in PostgreSQL,
// what a ListFunctions page costs (the first page and one from a marker
// in the middle (lambdad's markers are the last name, base64url); p50-ns), and how long a node takes to start on that store
// (start-ms: server.New to a first answered request).
func BenchmarkScaleFunctions(b *testing.B) {
	for _, n := range []int{100, 100_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			url := testkit.Postgres(b)
			first, err := server.New(server.Config{DataDir: b.TempDir(), Transition: time.Millisecond, Store: url})
			if err != nil {
				b.Fatal(err)
			}
			seed(b, first.Handler(), 1)
			first.Close()
			cloneFunctions(b, url, n)

			start := time.Now()
			srv, err := server.New(server.Config{DataDir: b.TempDir(), Transition: time.Millisecond, Store: url})
			if err != nil {
				b.Fatal(err)
			}
			defer srv.Close()
			h := srv.Handler()
			w := httptest.NewRecorder()
			h.ServeHTTP(w, apiRequest("GET", "/2015-03-31/functions/fn-000000", nil))
			started := time.Since(start)
			if w.Code != http.StatusOK {
				b.Fatalf("GetFunction: %d %s", w.Code, w.Body)
			}
			for _, page := range []struct{ name, path string }{
				{"first", "/2015-03-31/functions/?MaxItems=50"},
				{"middle", "/2015-03-31/functions/?MaxItems=50&Marker=" + base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "fn-%06d", n/2))},
			} {
				b.Run(page.name, func(b *testing.B) {
					req := apiRequest("GET", page.path, nil)
					measure(b, func() int {
						w := httptest.NewRecorder()
						h.ServeHTTP(w, req)
						return w.Code
					})
					b.ReportMetric(float64(started.Milliseconds()), "start-ms")
				})
			}
		})
	}
}
