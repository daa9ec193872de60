package sandbox

import (
	"bytes"
	"net/http/httptest"
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
			{"POST", "2018-06-01/runtime/init/error", "", 404, notFound},
		}},
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
			h := newRuntimeAPI(e)
			for _, s := range tc.steps {
				r := httptest.NewRequest("GET", "/", bytes.NewReader([]byte(s.body)))
				r.Method, r.URL.Path = s.method, s.path
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != s.code || w.Body.String() != s.want && s.method != "HEAD" {
					t.Errorf("%s %s: %d %s, want %d %s", s.method, s.path, w.Code, w.Body, s.code, s.want)
				}
				if ct := w.Header().Get("Content-Type"); ct != "application/json" {
					t.Errorf("%s %s: Content-Type %q", s.method, s.path, ct)
				}
			}
			if r := e.proc.initErr; tc.name == "init error" && string(r) != `{"errorMessage":"","errorType":"Runtime.Unknown"}` {
				t.Errorf("init error payload %s", r)
			}
		})
	}
}
