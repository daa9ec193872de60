package front

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder is a handler that logs every request it is called with, per
// connection (by the client's address), and answers with what it read.
type recorder struct {
	mu   sync.Mutex
	log  map[string][]string
	fast map[string]int // requests served by the front, per connection
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	keys := make([]string, 0, len(r.Header))
	for k, vs := range r.Header {
		keys = append(keys, k+"="+strings.Join(vs, "|"))
	}
	slices.Sort(keys)
	entry := fmt.Sprintf("%s %s %q host=%q len=%d %v body=%q err=%v", r.Method, r.RequestURI, r.URL.Path, r.Host, r.ContentLength, keys, b, err != nil)
	_, fast := w.(*response)
	rec.mu.Lock()
	rec.log[r.RemoteAddr] = append(rec.log[r.RemoteAddr], entry)
	if fast {
		rec.fast[r.RemoteAddr]++
	}
	rec.mu.Unlock()
	w.Header().Set("X-Test", "1")
	fmt.Fprintf(w, "%d bytes", len(b))
}

func (rec *recorder) take(addr string) ([]string, int) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	l, n := rec.log[addr], rec.fast[addr]
	delete(rec.log, addr)
	delete(rec.fast, addr)
	return l, n
}

func invokeLike(target []byte) bool {
	return strings.HasPrefix(string(target), "/2015-03-31/functions/") && strings.HasSuffix(string(target), "/invocations")
}

// servers starts the front and, beside it, plain net/http, with rec and
// (when given) plainRec: a client's address may come back on a connection
// to the other server.
func servers(t testing.TB, rec *recorder, plainRec ...*recorder) (frontAddr, plainAddr string) {
	t.Helper()
	ln1, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	quiet := newDiscardLogger()
	fs := &Server{HTTP: &http.Server{Handler: rec, ReadHeaderTimeout: 2 * time.Second, IdleTimeout: 2 * time.Second, ErrorLog: quiet}, Fast: invokeLike}
	var ph http.Handler = rec
	if len(plainRec) > 0 {
		ph = plainRec[0]
	}
	plain := &http.Server{Handler: ph, ReadHeaderTimeout: 2 * time.Second, IdleTimeout: 2 * time.Second, ErrorLog: quiet}
	go fs.Serve(ln1)
	go plain.Serve(ln2)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := fs.Shutdown(ctx); err != nil {
			t.Errorf("front shutdown: %v", err)
		}
		plain.Shutdown(ctx)
	})
	return ln1.Addr().String(), ln2.Addr().String()
}

// exchange sends raw on a new connection, half-closes it and reads the
// answer to its end; it returns the client's address and the answer.
func exchange(t testing.TB, addr string, raw []byte) (string, []byte) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	go func() {
		c.Write(raw)
		c.(*net.TCPConn).CloseWrite()
	}()
	out, err := io.ReadAll(c)
	if err != nil && !errors.Is(err, net.ErrClosed) && !isReset(err) {
		t.Fatalf("read: %v", err)
	}
	return c.LocalAddr().String(), out
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

const invokeReq = "POST /2015-03-31/functions/f/invocations HTTP/1.1\r\nHost: localhost:9001\r\nContent-Type: application/json\r\nX-Amz-Date: 20260101T000000Z\r\nContent-Length: 7\r\n\r\n{\"a\":1}"

