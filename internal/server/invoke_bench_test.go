package server_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

var (
	benchPayload = []byte(`{"op":"echo","value":{"hello":"world"}}`)
	benchWant    = []byte(`{"hello":"world"}`)
)

// goEchoBench serves the goecho function and returns its invoke URL.
func goEchoBench(b *testing.B) (base, path string) {
	b.Helper()
	d, c := servertest.InvokeEnv(b, nil)
	testkit.CreateActive(b, c, testkit.GoFunction("go-bench", testkit.GoBootstrapZip(b, "testdata/goecho")))
	return d.URL, "/2015-03-31/functions/go-bench/invocations"
}

// httpInvoker invokes through net/http's client, as the SDK would.
func httpInvoker(b *testing.B, base, path string) func() error {
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64}}
	b.Cleanup(hc.CloseIdleConnections)
	url := base + path
	return func() error {
		req, err := http.NewRequest("POST", url, bytes.NewReader(benchPayload))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", testkit.InvokeAuth)
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		if resp.StatusCode != 200 || !bytes.Equal(body, benchWant) {
			return &benchError{resp.StatusCode, body}
		}
		return nil
	}
}

// rawInvoker invokes over one keep-alive connection with a prebuilt
// request and a minimal response parser, so that the process CPU it adds
// to a measurement is small next to lambdad's own.
func rawInvoker(b *testing.B, base, path string) func() error {
	host := strings.TrimPrefix(base, "http://")
	conn, err := net.Dial("tcp", host)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	req := []byte("POST " + path + " HTTP/1.1\r\nHost: " + host + "\r\nAuthorization: " + testkit.InvokeAuth +
		"\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(benchPayload)) + "\r\n\r\n" + string(benchPayload))
	br := bufio.NewReaderSize(conn, 4096)
	body := make([]byte, 0, 64)
	return func() error {
		if _, err := conn.Write(req); err != nil {
			return err
		}
		status, n := 0, -1
		for first := true; ; first = false {
			line, err := br.ReadSlice('\n')
			if err != nil {
				return err
			}
			if len(line) <= 2 {
				break
			}
			if first {
				if len(line) < 12 {
					return errors.New("bad status line")
				}
				status, _ = strconv.Atoi(string(line[9:12]))
				continue
			}
			if k, v, ok := bytes.Cut(line, []byte(":")); ok && len(k) == len("Content-Length") && strings.EqualFold(string(k), "Content-Length") {
				n, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
			}
		}
		if n < 0 {
			return errors.New("response without Content-Length")
		}
		body = slices.Grow(body[:0], n)[:n]
		if _, err := io.ReadFull(br, body); err != nil {
			return err
		}
		if status != 200 || !bytes.Equal(body, benchWant) {
			return &benchError{status, body}
		}
		return nil
	}
}

type benchError struct {
	status int
	body   []byte
}

func (e *benchError) Error() string {
	return "HTTP " + http.StatusText(e.status) + ": " + testkit.Truncate(e.body)
}

// processCPU is the CPU time this process (lambdad and the client, not the
// function's processes) has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkInvokeGoEchoWarm is one caller invoking a warm Go function
// through the real HTTP server on loopback. "raw" is a minimal client, so
// its cpu-µs/op is lambdad's CPU per warm invoke plus a few µs; "nethttp"
// is net/http's client, as SDKs call.
func BenchmarkInvokeGoEchoWarm(b *testing.B) {
	base, path := goEchoBench(b)
	for _, c := range []struct {
		name string
		mk   func(*testing.B, string, string) func() error
	}{{"raw", rawInvoker}, {"nethttp", httpInvoker}} {
		b.Run(c.name, func(b *testing.B) {
			warmLatency(b, c.mk(b, base, path), true)
		})
	}
}

// BenchmarkInvokeGoEchoParallel is 32 concurrent callers of one function,
// each call needing an environment of its own.
func BenchmarkInvokeGoEchoParallel(b *testing.B) {
	const callers = 32
	base, path := goEchoBench(b)
	invoke := httpInvoker(b, base, path)
	run := func(n int) time.Duration { return invokeConcurrently(b, callers, n, invoke) }
	run(4 * callers) // start the environments before measuring
	b.ResetTimer()
	took := run(b.N)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/took.Seconds(), "invokes/s")
}

// invokeConcurrently makes n calls of invoke from callers goroutines and
// returns how long they took; the first error fails the benchmark.
func invokeConcurrently(b *testing.B, callers, n int, invoke func() error) time.Duration {
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Pointer[error]
	start := time.Now()
	for range callers {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				if err := invoke(); err != nil {
					failed.CompareAndSwap(nil, &err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		b.Fatal(*err)
	}
	return time.Since(start)
}

// benchLatency invokes path warm, one call at a time over rawInvoker, and
// reports the p50 and p99 of the calls.
func benchLatency(b *testing.B, base, path string) {
	warmLatency(b, rawInvoker(b, base, path), false)
}

// warmLatency warms invoke up (cold start, connections: 20 calls), then
// times b.N calls, reporting the median and 99th percentile (p50-µs,
// p99-µs) and, with cpu, this process's CPU time per call (cpu-µs/op).
func warmLatency(b *testing.B, invoke func() error, cpu bool) {
	b.Helper()
	for range 20 {
		if err := invoke(); err != nil {
			b.Fatal(err)
		}
	}
	times := make([]time.Duration, 0, 1024)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	for b.Loop() {
		start := time.Now()
		if err := invoke(); err != nil {
			b.Fatal(err)
		}
		times = append(times, time.Since(start))
	}
	used := processCPU() - cpu0
	b.StopTimer()
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(times[min(len(times)-1, len(times)*99/100)].Nanoseconds())/1e3, "p99-µs")
	if cpu {
		b.ReportMetric(float64(used.Nanoseconds())/1e3/float64(len(times)), "cpu-µs/op")
	}
}
