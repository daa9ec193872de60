package invoke

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"time"

	"github.com/lambdad/lambdad/internal/sandbox"
)

// logInvocation writes lambdad's one line per invocation to its own log, at
// Info: what ran, how long, whether it started cold, and how it failed.
// --log-level warn silences it; a disabled level costs one Enabled call.
func (s *Service) logInvocation(r *runnable, requestID string, res *sandbox.Result) {
	log := s.cfg.Logger
	ctx := context.Background()
	if !log.Enabled(ctx, slog.LevelInfo) {
		return
	}
	attrs := [6]slog.Attr{
		slog.String("function", functionName(r.fn.Key.FunctionARN)),
		slog.String("version", r.fn.Key.Version),
		slog.String("request_id", requestID),
		slog.Duration("duration", res.Duration.Round(time.Microsecond)),
		slog.String("cold_start", "no"),
	}
	if res.InitDuration > 0 {
		attrs[4] = slog.Duration("cold_start", res.InitDuration.Round(time.Microsecond))
	}
	n := 5
	if res.FunctionError != "" {
		attrs[5] = slog.String("error", errorType(res))
		n = 6
	}
	log.LogAttrs(ctx, slog.LevelInfo, "invoke", attrs[:n]...)
}

// errorType is the type a failed invocation's error document names, else
// its FunctionError.
func errorType(res *sandbox.Result) string {
	var doc struct {
		ErrorType string `json:"errorType"`
	}
	if json.Unmarshal(res.Payload, &doc) == nil && doc.ErrorType != "" {
		return doc.ErrorType
	}
	return res.FunctionError
}

// functionName is the name in an unqualified function ARN.
func functionName(arn string) string {
	if i := strings.LastIndex(arn, ":function:"); i >= 0 {
		return arn[i+len(":function:"):]
	}
	return arn
}
