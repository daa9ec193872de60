package server

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/lambdad/lambdad/internal/invoke"
)

// metrics is lambdad's Prometheus registry: the totals it always had (same
// names), per-function figures labelled function and version, and Go's
// runtime and process metrics.
type metrics struct {
	reg         *prometheus.Registry
	invocations *prometheus.CounterVec
	errors      *prometheus.CounterVec
	throttles   *prometheus.CounterVec
	coldStarts  *prometheus.CounterVec
	duration    *prometheus.HistogramVec
}

// Labels of the per-function metrics. The function label is the name: the
// same name in two accounts or regions adds up.
var fnLabels = []string{"function", "version"}

// durationBuckets span a warm Go invoke (well under 1 ms) to the 15 min
// timeout, in seconds.
var durationBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		invocations: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lambdad_function_invocations_total",
			Help: "Invocations that ran, per function version."}, fnLabels),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lambdad_function_invocation_errors_total",
			Help: "Invocations that ended in a function error, per function version."}, fnLabels),
		throttles: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lambdad_function_throttles_total",
			Help: "Invocations refused by a concurrency limit, per function version."}, fnLabels),
		coldStarts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lambdad_function_cold_starts_total",
			Help: "Invocations that started an execution environment (an Init Duration), per function version."}, fnLabels),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "lambdad_function_duration_seconds",
			Help: "Handler time of invocations, per function version.", Buckets: durationBuckets}, fnLabels),
	}
	m.reg.MustRegister(m.invocations, m.errors, m.throttles, m.coldStarts, m.duration,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// register adds lambdad's totals, read from the parts' own counters when
// scraped.
func (m *metrics) register(s *Server) {
	c := s.invoke.Counts()
	counter := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f)
	}
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	m.reg.MustRegister(
		counter("lambdad_invocations_total", "Invocations that ran (sync and Event).", func() float64 { return float64(c.Invocations.Load()) }),
		counter("lambdad_function_errors_total", "Invocations that ended in a function error.", func() float64 { return float64(c.FunctionErrors.Load()) }),
		counter("lambdad_throttles_total", "Invocations refused by a concurrency limit.", func() float64 { return float64(c.Throttles.Load()) }),
		counter("lambdad_events_queued_total", "Event invocations accepted into the queue.", func() float64 { return float64(c.Events.Load()) }),
		counter("lambdad_invocation_seconds_total", "Time spent in function handlers.", func() float64 { return float64(c.DurationMicros.Load()) / 1e6 }),
		counter("lambdad_destination_deliveries_total", "Records and dead-letter events delivered to SQS, SNS, EventBridge or S3.",
			func() float64 { return float64(s.dests.Counts().Delivered.Load()) }),
		counter("lambdad_destination_failures_total", "Records and dead-letter events that could not be delivered after retries (logged).",
			func() float64 { return float64(s.dests.Counts().Failures.Load()) }),
		counter("lambdad_esm_problems_total", "Event source mapping polls or batches that failed: a source unreachable, a function missing, failing or throttled (logged when new).",
			func() float64 { return float64(s.esm.Counts().Problems.Load()) }),
		counter("lambdad_esm_start_failures_total", "Enabled event source mappings whose poller could not start (logged).",
			func() float64 { return float64(s.esm.Counts().StartFailures.Load()) }),
		counter("lambdad_esm_sqs_messages_deleted_total", "SQS messages event source mappings deleted: handled by their function, or filtered out.",
			func() float64 { return float64(s.esm.Counts().SQSDeleted.Load()) }),
		gauge("lambdad_esm_mappings_with_problems", "Running event source mappings whose last processing result is a problem.",
			func() float64 { return float64(s.esm.Troubled()) }),
		gauge("lambdad_environments", "Execution environments running.", func() float64 { return float64(s.sandbox.Stats().Total) }),
		gauge("lambdad_environments_busy", "Execution environments running an invocation.", func() float64 { return float64(s.sandbox.Stats().Busy) }),
	)
}

// handler serves the registry in Prometheus's text format (or what the
// scraper negotiates).
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Function resolves one version's label children once: the data plane
// keeps the result, so recording an invocation is a few atomic adds.
func (m *metrics) Function(name, version string) invoke.FunctionMetrics {
	return &fnMetrics{
		invocations: m.invocations.WithLabelValues(name, version),
		errors:      m.errors.WithLabelValues(name, version),
		throttles:   m.throttles.WithLabelValues(name, version),
		coldStarts:  m.coldStarts.WithLabelValues(name, version),
		duration:    m.duration.WithLabelValues(name, version),
	}
}

// fnMetrics are one function version's label children.
type fnMetrics struct {
	invocations, errors, throttles, coldStarts prometheus.Counter
	duration                                   prometheus.Observer
}

func (f *fnMetrics) Ran(d, init time.Duration, errored bool) {
	f.invocations.Inc()
	f.duration.Observe(d.Seconds())
	if init > 0 {
		f.coldStarts.Inc()
	}
	if errored {
		f.errors.Inc()
	}
}

func (f *fnMetrics) Throttled() { f.throttles.Inc() }
