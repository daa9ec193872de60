package invoke

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/lambdad/lambdad/internal/sandbox"
)

// BenchmarkLogInvocation is the invoke line's own cost: "off" is a level
// that drops it (--log-level warn), "info" formats it through a text handler.
func BenchmarkLogInvocation(b *testing.B) {
	r := &runnable{fn: &sandbox.Function{Key: sandbox.Key{FunctionARN: "arn:aws:lambda:us-east-1:000000000000:function:bench", Version: "$LATEST"}}}
	res := &sandbox.Result{Duration: 1234567 * time.Nanosecond}
	for _, c := range []struct {
		name  string
		level slog.Level
	}{{"off", slog.LevelWarn}, {"info", slog.LevelInfo}} {
		b.Run(c.name, func(b *testing.B) {
			s := &Service{cfg: Config{Logger: slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: c.level}))}}
			b.ReportAllocs()
			for b.Loop() {
				s.logInvocation(r, "6f1c2b7e-0d1a-4c39-9b8e-2a4f5c6d7e8f", res)
			}
		})
	}
}
