package server

import (
	"encoding/json"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"time"

	"github.com/lambdad/lambdad/internal/awsproto"
)

// resetPath wipes lambdad's state for test suites (see Server.Reset).
const resetPath = "/_lambdad/reset"

// Reset is what POST /_lambdad/reset removed, and how long it took.
type Reset struct {
	Functions          int     `json:"functions"`
	Layers             int     `json:"layers"`
	CodeSigningConfigs int     `json:"codeSigningConfigs"`
	CapacityProviders  int     `json:"capacityProviders"`
	EventSourceMapping int     `json:"eventSourceMappings"`
	DurableExecutions  int     `json:"durableExecutions"`
	QueuedEvents       int     `json:"queuedEvents"`
	Seconds            float64 `json:"seconds"`
}

// withReset serves POST /_lambdad/reset in front of next.
func (s *Server) withReset(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != resetPath {
			next.ServeHTTP(w, r)
			return
		}
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		if !s.mayReset(r) {
			http.Error(w, "reset is answered only to loopback clients, or with --credentials to a signed request of an --admin-keys key", http.StatusForbidden)
			return
		}
		out, err := s.reset(r)
		if err != nil {
			s.log.Error("reset", "err", err)
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		s.log.Info("reset", "functions", out.Functions, "layers", out.Layers, "seconds", out.Seconds)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(out)
	})
}

// mayReset: without --credentials, a client on loopback that is not one of
// lambdad's own execution environments; with them, a request signed (and
// checked) with one of the --admin-keys, from anywhere. A function's key is
// never an admin key.
func (s *Server) mayReset(r *http.Request) bool {
	if awsproto.FromEnvironment(r.Context()) {
		return false
	}
	if s.cfg.Credentials == nil {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			return false
		}
		ip, err := netip.ParseAddr(host)
		return err == nil && ip.Unmap().IsLoopback()
	}
	admin := func(key string) (string, bool) {
		if !slices.Contains(s.cfg.AdminKeys, key) {
			return "", false
		}
		secret, ok := s.cfg.Credentials[key]
		return secret, ok
	}
	return awsproto.VerifySignature(r, admin, time.Now()) == nil
}

// reset removes every function, layer, code signing config, capacity
// provider, event source mapping, durable execution and queued event, and
// stops every environment (busy ones after their invocation). Each part is
// its own transaction: an invoke that runs meanwhile either finds its
// function or gets ResourceNotFoundException, as with DeleteFunction.
func (s *Server) reset(r *http.Request) (Reset, error) {
	ctx := r.Context()
	start := time.Now()
	var out Reset
	var err error
	// Mappings first, so that no poller invokes a function being deleted.
	if out.EventSourceMapping, err = s.esm.Reset(ctx); err != nil {
		return out, err
	}
	if out.QueuedEvents, err = s.invoke.DropQueued(ctx); err != nil {
		return out, err
	}
	c, err := s.functions.Reset(ctx)
	out.Functions, out.Layers, out.CodeSigningConfigs = c.Functions, c.Layers, c.CodeSigningConfigs
	if err != nil {
		return out, err
	}
	if out.CapacityProviders, err = s.capacity.Reset(ctx); err != nil {
		return out, err
	}
	if out.DurableExecutions, err = s.durable.Reset(ctx); err != nil {
		return out, err
	}
	s.sandbox.RetireAll()
	out.Seconds = time.Since(start).Seconds()
	return out, nil
}