var seeds = []string{
	invokeReq,
	invokeReq + invokeReq,
	invokeReq + "GET /2015-03-31/functions HTTP/1.1\r\nHost: x\r\n\r\n" + invokeReq,
	"GET /2015-03-31/functions HTTP/1.1\r\nHost: x\r\n\r\n" + invokeReq,
	invokeReq + "\r\n" + invokeReq,
	"POST /2015-03-31/functions/f/invocations?Qualifier=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi",
	"POST /2015-03-31/functions/f/invocations HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
	"POST /2015-03-31/functions/f/invocations HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
	"POST /2015-03-31/functions/f/invocations HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nhi!",
	"POST /2015-03-31/functions/f/invocations HTTP/1.1\r\nHost: h\r\nContent-Length: +2\r\n\r\nhi",
	"POST /2015-03-31/functions/f/invocations HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nhi",
	"POST /2015-03-31/functions/f/invocations HTTP/1.1\nHost: h\nContent-Length: 2\n\nhi",
	"POST /2015-03-31/functions/f/invocations HTTP/1.1\r\nHost: h\r\n folded\r\nContent-Length: 2\r\n\r\nhi",
	"POST /2015-03-31/functions/f/invocations HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi",
	"POST /2015-03-31/functions/f/invocations HTTP/1.0\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi",
	"POST /2015-03-31/functions/f/invocations HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi",
	"POST /2015-03-31/functions/f%2Fg/invocations HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
	"POST /2015-03-31/functions/f/invocations HTTP/1.1\r\nHost: h\r\nx-amz-target: a\r\nX-AMZ-TARGET: b\r\nContent-Length: 0\r\n\r\n",
	"POST /2015-03-31/functions/f/invocations HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi" + invokeReq,
	"POST /2015-03-31/functions/f/invocations HTTP/1.1\r\nHost: h\r\nX: " + strings.Repeat("v", 9000) + "\r\nContent-Length: 2\r\n\r\nhi",
	"POST /2015-03-31/functions/f/invocations HTTP/1.1\r\nHost: h\r\nContent-Le",
}

