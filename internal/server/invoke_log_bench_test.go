package server_test

import (
	"io"
	"log/slog"
	"testing"

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
			warmLatency(b, rawInvoker(b, d.URL, "/2015-03-31/functions/go-bench/invocations"), false)
		})
	}
}
