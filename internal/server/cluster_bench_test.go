package server_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/lambdad/lambdad/internal/server"
	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// BenchmarkInvokeGoEchoWarmCluster is BenchmarkInvokeGoEchoWarm/raw on a
// lambdad that is a node of a cluster, with reserved concurrency, so that
// both the function's and the account's limits are the cluster's: the warm
// path admits from local share and never waits on PostgreSQL. "alone" is
// the same lambdad without --cluster, in the same run.
func BenchmarkInvokeGoEchoWarmCluster(b *testing.B) {
	url := testkit.Postgres(b)
	for _, c := range []struct {
		name string
		tune func(*server.Config)
	}{
		{"alone", nil},
		{"cluster", func(c *server.Config) { c.Cluster = server.ClusterConfig{URL: url, NodeID: "bench"} }},
	} {
		b.Run(c.name, func(b *testing.B) {
			d, cl := servertest.InvokeEnv(b, c.tune)
			testkit.CreateActive(b, cl, testkit.GoFunction("go-bench", testkit.GoBootstrapZip(b, "testdata/goecho")))
			if _, err := cl.PutFunctionConcurrency(context.Background(), &lambda.PutFunctionConcurrencyInput{FunctionName: aws.String("go-bench"), ReservedConcurrentExecutions: aws.Int32(100)}); err != nil {
				b.Fatal(err)
			}
			invoke := rawInvoker(b, d.URL, "/2015-03-31/functions/go-bench/invocations")
			for range 20 { // cold start, connection set-up and the first share
				if err := invoke(); err != nil {
					b.Fatal(err)
				}
			}
			times := make([]time.Duration, 0, 1024)
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := processCPU()
			for b.Loop() {
				start := time.Now()
				if err := invoke(); err != nil {
					b.Fatal(err)
				}
				times = append(times, time.Since(start))
			}
			cpu := processCPU() - cpu0
			b.StopTimer()
			slices.Sort(times)
			pct := func(p float64) float64 {
				return float64(times[min(len(times)-1, int(float64(len(times))*p))].Nanoseconds()) / 1e3
			}
			b.ReportMetric(pct(0.50), "p50-µs")
			b.ReportMetric(pct(0.99), "p99-µs")
			b.ReportMetric(float64(cpu.Nanoseconds())/1e3/float64(len(times)), "cpu-µs/op")
		})
	}
}
