package server

import (
	"testing"
	"time"
)

// BenchmarkFunctionMetricsRan is what recording one warm invocation adds
// to the invoke path (the label children are resolved once per version).
func BenchmarkFunctionMetricsRan(b *testing.B) {
	m := newMetrics().Function("fn", "$LATEST")
	b.ReportAllocs()
	for b.Loop() {
		m.Ran(300*time.Microsecond, 0, false)
	}
}
