package runtimeapi

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeEnv hands out invocation "req-N" on every /next and records results.
type fakeEnv struct {
	payload   []byte        // the invocations' payload, {"n":1} by default
	deadline  time.Duration // from now, a minute by default
	delivered chan bool     // Deliver's results, when set
	later     chan *Waiter  // when set, Next hands its waiter here instead
	mu        sync.Mutex
	n         int
	results   map[string][]byte
	kinds     map[string]ResultKind
	initErr   []byte
	tenant    string // the invocations' tenant, none by default
}

func (f *fakeEnv) Next(w *Waiter) error {
	f.mu.Lock()
	f.n++
	id := "req-" + string(rune('0'+f.n%10))
	f.mu.Unlock()
	if f.later != nil {
		f.later <- w
		return nil
	}
	p, d := f.payload, f.deadline
	if p == nil {
		p = []byte(`{"n":1}`)
	}
	if d == 0 {
		d = time.Minute
	}
	inv := &Invocation{RequestID: id, FunctionARN: "arn:f", ClientContext: "a\r\nX-Evil: 1", DeadlineMs: time.Now().Add(d).UnixMilli(), Payload: p, TenantID: f.tenant}
	if f.delivered == nil {
		w.Deliver(inv)
		return nil
	}
	go func() { f.delivered <- w.Deliver(inv) }()
	return nil
}

func (f *fakeEnv) CancelNext(*Waiter) {}

func (f *fakeEnv) Result(id string, kind ResultKind, body []byte) Verdict {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.results[id]; ok {
		return AlreadyHandled
	}
	if !strings.HasPrefix(id, "req-") {
		return UnknownID
	}
	f.results[id], f.kinds[id] = body, kind
	return Accepted
}

func (f *fakeEnv) InitError(body []byte) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.initErr != nil {
		return false
	}
	f.initErr = body
	return true
}

func serve(t testing.TB, limit int) (*fakeEnv, string) {
	t.Helper()
	return serveEnv(t, limit, &fakeEnv{})
}

func serveEnv(t testing.TB, limit int, f *fakeEnv) (*fakeEnv, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.results, f.kinds = map[string][]byte{}, map[string]ResultKind{}
	s := Serve(ln, f, limit, nil)
	t.Cleanup(s.Close)
	return f, ln.Addr().String()
}

// TestNetHTTPClient drives the server the way Go runtimes do: keep-alive,
// Content-Length and chunked bodies, Expect: 100-continue.
func TestNetHTTPClient(t *testing.T) {
	f, addr := serve(t, 1<<20)
	base := "http://" + addr + "/2018-06-01/runtime/"
	hc := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: 5 * time.Second}}
	t.Cleanup(hc.CloseIdleConnections)
	for i := range 3 {
		resp, err := hc.Get(base + "invocation/next")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
		if resp.StatusCode != 200 || string(body) != `{"n":1}` || id == "" || resp.Header.Get("X-Evil") != "" ||
			resp.Header.Get("Lambda-Runtime-Client-Context") != "a  X-Evil: 1" || resp.Header.Get("Lambda-Runtime-Deadline-Ms") == "" {
			t.Fatalf("next: %d %q %v", resp.StatusCode, body, resp.Header)
		}
		var rd io.Reader = strings.NewReader(`{"ok":true}`)
		if i == 1 {
			rd = io.MultiReader(rd) // unknown length: chunked
		}
		req, _ := http.NewRequest("POST", base+"invocation/"+id+"/response", rd)
		if i == 2 {
			req.Header.Set("Expect", "100-continue")
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err = hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 202 || string(body) != `{"status":"OK"}` || string(f.results[id]) != `{"ok":true}` {
			t.Fatalf("response %d: %d %q, stored %q", i, resp.StatusCode, body, f.results[id])
		}
	}
}

