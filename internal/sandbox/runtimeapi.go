package sandbox

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"
)

// The Runtime API each environment serves to its bootstrap, as AWS's
// (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html).
const (
	routeNext          = "/2018-06-01/runtime/invocation/next"
	routeInitError     = "/2018-06-01/runtime/init/error"
	routeResponse      = "/2018-06-01/runtime/invocation/{id}/response"
	routeInvokeError   = "/2018-06-01/runtime/invocation/{id}/error"
	acceptedBody       = `{"status":"OK"}`
	runtimeContentType = "application/json"
)

// apiError is the body of every Runtime API error, and of an init error
// posted without one.
type apiError struct {
	Message string `json:"errorMessage"`
	Type    string `json:"errorType"`
}

var (
	errNotFound         = apiError{"Not found", "NotFound"}
	errMethodNotAllowed = apiError{"Method not allowed", "MethodNotAllowed"}
	errShuttingDown     = apiError{"Environment is shutting down", "ServiceException"}
	errBadBody          = apiError{"Failed to read request body", "InvalidRequest"}
	errBadRequestID     = apiError{"Invalid request ID", "InvalidRequestID"}
	errLateInitError    = apiError{"Invalid state transition: init error after init", "InvalidStateTransition"}
	errTooLarge         = apiError{"Exceeded maximum allowed payload size (" + strconv.Itoa(maxResponseBytes) + " bytes).", "RequestEntityTooLarge"}
)

func (a apiError) marshal() []byte {
	b, _ := json.Marshal(a) // two strings: cannot fail
	return b
}

// newRuntimeAPI routes the Runtime API to e. Paths it does not know are
// 404 and known paths with another method 405, with AWS's JSON bodies
// rather than ServeMux's plain-text ones.
func newRuntimeAPI(e *env) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+routeNext, e.handleNext)
	mux.HandleFunc("POST "+routeResponse, e.handleResponse)
	mux.HandleFunc("POST "+routeInvokeError, e.handleInvokeError)
	mux.HandleFunc("POST "+routeInitError, e.handleInitError)
	notAllowed := func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusMethodNotAllowed, errMethodNotAllowed)
	}
	// A GET pattern also matches HEAD, which /next has never accepted.
	mux.HandleFunc("HEAD "+routeNext, notAllowed)
	mux.HandleFunc(routeNext, notAllowed)
	mux.HandleFunc(routeInitError, notAllowed)
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, errNotFound)
	})
	return &runtimeAPI{mux: mux}
}

type runtimeAPI struct{ mux *http.ServeMux }

func (a *runtimeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// ServeMux answers an unclean path with a redirect; no runtime follows
	// one, so it gets the 404 of any unknown path.
	if p := r.URL.Path; r.Method != http.MethodConnect && !cleanPath(p) {
		writeError(w, http.StatusNotFound, errNotFound)
		return
	}
	a.mux.ServeHTTP(w, r)
}

// cleanPath reports whether ServeMux would route p as it is.
func cleanPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	if !strings.Contains(p, "//") && !strings.Contains(p, "/.") {
		return true // nothing to clean: the runtimes' requests
	}
	c := path.Clean(p)
	if p[len(p)-1] == '/' && c != "/" {
		c += "/"
	}
	return c == p
}

func writeError(w http.ResponseWriter, code int, a apiError) {
	w.Header()["Content-Type"] = []string{runtimeContentType}
	w.WriteHeader(code)
	_, _ = w.Write(a.marshal())
}

// writeAccepted acknowledges a result or init error.
func writeAccepted(w http.ResponseWriter) {
	w.Header()["Content-Type"] = []string{runtimeContentType}
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, acceptedBody)
}

