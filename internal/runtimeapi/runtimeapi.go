// Package runtimeapi serves the Lambda Runtime API
// (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html) that an
// execution environment's bootstrap polls, on the environment's own
// listener, over a small HTTP/1.1 server of its own rather than net/http.
//
// The API is four routes driven by one client that sends a request and
// waits for its answer, and it sits on the warm path twice per invocation.
// So the server parses only what the routes need (request line,
// Content-Length, Transfer-Encoding, Connection, Expect and the init error
// type), answers with fixed header blocks, and hands an invocation to a
// waiting runtime by writing it to the runtime's connection from the
// invoking goroutine: the connection's own goroutine stays in its read,
// which is also how a runtime that hangs up while waiting is noticed.
//
// It knows nothing of environments: an Env answers for one.
package runtimeapi

import (
	"encoding/json"
	"errors"
	"strconv"
)

// Routes of the Runtime API.
const (
	pathNext      = "/2018-06-01/runtime/invocation/next"
	pathInitError = "/2018-06-01/runtime/init/error"
	pathInvoke    = "/2018-06-01/runtime/invocation/" // {id}/response, {id}/error
)

// Env is one environment's invocation state, as its runtime drives it.
// Its methods are called from the connection goroutines.
type Env interface {
	// Next is the runtime's request for its next invocation. The Env
	// delivers it with w.Deliver, at once or later from any goroutine, at
	// most once; or returns ErrShuttingDown.
	Next(w *Waiter) error
	// CancelNext withdraws w, whose connection has moved on or gone.
	CancelNext(w *Waiter)
	// Result takes the runtime's result of invocation id.
	Result(id string, kind ResultKind, body []byte) Verdict
	// InitError takes the error that ended the runtime's init; false when
	// the init is already over.
	InitError(body []byte) bool
}

// ResultKind is what the runtime posted.
type ResultKind uint8

const (
	Response ResultKind = iota // .../response
	Failure                    // .../error
	TooLarge                   // .../response or .../error with a body over the limit
)

// Verdict is the Env's answer to a result.
type Verdict uint8

const (
	Accepted       Verdict = iota
	UnknownID              // not the pending invocation
	AlreadyHandled         // the invocation just finished
)

// ErrShuttingDown is Next's error when the environment has no process.
var ErrShuttingDown = errors.New("runtimeapi: environment is shutting down")

// Invocation is what /next hands the runtime.
type Invocation struct {
	RequestID, FunctionARN         string
	TraceID                        string
	ClientContext, CognitoIdentity string
	DeadlineMs                     int64
	Payload                        []byte
	// TenantID is the invocation's tenant, for a tenant-isolated function
	// (Lambda-Runtime-Aws-Tenant-Id); "" sends no header.
	TenantID string
}

// apiError is the body of every Runtime API error, and of an init error
// posted without one.
type apiError struct {
	Message string `json:"errorMessage"`
	Type    string `json:"errorType"`
}

func (a apiError) marshal() []byte {
	b, _ := json.Marshal(a) // two strings: cannot fail
	return b
}

// The fixed answers, marshalled once.
var (
	bodyAccepted = []byte(`{"status":"OK"}`)

	errNotFound         = apiError{"Not found", "NotFound"}.marshal()
	errMethodNotAllowed = apiError{"Method not allowed", "MethodNotAllowed"}.marshal()
	errShuttingDown     = apiError{"Environment is shutting down", "ServiceException"}.marshal()
	errBadBody          = apiError{"Failed to read request body", "InvalidRequest"}.marshal()
	errBadRequest       = apiError{"Malformed request", "InvalidRequest"}.marshal()
	errBadRequestID     = apiError{"Invalid request ID", "InvalidRequestID"}.marshal()
	errLateInitError    = apiError{"Invalid state transition: init error after init", "InvalidStateTransition"}.marshal()
)

func errTooLarge(limit int) []byte {
	return apiError{"Exceeded maximum allowed payload size (" + strconv.Itoa(limit) + " bytes).", "RequestEntityTooLarge"}.marshal()
}

func errAlreadyHandled(id string) []byte {
	return apiError{"Invalid state transition: response already received for request " + id, "InvalidStateTransition"}.marshal()
}

// initErrorBody is the init error of a runtime that posted none: its
// Lambda-Runtime-Function-Error-Type, or Runtime.Unknown.
func initErrorBody(errType string) []byte {
	if errType == "" {
		errType = "Runtime.Unknown"
	}
	return apiError{"", errType}.marshal()
}

// route is what a request asks for.
type route uint8

const (
	routeNotFound route = iota
	routeNotAllowed
	routeNext
	routeResponse
	routeInvokeError
	routeInitError
)

// match routes method and path; id is the invocation's for its results.
// Only clean paths match (see cleanPath); a request id is one path
// segment.
func match(method, path string) (r route, id string) {
	switch path {
	case pathNext:
		if method == "GET" {
			return routeNext, ""
		}
		return routeNotAllowed, ""
	case pathInitError:
		if method == "POST" {
			return routeInitError, ""
		}
		return routeNotAllowed, ""
	}
	if len(path) <= len(pathInvoke) || path[:len(pathInvoke)] != pathInvoke || !cleanPath(path) {
		return routeNotFound, ""
	}
	rest := path[len(pathInvoke):]
	for i := 0; i < len(rest); i++ {
		if rest[i] != '/' {
			continue
		}
		id, what := rest[:i], rest[i+1:]
		if id == "" || method != "POST" {
			return routeNotFound, ""
		}
		switch what {
		case "response":
			return routeResponse, id
		case "error":
			return routeInvokeError, id
		}
		return routeNotFound, ""
	}
	return routeNotFound, ""
}

// cleanPath reports whether p has no empty, "." or ".." segment: the
// paths a router would answer with a redirect, which no runtime follows,
// get the 404 of any unknown path.
func cleanPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] != '/' {
			continue
		}
		seg := p[i+1:]
		for j := 0; j < len(seg); j++ {
			if seg[j] == '/' {
				seg = seg[:j]
				break
			}
		}
		if seg == "." || seg == ".." || seg == "" && i+1 < len(p) {
			return false
		}
	}
	return true
}
