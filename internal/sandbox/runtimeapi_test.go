package sandbox

import (
	"strconv"
	"testing"
)

// TestRuntimeAPIRoutes pins each Runtime API route's status and body, the
// 404 and 405 shapes included, on an environment whose invocation "req-1"
// waits to be fetched.
func TestRuntimeAPIRoutes(t *testing.T) {
	const (
		notFound   = `{"errorMessage":"Not found","errorType":"NotFound"}`
		notAllowed = `{"errorMessage":"Method not allowed","errorType":"MethodNotAllowed"}`
		accepted   = `{"status":"OK"}`
	)
	type step struct {
		method, path, body string
		code               int
		want               string
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"next", []step{{"GET", "/2018-06-01/runtime/invocation/next", "", 200, `{"event":1}`}}},
		{"next wrong method", []step{
			{"POST", "/2018-06-01/runtime/invocation/next", "", 405, notAllowed},
			{"HEAD", "/2018-06-01/runtime/invocation/next", "", 405, notAllowed},
			{"DELETE", "/2018-06-01/runtime/invocation/next", "", 405, notAllowed},
		}},
		{"init error wrong method", []step{{"GET", "/2018-06-01/runtime/init/error", "", 405, notAllowed}}},
		{"unknown paths", []step{
			{"GET", "/", "", 404, notFound},
			{"GET", "/2018-06-01/runtime/", "", 404, notFound},
			{"GET", "/2018-06-01/runtime/invocation/req-1/response", "", 404, notFound},
			{"POST", "/2018-06-01/runtime/invocation//response", "", 404, notFound},
			{"POST", "/2018-06-01/runtime/invocation/req-1/response/", "", 404, notFound},
			// A request id is one path segment (before the ServeMux routes,
			// this one was a 400 "Invalid request ID").
			{"POST", "/2018-06-01/runtime/invocation/req-1/../req-1/response", "", 404, notFound},
			{"POST", "/2018-06-01/runtime/invocation/req-1/other", "", 404, notFound},
			{"GET", "/2018-06-01/runtime/invocation/next/", "", 404, notFound},
		}},
		// On the wire, a target that is no path is no request at all (as
		// net/http had it, with a plain-text 400).
		{"not a path", []step{{"POST", "2018-06-01/runtime/init/error", "", 400, `{"errorMessage":"Malformed request","errorType":"InvalidRequest"}`}}},
		{"response twice", []step{
			{"POST", "/2018-06-01/runtime/invocation/req-1/response", `{"ok":true}`, 202, accepted},
			{"POST", "/2018-06-01/runtime/invocation/req-1/response", `{}`, 403, `{"errorMessage":"Invalid state transition: response already received for request req-1","errorType":"InvalidStateTransition"}`},
			{"POST", "/2018-06-01/runtime/invocation/req-1/error", `{}`, 403, `{"errorMessage":"Invalid state transition: response already received for request req-1","errorType":"InvalidStateTransition"}`},
		}},
		{"error", []step{{"POST", "/2018-06-01/runtime/invocation/req-1/error", `{"errorMessage":"x"}`, 202, accepted}}},
		{"unknown id", []step{{"POST", "/2018-06-01/runtime/invocation/other/response", `{}`, 400, `{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}`}}},
		{"init error", []step{
			{"POST", "/2018-06-01/runtime/init/error", ``, 202, accepted},
			{"POST", "/2018-06-01/runtime/init/error", ``, 403, `{"errorMessage":"Invalid state transition: init error after init","errorType":"InvalidStateTransition"}`},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := fuzzEnv()
			addr := serveAPI(t, e)
			for _, s := range tc.steps {
				req := s.method + " " + s.path + " HTTP/1.1\r\nHost: x\r\nContent-Length: " + strconv.Itoa(len(s.body)) + "\r\n\r\n" + s.body
				w := roundTrip(t, addr, req, s.method)
				if w.code != s.code || string(w.body) != s.want && s.method != "HEAD" {
					t.Errorf("%s %s: %d %s, want %d %s", s.method, s.path, w.code, w.body, s.code, s.want)
				}
				if w.ct != "application/json" {
					t.Errorf("%s %s: Content-Type %q", s.method, s.path, w.ct)
				}
			}
			if r := e.proc.initErr; tc.name == "init error" && string(r) != `{"errorMessage":"","errorType":"Runtime.Unknown"}` {
				t.Errorf("init error payload %s", r)
			}
		})
	}
}
