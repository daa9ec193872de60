package server_test

import (
	"archive/zip"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lambdad/lambdad/internal/server"
	"github.com/lambdad/lambdad/internal/testkit"
)

// storeServer is a lambdad on disk-backed storage (fsync as in production)
// with the metadata store named by kind: bolt, or postgres (a database of
// its own on LAMBDAD_TEST_POSTGRES).
func storeServer(b *testing.B, kind string) http.Handler {
	b.Helper()
	cfg := server.Config{DataDir: b.TempDir(), Transition: time.Millisecond}
	if kind == "postgres" {
		cfg.Store = testkit.Postgres(b)
	}
	srv, err := server.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close() })
	return srv.Handler()
}

// BenchmarkGetFunctionStore is GetFunction over loopback HTTP, by store.
func BenchmarkGetFunctionStore(b *testing.B) {
	for _, kind := range []string{"bolt", "postgres"} {
		b.Run(kind, func(b *testing.B) {
			h := storeServer(b, kind)
			seed(b, h, 10)
			time.Sleep(5 * time.Millisecond) // past the transition: Active
			ts := httptest.NewServer(h)
			defer ts.Close()
			req, _ := http.NewRequest("GET", ts.URL+"/2015-03-31/functions/fn-000005", nil)
			req.Header.Set("Authorization", benchAuth)
			measure(b, func() int {
				resp, err := ts.Client().Do(req)
				if err != nil {
					b.Fatal(err)
				}
				var buf [4096]byte
				for {
					if _, err := resp.Body.Read(buf[:]); err != nil {
						break
					}
				}
				resp.Body.Close()
				return resp.StatusCode
			})
		})
	}
}

// zip1MB is a zip of 1 MB of incompressible data.
func zip1MB(b *testing.B) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateHeader(&zip.FileHeader{Name: "blob.bin", Method: zip.Store})
	if err != nil {
		b.Fatal(err)
	}
	data := make([]byte, 1<<20-512)
	rand.Read(data)
	w.Write(data)
	zw.Close()
	return buf.Bytes()
}

// BenchmarkCreateFunction1MB is a whole CreateFunction of a new 1 MB zip
// (the code stored durably, the records committed), by metadata store and
// code store (the data directory, or S3 on a moto_server on loopback);
// p50-ns is its median.
func BenchmarkCreateFunction1MB(b *testing.B) {
	for _, kind := range []string{"bolt", "postgres", "bolt+s3", "postgres+s3"} {
		b.Run(kind, func(b *testing.B) {
			cfg := server.Config{DataDir: b.TempDir(), Transition: time.Millisecond}
			if strings.HasPrefix(kind, "postgres") {
				cfg.Store = testkit.Postgres(b)
			}
			if strings.HasSuffix(kind, "+s3") {
				endpoint, _ := motoBucket(b, "code")
				cfg.Blobs, cfg.S3Endpoint = "s3://code/bench", endpoint
			}
			srv, err := server.New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { srv.Close() })
			h := srv.Handler()
			var times []time.Duration
			b.SetBytes(1 << 20)
			b.ResetTimer()
			for i := range b.N {
				b.StopTimer()
				enc := base64.StdEncoding.EncodeToString(zip1MB(b))
				body := fmt.Appendf(nil, `{"FunctionName":"f-%d","Role":%q,"Runtime":"python3.12","Handler":"h.h","Code":{"ZipFile":%q}}`, i, testkit.Role, enc)
				req := apiRequest("POST", "/2015-03-31/functions", body)
				w := httptest.NewRecorder()
				b.StartTimer()
				start := time.Now()
				h.ServeHTTP(w, req)
				times = append(times, time.Since(start))
				if w.Code != http.StatusCreated {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
			b.StopTimer()
			slices.Sort(times)
			b.ReportMetric(float64(times[len(times)/2].Nanoseconds()), "p50-ns")
		})
	}
}
