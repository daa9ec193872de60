package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lambdad/lambdad/internal/testkit"
)

// vmRSS is a process's resident memory in bytes.
func vmRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

const invokeHead = "POST /2015-03-31/functions/f/invocations HTTP/1.1\r\nHost: lambdad\r\n" +
	"Authorization: AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=00\r\n" +
	"Content-Type: application/json\r\n"

// TestSlowBodiesDoNotPinMemory: 100 connections that each declare a 6 MB
// Invoke body, send a few bytes and stall, neither make lambdad hold their
// declared size (bodies are read as they arrive, under one budget for all)
// nor keep their connections (a body that makes no progress for
// --read-timeout is cut). Before, lambdad allocated each declared body up
// front and waited for it forever: RSS went from 14 MB to over 600 MB and
// stayed there. A large body that keeps coming slowly is still read whole.
func TestSlowBodiesDoNotPinMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := lambdadBin.Path(t)
	addr := "127.0.0.1:" + strconv.Itoa(testkit.FreePort(t))
	const readTimeout = 2 * time.Second
	p := testkit.StartProcess(t, bin, t.TempDir(), nil, "--listen", addr, "--data-dir", filepath.Join(t.TempDir(), "data"),
		"--isolation", "off", "--read-timeout", readTimeout.String())
	pid := p.Cmd.Process.Pid
	time.Sleep(500 * time.Millisecond)
	idle := vmRSS(t, pid)
	t.Logf("idle RSS %.1f MB", float64(idle)/(1<<20))
	// A sanity bound, not a target: the binary's own idle footprint is
	// about 29 MB (26 MB before the Logs API, Kafka auth, MSK and
	// Prometheus came in); what matters is the growth under load below.
	if idle > 40<<20 {
		t.Errorf("idle RSS %.1f MB, want under 40 MB", float64(idle)/(1<<20))
	}

	const conns = 100
	var cs []net.Conn
	for range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := io.WriteString(c, invokeHead+"Content-Length: 6291000\r\n\r\n{\"a\":\""); err != nil {
			t.Fatal(err)
		}
		cs = append(cs, c)
	}
	start := time.Now()
	// Every connection must be closed by lambdad, having answered or not,
	// soon after the read timeout.
	var wg sync.WaitGroup
	closed := make([]time.Duration, conns)
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.SetReadDeadline(time.Now().Add(readTimeout + 10*time.Second))
			_, err := io.Copy(io.Discard, c)
			if err != nil {
				closed[i] = -1 // our deadline: lambdad kept it open
				return
			}
			closed[i] = time.Since(start)
		}()
	}
	var peak int64
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for sampling := true; sampling; {
		peak = max(peak, vmRSS(t, pid))
		select {
		case <-done:
			sampling = false
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Logf("peak RSS with %d stalled 6 MB bodies %.1f MB", conns, float64(peak)/(1<<20))
	if peak > 100<<20 {
		t.Errorf("RSS reached %.1f MB under %d stalled bodies, want under 100 MB", float64(peak)/(1<<20), conns)
	}
	kept := 0
	for _, d := range closed {
		if d < 0 {
			kept++
		}
	}
	if kept > 0 {
		t.Errorf("%d of %d stalled connections were still open %s after the read timeout", kept, conns, 10*time.Second)
	}

	// A body that keeps coming, slower than the read timeout in all, is read.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const chunks = 30
	body := `{"a":"` + strings.Repeat("x", chunks*1000-8) + `"}`
	if _, err := io.WriteString(c, invokeHead+"Content-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(body); i += 1000 {
		time.Sleep(readTimeout / 10)
		if _, err := io.WriteString(c, body[i:min(i+1000, len(body))]); err != nil {
			t.Fatalf("lambdad cut a body that kept coming: %v", err)
		}
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// The function does not exist: answering that means the body was read.
	if resp.StatusCode != 404 {
		t.Errorf("a slow, steady body: %d %s", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
	}

	time.Sleep(time.Second)
	after := vmRSS(t, pid)
	t.Logf("RSS afterwards %.1f MB", float64(after)/(1<<20))
}
