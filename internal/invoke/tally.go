package invoke

import (
	"time"

	"github.com/lambdad/lambdad/internal/functions"
)

// tally is one function version's recorder of invocations: every figure
// kept per invoke (the Service's Counts, Config.Metrics' recorder, the
// console's activity) is recorded through it. A runnable resolves its
// tally once, so the warm path records with no lookup but the activity's
// time bucket.
type tally struct {
	s       *Service
	prom    FunctionMetrics // nil without Config.Metrics
	act     *fnActivity
	version string
}

// tally is snap's recorder.
func (s *Service) tally(snap *functions.Snapshot) *tally {
	t := &tally{s: s, act: s.activity.fn(snap.FunctionARN), version: snap.Version}
	if s.cfg.Metrics != nil {
		t.prom = s.cfg.Metrics.Function(snap.Ref.Name, snap.Version)
	}
	return t
}

// Ran records an invocation that ran.
func (t *tally) Ran(d, init time.Duration, errored bool) {
	c := &t.s.counts
	c.Invocations.Add(1)
	c.DurationMicros.Add(d.Microseconds())
	if errored {
		c.FunctionErrors.Add(1)
	}
	if t.prom != nil {
		t.prom.Ran(d, init, errored)
	}
	t.s.activity.ran(t.act, t.version, d, init, errored)
}

// Throttled records an invocation refused by a concurrency limit.
func (t *tally) Throttled() {
	t.s.counts.Throttles.Add(1)
	if t.prom != nil {
		t.prom.Throttled()
	}
	t.s.activity.throttled(t.act, t.version)
}

// throttled counts a throttle of snap.
func (s *Service) throttled(snap *functions.Snapshot) { s.tally(snap).Throttled() }