// handleNext hands the runtime its next invocation, waiting for one; the
// first call ends the init phase.
func (e *env) handleNext(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	pr := e.proc
	if pr != nil && pr.phase == initRunning {
		pr.phase = initReady
		pr.initDone = time.Now()
		close(pr.ready)
	}
	e.mu.Unlock()
	if pr == nil {
		writeError(w, http.StatusInternalServerError, errShuttingDown)
		return
	}
	for {
		select {
		case c := <-e.work:
			e.mu.Lock()
			ok := e.cur == c && c.state == callPending
			e.mu.Unlock()
			if !ok {
				continue
			}
			h := w.Header()
			// One array backs every value (each capped, so none can grow
			// into the next): one allocation instead of one per header.
			vals := make([]string, 0, 8)
			set := func(k, v string) {
				vals = append(vals, v)
				n := len(vals)
				h[k] = vals[n-1 : n : n]
			}
			set("Content-Type", runtimeContentType)
			set("Lambda-Runtime-Aws-Request-Id", c.id)
			set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(c.deadline.UnixMilli(), 10))
			set("Lambda-Runtime-Invoked-Function-Arn", c.inv.InvokedFunctionARN)
			if c.inv.TraceID != "" {
				set("Lambda-Runtime-Trace-Id", c.inv.TraceID)
			}
			if c.inv.ClientContext != "" {
				set("Lambda-Runtime-Client-Context", c.inv.ClientContext)
			}
			if c.inv.CognitoIdentity != "" {
				set("Lambda-Runtime-Cognito-Identity", c.inv.CognitoIdentity)
			}
			set("Content-Length", strconv.Itoa(len(c.inv.Payload)))
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(c.inv.Payload)
			return
		case <-pr.exited:
			return
		case <-e.stopped:
			return
		case <-r.Context().Done():
			return
		}
	}
}

// handleResponse takes the invocation's result.
func (e *env) handleResponse(w http.ResponseWriter, r *http.Request) {
	e.handleResult(w, r, callResponded)
}

// handleInvokeError takes the invocation's error.
func (e *env) handleInvokeError(w http.ResponseWriter, r *http.Request) {
	e.handleResult(w, r, callFailed)
}

func (e *env) handleResult(w http.ResponseWriter, r *http.Request, st callState) {
	id := r.PathValue("id")
	body, tooLarge, err := readBody(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, errBadBody)
		return
	}
	if tooLarge {
		st = callTooLarge
	}
	if ok, last := e.complete(id, st, body); !ok {
		if last {
			writeError(w, http.StatusForbidden, apiError{"Invalid state transition: response already received for request " + id, "InvalidStateTransition"})
		} else {
			writeError(w, http.StatusBadRequest, errBadRequestID)
		}
		return
	}
	if tooLarge {
		writeError(w, http.StatusRequestEntityTooLarge, errTooLarge)
		return
	}
	writeAccepted(w)
}

// handleInitError takes the error that ended the runtime's init.
func (e *env) handleInitError(w http.ResponseWriter, r *http.Request) {
	body, _, err := readBody(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, errBadBody)
		return
	}
	if len(body) == 0 {
		t := r.Header.Get("Lambda-Runtime-Function-Error-Type")
		if t == "" {
			t = "Runtime.Unknown"
		}
		body = apiError{"", t}.marshal()
	}
	e.mu.Lock()
	pr := e.proc
	if pr == nil || pr.phase != initRunning {
		e.mu.Unlock()
		writeError(w, http.StatusForbidden, errLateInitError)
		return
	}
	pr.phase = initFailed
	pr.initErr = body
	e.mu.Unlock()
	close(pr.initErrCh)
	writeAccepted(w)
}

// readBody reads at most maxResponseBytes; tooLarge reports an excess.
func readBody(r *http.Request) (body []byte, tooLarge bool, err error) {
	if r.ContentLength > maxResponseBytes {
		// Consume it anyway so the runtime's keep-alive connection stays
		// usable for its next /next.
		_, err = io.CopyN(io.Discard, r.Body, 64<<20)
		if errors.Is(err, io.EOF) {
			err = nil
		}
		return nil, true, err
	}
	if r.ContentLength >= 0 {
		body = make([]byte, r.ContentLength)
		_, err = io.ReadFull(r.Body, body)
		return body, false, err
	}
	body, err = io.ReadAll(io.LimitReader(r.Body, maxResponseBytes+1))
	if len(body) > maxResponseBytes {
		_, _ = io.CopyN(io.Discard, r.Body, 64<<20)
		return nil, true, err
	}
	return body, false, err
}
