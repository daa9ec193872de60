package invoke

import (
	"time"

	"github.com/lambdad/lambdad/internal/functions"
)

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

// fnMetrics is snap's recorder, or nil without Config.Metrics.
func (s *Service) fnMetrics(snap *functions.Snapshot) FunctionMetrics {
	if s.cfg.Metrics == nil {
		return nil
	}
	return s.cfg.Metrics.Function(snap.Ref.Name, snap.Version)
}

// throttled counts a throttle of snap.
func (s *Service) throttled(snap *functions.Snapshot) {
	s.counts.Throttles.Add(1)
	s.activity.throttled(snap.FunctionARN, snap.Version)
	if m := s.fnMetrics(snap); m != nil {
		m.Throttled()
	}
}
