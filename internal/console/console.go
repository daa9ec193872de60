// Package console is lambdad's web console: a page served at GET / that
// calls lambdad's own Lambda and CloudWatch Logs APIs from the browser
// (signing with SigV4 when --credentials is set; logs, live ones included,
// are read as `aws logs` reads them), plus a few read-only JSON endpoints
// under /_lambdad/console/api/ for what those APIs do not tell: recent
// activity per function and the Event queue.
package console

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"

	"github.com/lambdad/lambdad/internal/awsproto"
	"github.com/lambdad/lambdad/internal/invoke"
)

// Prefix is where the console's assets and data endpoints are served.
const Prefix = "/_lambdad/console/"

//go:embed assets
var assets embed.FS

// Source is what the data endpoints read (internal/invoke's Service).
type Source interface {
	Activity(functionARN, version string) []invoke.Bucket
	PendingEvents(ctx context.Context, account, region string, limit int) ([]invoke.PendingEvent, error)
}

// Config wires the console.
type Config struct {
	Source Source
	// SignaturesChecked tells the page to ask for an access key and sign
	// its requests (--credentials is set).
	SignaturesChecked bool
	// Authenticate finds who a data request comes from, refusing it as the
	// Lambda API would (awsproto.Service.AuthenticateBodiless); nil reads
	// the identity from the Authorization header unchecked (tests).
	Authenticate func(*http.Request) (awsproto.Identity, error)
	Logger       *slog.Logger
}

// maxQueue bounds the Event invocations the queue endpoint lists.
const maxQueue = 500

type handler struct {
	cfg   Config
	mux   *http.ServeMux
	files http.Handler
}

// New returns the console's handler; route GET / and Prefix to it.
func New(cfg Config) http.Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	h := &handler{cfg: cfg, mux: http.NewServeMux(), files: http.StripPrefix(Prefix, http.FileServerFS(sub))}
	h.mux.HandleFunc("GET /{$}", h.index)
	h.mux.HandleFunc("GET "+Prefix+"api/info", h.info)
	h.mux.HandleFunc("GET "+Prefix+"api/activity", h.authed(h.activity))
	h.mux.HandleFunc("GET "+Prefix+"api/queue", h.authed(h.queue))
	h.mux.HandleFunc("GET "+Prefix+"api/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "no such console endpoint"})
	})
	h.mux.Handle("GET "+Prefix, h.files)
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Nothing may come from elsewhere: the page is self-contained.
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-cache")
	h.mux.ServeHTTP(w, r)
}

func (h *handler) index(w http.ResponseWriter, r *http.Request) {
	b, err := assets.ReadFile("assets/index.html")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(b)
}

// info tells the page whether it must ask for an access key; it says
// nothing else, so it needs no signature.
func (h *handler) info(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"credentials": h.cfg.SignaturesChecked, "region": awsproto.DefaultRegion})
}

// authed authenticates the request as the Lambda API does, and passes on
// the caller's account and region.
func (h *handler) authed(next func(http.ResponseWriter, *http.Request, awsproto.Identity)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if h.cfg.Authenticate == nil {
			next(w, r, awsproto.IdentityFrom(r, ""))
			return
		}
		id, err := h.cfg.Authenticate(r)
		if err != nil {
			out := map[string]string{"message": err.Error()}
			var ae *awsproto.Error
			if errors.As(err, &ae) {
				out = map[string]string{"__type": ae.Code, "message": ae.Message}
			}
			writeJSON(w, http.StatusForbidden, out)
			return
		}
		next(w, r, id)
	}
}

// functionARN is the unqualified ARN of the caller's function named by the
// "function" query parameter (a name, not an ARN).
func functionARN(w http.ResponseWriter, r *http.Request, id awsproto.Identity) (string, bool) {
	name := r.URL.Query().Get("function")
	if name == "" || len(name) > 64 || strings.ContainsAny(name, ":/?#% ") {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": "function must be a function name"})
		return "", false
	}
	return "arn:aws:lambda:" + id.Region + ":" + id.Account + ":function:" + name, true
}

func (h *handler) activity(w http.ResponseWriter, r *http.Request, id awsproto.Identity) {
	arn, ok := functionARN(w, r, id)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"bucketSeconds": 10, "buckets": h.cfg.Source.Activity(arn, r.URL.Query().Get("version"))})
}

func (h *handler) queue(w http.ResponseWriter, r *http.Request, id awsproto.Identity) {
	evs, err := h.cfg.Source.PendingEvents(r.Context(), id.Account, id.Region, maxQueue)
	if err != nil {
		h.cfg.Logger.Warn("console: event queue", "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"message": "could not read the event queue"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": evs, "limit": maxQueue})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
