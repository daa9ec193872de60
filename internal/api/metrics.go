package api

import (
	"fmt"
	"net/http"
)

// Metrics are the figures /_lambdad/metrics exposes, in Prometheus's text format.
type Metrics func() []Metric

// Metric is one gauge or counter.
type Metric struct {
	Name, Help, Type string
	Value            float64
}

func (h *Handler) serveMetrics(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	if h.cfg.Metrics == nil {
		return
	}
	for _, m := range h.cfg.Metrics() {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n%s %v\n", m.Name, m.Help, m.Name, m.Type, m.Name, m.Value)
	}
}
