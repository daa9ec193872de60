package server_test

import (
	"slices"
	"testing"
	"time"

	"github.com/lambdad/lambdad/internal/server"
	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// BenchmarkInvokeWarmStores is a warm invoke of the aws-lambda-go echo
// function on a node of one machine (bbolt, code in the data directory)
// and on a node of a cluster (PostgreSQL, code in S3 on moto_server): the
// warm path must not wait on either (compare p50-µs with benchstat).
func BenchmarkInvokeWarmStores(b *testing.B) {
	for _, kind := range []string{"embedded", "postgres+s3"} {
		b.Run(kind, func(b *testing.B) {
			d, cl := servertest.InvokeEnv(b, func(cfg *server.Config) {
				if kind != "embedded" {
					endpoint, _ := motoBucket(b, "code")
					cfg.Store = testkit.Postgres(b)
					cfg.Blobs, cfg.S3Endpoint = "s3://code/bench", endpoint
				}
			})
			testkit.CreateActive(b, cl, testkit.GoFunction("go-bench", testkit.GoBootstrapZip(b, "testdata/goecho")))
			invoke := rawInvoker(b, d.URL, "/2015-03-31/functions/go-bench/invocations")
			for range 20 {
				if err := invoke(); err != nil {
					b.Fatal(err)
				}
			}
			times := make([]time.Duration, 0, 1024)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				start := time.Now()
				if err := invoke(); err != nil {
					b.Fatal(err)
				}
				times = append(times, time.Since(start))
			}
			b.StopTimer()
			slices.Sort(times)
			b.ReportMetric(float64(times[len(times)/2].Nanoseconds())/1e3, "p50-µs")
			b.ReportMetric(float64(times[min(len(times)-1, len(times)*99/100)].Nanoseconds())/1e3, "p99-µs")
		})
	}
}
