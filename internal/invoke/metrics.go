package invoke

import "time"

// Metrics keeps per-function figures (the server's are Prometheus's).
type Metrics interface {
	// Function is the recorder of one version of a function. The data
	// plane asks once per runnable and keeps it, so the warm path records
	// without a lookup.
	Function(name, version string) FunctionMetrics
}

// FunctionMetrics records one function version's invocations.
type FunctionMetrics interface {
	// Ran records an invocation that ran: its duration, its init
	// duration (non-zero on a cold start) and whether it ended in a
	// function error.
	Ran(d, init time.Duration, errored bool)
	// Throttled records an invocation refused by a concurrency limit.
	Throttled()
}
