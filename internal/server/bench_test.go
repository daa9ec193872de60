package server_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/lambdad/lambdad/internal/server"
	"github.com/lambdad/lambdad/internal/testkit"
)

// benchAuth is a SigV4 Authorization header as the SDK sends it: lambdad
// reads the account and region from it (signatures are not checked).
const benchAuth = "AWS4-HMAC-SHA256 Credential=" + testkit.Account + "/20250101/" + testkit.Region +
	"/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=0000"

// benchServer opens a lambdad in memory-backed storage when there is some,
// so seeding many functions is not bound by fsync.
func benchServer(b *testing.B) http.Handler {
	b.Helper()
	dir := b.TempDir()
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		d, err := os.MkdirTemp("/dev/shm", "lambdad-bench-")
		if err == nil {
			dir = d
			b.Cleanup(func() { os.RemoveAll(d) })
		}
	}
	srv, err := server.New(server.Config{DataDir: dir, Transition: time.Millisecond, RuntimeFallback: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close() })
	return srv.Handler()
}

func apiRequest(method, path string, body []byte) *http.Request {
	r := httptest.NewRequest(method, "http://127.0.0.1:9001"+path, bytes.NewReader(body))
	r.Header.Set("Authorization", benchAuth)
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	return r
}

// seed creates n functions named fn-000000… through the handler.
func seed(b *testing.B, h http.Handler, n int) {
	b.Helper()
	zip := base64.StdEncoding.EncodeToString(testkit.HandlerZip(b, "def handler(e, c):\n    return e\n"))
	for i := range n {
		body := fmt.Appendf(nil, `{"FunctionName":"fn-%06d","Role":%q,"Runtime":"python3.12","Handler":"handler.handler","Code":{"ZipFile":%q}}`, i, testkit.Role, zip)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, apiRequest("POST", "/2015-03-31/functions", body))
		if w.Code != http.StatusCreated {
			b.Fatalf("seed fn-%06d: %d %s", i, w.Code, w.Body)
		}
	}
}

// measure runs do b.N times and reports the median time of one call.
func measure(b *testing.B, do func() int) {
	b.Helper()
	times := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		if code := do(); code != http.StatusOK {
			b.Fatalf("HTTP %d", code)
		}
		times = append(times, time.Since(start))
	}
	b.StopTimer()
	if len(times) > 0 {
		slices.Sort(times)
		b.ReportMetric(float64(times[len(times)/2].Nanoseconds()), "p50-ns")
	}
}

func BenchmarkGetFunction(b *testing.B) {
	h := benchServer(b)
	seed(b, h, 10)
	time.Sleep(5 * time.Millisecond) // past the transition: Active
	req := apiRequest("GET", "/2015-03-31/functions/fn-000005", nil)
	measure(b, func() int {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w.Code
	})
}

// BenchmarkListFunctionsPage lists one page of 50 from the middle of the
// account: its cost should not depend on how many functions there are.
func BenchmarkListFunctionsPage(b *testing.B) {
	for _, n := range []int{100, 10000} {
		b.Run(fmt.Sprintf("functions=%d", n), func(b *testing.B) {
			h := benchServer(b)
			seed(b, h, n)
			marker := middleMarker(b, h, n)
			path := "/2015-03-31/functions/?MaxItems=50&Marker=" + url.QueryEscape(marker)
			req := apiRequest("GET", path, nil)
			measure(b, func() int {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				return w.Code
			})
		})
	}
}

// middleMarker walks pages of 50 until about half the functions are behind.
func middleMarker(b *testing.B, h http.Handler, n int) string {
	b.Helper()
	marker := ""
	for seen := 0; seen < n/2; {
		path := "/2015-03-31/functions/?MaxItems=50"
		if marker != "" {
			path += "&Marker=" + url.QueryEscape(marker)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, apiRequest("GET", path, nil))
		var page struct {
			Functions  []json.RawMessage
			NextMarker *string
		}
		if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &page) != nil || page.NextMarker == nil {
			b.Fatalf("list page: %d %s", w.Code, w.Body)
		}
		seen += len(page.Functions)
		marker = *page.NextMarker
	}
	return marker
}
