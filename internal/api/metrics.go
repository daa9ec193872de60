package api

import (
	"net/http"
)

// serveMetrics answers /_lambdad/metrics with Config.Metrics (the server's
// Prometheus registry), or nothing.
func (h *Handler) serveMetrics(w http.ResponseWriter, r *http.Request) {
	if h.cfg.Metrics == nil {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		return
	}
	h.cfg.Metrics.ServeHTTP(w, r)
}
