package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// FuzzRuntimeAPI throws arbitrary methods, paths, headers and bodies at an
// environment's Runtime API, in the state where a runtime has started and
// an invocation waits: every request gets an answer at once (never a panic
// or a hang), with a status from the API's small set and a JSON body.
func FuzzRuntimeAPI(f *testing.F) {
	f.Add("GET", "/2018-06-01/runtime/invocation/next", "", "", []byte{})
	f.Add("POST", "/2018-06-01/runtime/invocation/req-1/response", "Content-Type", "application/json", []byte(`{"ok":true}`))
	f.Add("POST", "/2018-06-01/runtime/invocation/req-1/error", "Lambda-Runtime-Function-Error-Type", "My.Error", []byte(`{"errorMessage":"x"}`))
	f.Add("POST", "/2018-06-01/runtime/invocation/other/response", "", "", []byte(`{}`))
	f.Add("POST", "/2018-06-01/runtime/init/error", "Lambda-Runtime-Function-Error-Type", "\"\\\xff\x01", []byte{})
	f.Add("PUT", "/2018-06-01/runtime/invocation/next", "", "", []byte("x"))
	f.Add("GET", "/2018-06-01/runtime/invocation//response", "", "", []byte{})
	f.Add("POST", "/2018-06-01/runtime/invocation/req-1/response/error", "", "", []byte{})
	f.Fuzz(func(t *testing.T, method, path, hname, hvalue string, body []byte) {
		e := fuzzEnv()
		r := httptest.NewRequest("GET", "/", bytes.NewReader(body))
		r.Method, r.URL.Path, r.URL.RawPath = method, path, ""
		if hname != "" {
			r.Header[hname] = []string{hvalue}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		w := httptest.NewRecorder()
		newRuntimeAPI(e).ServeHTTP(w, r.WithContext(ctx))
		if ctx.Err() != nil {
			t.Fatalf("%s %q: no answer within 2 s", method, path)
		}
		switch w.Code {
		case http.StatusOK, http.StatusAccepted, http.StatusBadRequest, http.StatusForbidden,
			http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("%s %q: status %d", method, path, w.Code)
		}
		if !json.Valid(w.Body.Bytes()) || w.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("%s %q: status %d, %q body %q", method, path, w.Code, w.Header().Get("Content-Type"), w.Body)
		}
	})
}

// fuzzEnv is an environment whose runtime has started and whose
// invocation "req-1" waits to be fetched.
func fuzzEnv() *env {
	e := &env{
		stopped: make(chan struct{}),
		work:    make(chan *call, 1),
	}
	e.proc = &proc{
		ready:     make(chan struct{}),
		initErrCh: make(chan struct{}),
		exited:    make(chan struct{}),
	}
	c := &call{
		id:       "req-1",
		inv:      &Invocation{RequestID: "req-1", InvokedFunctionARN: "arn:aws:lambda:us-east-1:000000000000:function:f", Payload: []byte(`{"event":1}`)},
		deadline: time.Now().Add(time.Minute),
		done:     make(chan struct{}),
	}
	e.cur = c
	e.work <- c
	return e
}