// FuzzFront sends raw bytes to the front and to plain net/http: the
// handler must be called with the same requests, in the same order, and
// once each. That covers what the front reads itself and what it hands off
// (a request twice, or bytes lost at the hand-off, would show).
func FuzzFront(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	rec := &recorder{log: map[string][]string{}, fast: map[string]int{}}
	plainRec := &recorder{log: map[string][]string{}, fast: map[string]int{}}
	frontAddr, plainAddr := servers(f, rec, plainRec)
	f.Fuzz(func(t *testing.T, raw []byte) {
		if len(raw) > 64<<10 {
			return
		}
		ca, _ := exchange(t, frontAddr, raw)
		pa, _ := exchange(t, plainAddr, raw)
		// The handler may still be finishing when the client sees the end.
		var got, want []string
		deadline := time.Now().Add(2 * time.Second)
		for {
			time.Sleep(time.Millisecond)
			rec.mu.Lock()
			g := len(rec.log[ca])
			rec.mu.Unlock()
			plainRec.mu.Lock()
			w := len(plainRec.log[pa])
			plainRec.mu.Unlock()
			if g == w || time.Now().After(deadline) {
				break
			}
		}
		got, _ = rec.take(ca)
		want, _ = plainRec.take(pa)
		if !slices.Equal(got, want) {
			t.Fatalf("front served\n%s\nnet/http served\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}

// TestFrontServesInvokes checks the seeds also take the fast path where
// they should: a plain invoke (and a pipeline of them) is served by the
// front, a chunked one by net/http.
func TestFrontServesInvokes(t *testing.T) {
	rec := &recorder{log: map[string][]string{}, fast: map[string]int{}}
	addr, _ := servers(t, rec)
	for _, tc := range []struct {
		raw        string
		fast, sent int
	}{
		{invokeReq, 1, 1},
		{invokeReq + invokeReq + invokeReq, 3, 3},
		{invokeReq + "GET /x HTTP/1.1\r\nHost: x\r\n\r\n" + invokeReq, 1, 3},
		{seeds[6], 0, 1},
		{seeds[8], 0, 0},
		{seeds[18], 1, 1}, // Connection: close: the next request is not read
		{invokeReq + seeds[6], 1, 2},
	} {
		ca, out := exchange(t, addr, []byte(tc.raw))
		time.Sleep(20 * time.Millisecond)
		log, fast := rec.take(ca)
		if len(log) != tc.sent || fast != tc.fast {
			t.Errorf("%q: %d requests served, %d by the front; want %d, %d\n%s", tc.raw, len(log), fast, tc.sent, tc.fast, out)
		}
		if tc.fast > 0 && !strings.HasPrefix(string(out), "HTTP/1.1 200 OK\r\n") {
			t.Errorf("%q: answer %q", tc.raw, out)
		}
	}
}

// TestFrontResponse compares the front's answer with net/http's, Date aside.
func TestFrontResponse(t *testing.T) {
	rec := &recorder{log: map[string][]string{}, fast: map[string]int{}}
	fa, pa := servers(t, rec)
	for _, raw := range []string{invokeReq, seeds[18], strings.Replace(invokeReq, "Content-Length: 7", "Connection: keep-alive, close\r\nContent-Length: 7", 1)} {
		_, got := exchange(t, fa, []byte(raw))
		_, want := exchange(t, pa, []byte(raw))
		if norm(got) != norm(want) {
			t.Errorf("%q: front answered\n%s\nnet/http\n%s", raw, got, want)
		}
	}
}

// norm drops the Date line and sorts the header lines.
func norm(b []byte) string {
	head, body, _ := strings.Cut(string(b), "\r\n\r\n")
	lines := strings.Split(head, "\r\n")
	lines = slices.DeleteFunc(lines, func(l string) bool { return strings.HasPrefix(l, "Date: ") })
	slices.Sort(lines[1:])
	return strings.Join(lines, "\n") + "\n\n" + body
}

func newDiscardLogger() *log.Logger { return log.New(io.Discard, "", 0) }

// TestFrontShutdown: Shutdown closes a connection between requests at once
// and lets one in the middle of a request finish it.
func TestFrontShutdown(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		if r.Header.Get("X-Slow") != "" {
			started <- struct{}{}
			<-release
		}
		io.WriteString(w, "done")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fs := &Server{HTTP: &http.Server{Handler: h, ErrorLog: newDiscardLogger()}, Fast: invokeLike}
	served := make(chan error, 1)
	go func() { served <- fs.Serve(ln) }()
	dial := func() net.Conn {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		return c
	}
	idle := dial()
	idle.Write([]byte(invokeReq))
	buf := make([]byte, 4096)
	if n, err := idle.Read(buf); err != nil || !strings.Contains(string(buf[:n]), "done") {
		t.Fatalf("first answer %q, %v", buf[:n], err)
	}
	busy := dial()
	busy.Write([]byte(strings.Replace(invokeReq, "Host:", "X-Slow: 1\r\nHost:", 1)))
	<-started
	shut := make(chan error, 1)
	go func() { shut <- fs.Shutdown(context.Background()) }()
	// The idle connection is closed without an answer.
	if n, err := idle.Read(buf); err == nil {
		t.Fatalf("idle connection answered %q after Shutdown", buf[:n])
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v with a request under way", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	out, _ := io.ReadAll(busy)
	if !strings.Contains(string(out), "done") || !strings.Contains(string(out), "Connection: close") {
		t.Errorf("request under way answered %q", out)
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := <-served; err != http.ErrServerClosed {
		t.Errorf("Serve: %v", err)
	}
}

// TestHandOffKeepsHeaderDeadline: a head trickled in until it outgrows the
// front's buffer goes to net/http, which must not give it a new header
// timeout: the client is cut at the first one, as with net/http alone.
func TestHandOffKeepsHeaderDeadline(t *testing.T) {
	const timeout = 2 * time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fs := &Server{HTTP: &http.Server{Handler: http.NotFoundHandler(), ReadHeaderTimeout: timeout, ErrorLog: newDiscardLogger()}, Fast: invokeLike}
	go fs.Serve(ln)
	defer fs.Shutdown(context.Background())
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	closed := make(chan time.Duration, 1)
	go func() {
		io.Copy(io.Discard, c)
		closed <- time.Since(start)
	}()
	c.Write([]byte("POST /2015-03-31/functions/f/invocations HTTP/1.1\r\nHost: h\r\nX: "))
	// 8 KiB by 80 % of the timeout (the hand-off), then a byte at a time.
	chunk := []byte(strings.Repeat("a", 1024))
	for i := 0; i < 8; i++ {
		time.Sleep(timeout / 10)
		c.Write(chunk)
	}
	for {
		select {
		case d := <-closed:
			if d > timeout*3/2 {
				t.Fatalf("cut after %v; the header timeout is %v", d, timeout)
			}
			return
		case <-time.After(timeout / 20):
			if _, err := c.Write([]byte("a")); err != nil {
				d := <-closed
				if d > timeout*3/2 {
					t.Fatalf("cut after %v; the header timeout is %v", d, timeout)
				}
				return
			}
		}
	}
}