// TestTooLarge: a result over the limit is TooLarge and the connection
// stays usable.
func TestTooLarge(t *testing.T) {
	f, addr := serve(t, 10)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	for _, req := range []string{
		"POST /2018-06-01/runtime/invocation/req-1/response HTTP/1.1\r\nContent-Length: 11\r\n\r\n01234567890",
		"POST /2018-06-01/runtime/invocation/req-2/error HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n012345\r\n6\r\n012345\r\n0\r\n\r\n",
		"POST /2018-06-01/runtime/invocation/req-3/response HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n",
	} {
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		want := 413
		if strings.Contains(req, "req-3") {
			want = 202
		}
		if resp.StatusCode != want {
			t.Errorf("%q: %d, want %d", req, resp.StatusCode, want)
		}
	}
	if f.kinds["req-1"] != TooLarge || f.kinds["req-2"] != TooLarge || string(f.results["req-3"]) != "abc" {
		t.Errorf("results %v %q", f.kinds, f.results)
	}
}

// TestConnectionClose: HTTP/1.0 and Connection: close end the connection
// after the answer; a framing error is a 400 and ends it too.
func TestConnectionClose(t *testing.T) {
	_, addr := serve(t, 1<<20)
	for _, req := range []string{
		"GET /2018-06-01/runtime/invocation/next HTTP/1.0\r\n\r\n",
		"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nConnection: close\r\n\r\n",
		"GET /x HTTP/1.1\r\nConnection: close\r\n\r\n",
		"GET /x HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
		"GET /x HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
		"GARBAGE\r\n\r\n",
	} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
		all, err := io.ReadAll(c) // ends only if the server closes
		c.Close()
		if err != nil {
			t.Errorf("%q: %v after %q", req, err, all)
			continue
		}
		head, body, _ := bytes.Cut(all, []byte("\r\n\r\n"))
		if !bytes.HasPrefix(head, []byte("HTTP/1.1 ")) || !json.Valid(body) {
			t.Errorf("%q: answer %q", req, all)
		}
	}
}

// FuzzServer feeds arbitrary bytes to a connection: every complete
// answer is a known status with a JSON body, and the server never hangs
// once the client has said all it will.
func FuzzServer(f *testing.F) {
	f.Add([]byte("GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n"))
	f.Add([]byte("POST /2018-06-01/runtime/invocation/req-1/response HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"))
	f.Add([]byte("POST /2018-06-01/runtime/invocation/req-1/error HTTP/1.1\r\nTransfer-Encoding: chunked\r\nLambda-Runtime-Function-Error-Type: E\r\n\r\n2;x=y\r\n{}\r\n0\r\n\r\n"))
	f.Add([]byte("POST /2018-06-01/runtime/init/error HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\nGET /2018-06-01/runtime/invocation/next HTTP/1.0\r\n\r\n"))
	f.Add([]byte("GET http://x/2018-06-01/runtime/invocation/next?a=b HTTP/1.1\r\n\r\nHEAD / HTTP/1.1\r\n\r\n"))
	f.Add([]byte("POST /2018-06-01/runtime/invocation/req%2D1/response HTTP/1.1\r\nContent-Length: 3\r\n\r\n123"))
	_, addr := serve(f, 64)
	f.Fuzz(func(t *testing.T, in []byte) {
		// An answer to HEAD has no body, which a reader of pipelined
		// answers cannot tell; TestRuntimeAPIRoutes in sandbox covers it.
		in = bytes.ReplaceAll(in, []byte("HEAD"), []byte("HEAX"))
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		go func() {
			_, _ = c.Write(in)
			_ = c.(*net.TCPConn).CloseWrite()
		}()
		br := bufio.NewReader(c)
		for {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					t.Fatalf("%q: no end within 5 s", in)
				}
				return // the server closed: fine
			}
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				return
			}
			switch resp.StatusCode {
			case 100:
				continue
			case 200, 202, 400, 403, 404, 405, 413:
			default:
				t.Fatalf("%q: status %d", in, resp.StatusCode)
			}
			if resp.Header.Get("Content-Type") != "application/json" || len(body) > 0 && !json.Valid(body) {
				t.Fatalf("%q: %d %q %q", in, resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
		}
	})
}

// TestLargeInvocation: a payload too big to copy behind its headers
// arrives whole.
func TestLargeInvocation(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 3<<20)
	_, addr := serveEnv(t, 1<<20, &fakeEnv{payload: big})
	resp, err := http.Get("http://" + addr + "/2018-06-01/runtime/invocation/next")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("got %d bytes, %v", len(got), err)
	}
}

