package server_test

import (
	"bytes"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// goEchoBench serves the goecho function and returns a raw invoke of it,
// so the numbers measure lambdad rather than the SDK's middleware.
func goEchoBench(b *testing.B) func() error {
	b.Helper()
	d, c := servertest.InvokeEnv(b, nil)
	testkit.CreateActive(b, c, testkit.GoFunction("go-bench", testkit.GoBootstrapZip(b, "testdata/goecho")))
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64}}
	b.Cleanup(hc.CloseIdleConnections)
	url := d.URL + "/2015-03-31/functions/go-bench/invocations"
	payload := []byte(`{"op":"echo","value":{"hello":"world"}}`)
	want := []byte(`{"hello":"world"}`)
	return func() error {
		req, err := http.NewRequest("POST", url, bytes.NewReader(payload))
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
		if resp.StatusCode != 200 || !bytes.Equal(body, want) {
			return &benchError{resp.StatusCode, body}
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

// BenchmarkInvokeGoEchoWarm is one caller invoking a warm Go function
// through the real HTTP server on loopback.
func BenchmarkInvokeGoEchoWarm(b *testing.B) {
	invoke := goEchoBench(b)
	for range 20 { // cold start and connection set-up are not measured
		if err := invoke(); err != nil {
			b.Fatal(err)
		}
	}
	times := make([]time.Duration, 0, 1024)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		if err := invoke(); err != nil {
			b.Fatal(err)
		}
		times = append(times, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(times)
	pct := func(p float64) float64 {
		return float64(times[min(len(times)-1, int(float64(len(times))*p))].Nanoseconds()) / 1e3
	}
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
}

// BenchmarkInvokeGoEchoParallel is 32 concurrent callers of one function,
// each call needing an environment of its own.
func BenchmarkInvokeGoEchoParallel(b *testing.B) {
	const callers = 32
	invoke := goEchoBench(b)
	run := func(n int) time.Duration {
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
	run(4 * callers) // start the environments before measuring
	b.ResetTimer()
	took := run(b.N)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/took.Seconds(), "invokes/s")
}
