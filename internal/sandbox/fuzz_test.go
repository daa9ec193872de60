package sandbox

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/lambdad/lambdad/internal/runtimeapi"
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
	f.Add("POST", "/2018-06-01/runtime/invocation/req-1/response", "Transfer-Encoding", "chunked", []byte("2\r\n{}\r\n0\r\n\r\n"))
	f.Fuzz(func(t *testing.T, method, path, hname, hvalue string, body []byte) {
		e := fuzzEnv()
		addr := serveAPI(t, e)
		req := method + " " + path + " HTTP/1.1\r\nHost: x\r\n"
		if hname != "" {
			req += hname + ": " + hvalue + "\r\n"
		}
		if hname != "Transfer-Encoding" {
			req += "Content-Length: " + strconv.Itoa(len(body)) + "\r\n"
		}
		resp := roundTrip(t, addr, req+"\r\n"+string(body), method)
		switch resp.code {
		case http.StatusOK, http.StatusAccepted, http.StatusBadRequest, http.StatusForbidden,
			http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("%s %q: status %d", method, path, resp.code)
		}
		if method != "HEAD" && !json.Valid(resp.body) || resp.ct != "application/json" {
			t.Fatalf("%s %q: status %d, %q body %q", method, path, resp.code, resp.ct, resp.body)
		}
	})
}

// serveAPI serves e's Runtime API on a loopback port until the test ends.
func serveAPI(t testing.TB, e *env) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := runtimeapi.Serve(ln, e, maxResponseBytes, nil)
	t.Cleanup(s.Close)
	return ln.Addr().String()
}

type rawResponse struct {
	code int
	ct   string
	body []byte
}

// roundTrip sends one raw request and reads its answer, which must come
// within 2 s.
func roundTrip(t testing.TB, addr, req, method string) rawResponse {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	go func() { _, _ = io.WriteString(c, req) }()
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("%q: no answer: %v", req, err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%q: body: %v", req, err)
	}
	return rawResponse{resp.StatusCode, resp.Header.Get("Content-Type"), b}
}

// fuzzEnv is an environment whose runtime has started and whose
// invocation "req-1" waits to be fetched.
func fuzzEnv() *env {
	e := &env{stopped: make(chan struct{})}
	e.proc = &proc{
		ready:     make(chan struct{}),
		initErrCh: make(chan struct{}),
		exited:    make(chan struct{}),
	}
	c := &call{
		id:       "req-1",
		inv:      Invocation{RequestID: "req-1", InvokedFunctionARN: "arn:aws:lambda:us-east-1:000000000000:function:f", Payload: []byte(`{"event":1}`)},
		deadline: time.Now().Add(time.Minute),
		done:     make(chan struct{}, 1), // as an environment's
	}
	e.cur = c
	e.queued = c
	return e
}