// TestDeliverDeadline: a runtime that asks for an invocation and reads
// nothing holds its invoker until the invocation's deadline, not longer.
func TestDeliverDeadline(t *testing.T) {
	f := &fakeEnv{payload: bytes.Repeat([]byte("x"), 32<<20), deadline: 300 * time.Millisecond, delivered: make(chan bool, 1)}
	_, addr := serveEnv(t, 1<<20, f)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	select {
	case ok := <-f.delivered:
		if ok {
			t.Error("delivered to a runtime that read nothing")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Deliver still blocked 10 s after the deadline")
	}
}

// TestNextWaitsOnClosingConnection: a /next that says Connection: close
// (Python's urllib does), or comes as HTTP/1.0, still gets its invocation
// when one comes later, and the connection then ends.
func TestNextWaitsOnClosingConnection(t *testing.T) {
	for _, req := range []string{
		"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nConnection: close\r\n\r\n",
		"GET /2018-06-01/runtime/invocation/next HTTP/1.0\r\n\r\n",
	} {
		f := &fakeEnv{later: make(chan *Waiter, 1)}
		_, addr := serveEnv(t, 1<<20, f)
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
		w := <-f.later
		time.Sleep(50 * time.Millisecond) // the connection waits, rather than ends
		if !w.Deliver(&Invocation{RequestID: "req-1", FunctionARN: "arn:f", DeadlineMs: time.Now().Add(time.Minute).UnixMilli(), Payload: []byte(`{"late":1}`)}) {
			t.Fatalf("%q: not delivered", req)
		}
		all, err := io.ReadAll(c) // ends only if the server closes
		c.Close()
		if err != nil || !bytes.HasPrefix(all, []byte("HTTP/1.1 200 OK\r\n")) || !bytes.HasSuffix(all, []byte(`{"late":1}`)) ||
			!bytes.Contains(all, []byte("Connection: close\r\n")) {
			t.Errorf("%q: %q %v", req, all, err)
		}
	}
}

// The /response of the invocation just delivered is routed without
// building its path; every other spelling of it goes through match, and
// all of them reach the same result, on one keep-alive connection.
func TestResponseOfDeliveredRoutes(t *testing.T) {
	f, addr := serve(t, 1<<20)
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(nc)
	do := func(method, target, body string) (int, http.Header) {
		t.Helper()
		req := method + " " + target + " HTTP/1.1\r\nHost: x\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
		if _, err := io.WriteString(nc, req); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			t.Fatalf("%s %s: %v", method, target, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, resp.Header
	}
	const inv = "/2018-06-01/runtime/invocation/"
	for i, c := range []struct {
		method, target func(id string) string
		want           int
	}{
		{func(string) string { return "POST" }, func(id string) string { return inv + id + "/response" }, 202},
		{func(string) string { return "PUT" }, func(id string) string { return inv + id + "/response" }, 404},
		{func(string) string { return "POST" }, func(id string) string { return inv + id + "/response?x=1" }, 202},
		{func(string) string { return "POST" }, func(id string) string { return inv + strings.Replace(id, "-", "%2D", 1) + "/response" }, 202},
		{func(string) string { return "POST" }, func(id string) string { return inv + id + "/response/" }, 404},
		{func(string) string { return "POST" }, func(id string) string { return inv + "x" + id + "/response" }, 400},
	} {
		code, h := do("GET", inv+"next", "")
		id := h.Get("Lambda-Runtime-Aws-Request-Id")
		if code != 200 || id == "" {
			t.Fatalf("next: %d %v", code, h)
		}
		body := `{"case":` + strconv.Itoa(i) + `}`
		if got, _ := do(c.method(id), c.target(id), body); got != c.want {
			t.Errorf("case %d: %s %s: %d, want %d", i, c.method(id), c.target(id), got, c.want)
		}
		f.mu.Lock()
		res, ok := f.results[id]
		delete(f.results, id) // ids repeat every 10 invocations
		f.mu.Unlock()
		if (c.want == 202) != (ok && string(res) == body) {
			t.Errorf("case %d: result of %s recorded %v: %q", i, id, ok, res)
		}
	}
}
