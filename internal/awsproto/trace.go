package awsproto

import "context"

// traceHeader is X-Ray's tracing header. AWS's SDKs send it from inside a
// function (its _X_AMZN_TRACE_ID), which is how Lambda follows a chain of
// invocations (recursive loop detection, X-Ray's sampling decision).
const traceHeader = "X-Amzn-Trace-Id"

type traceHeaderKey struct{}

func withTraceHeader(ctx context.Context, v string) context.Context {
	return context.WithValue(ctx, traceHeaderKey{}, v)
}

// TraceHeader is the X-Amzn-Trace-Id the API request ctx belongs to came
// with ("" when none).
func TraceHeader(ctx context.Context) string {
	v, _ := ctx.Value(traceHeaderKey{}).(string)
	return v
}
