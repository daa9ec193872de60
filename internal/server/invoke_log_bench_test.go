package server_test

import (
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/lambdad/lambdad/internal/server"
	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// BenchmarkInvokeGoEchoWarmLogLine is BenchmarkInvokeGoEchoWarm's "raw" case
// with lambdad's log off ("off": as --log-level warn) and at Info ("info":
// the default, one line per invocation through a text handler), so the
// difference of their p50s is what the line costs a warm invoke.
func BenchmarkInvokeGoEchoWarmLogLine(b *testing.B) {
	for _, c := range []struct {
		name string
		log  *slog.Logger
	}{
		{"off", slog.New(slog.DiscardHandler)},
		{"info", slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))},
	} {
		b.Run(c.name, func(b *testing.B) {
			d, cl := servertest.InvokeEnv(b, func(cfg *server.Config) { cfg.Logger = c.log })
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
