package server_test

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// BenchmarkTenants200: what 200 tenants of one tenant-isolated function,
// each with one warm environment, cost lambdad itself (the environments'
// processes are others): its VmRSS and Go heap in use after a GC, before
// and after, in total and per tenant. Each tenant is invoked twice and its
// second invoke must be its environment's second (warm, own process). Run
// it alone (-benchtime=1x): RSS is the process's.
func BenchmarkTenants200(b *testing.B) {
	const tenants = 200
	for b.Loop() {
		d, c := servertest.InvokeEnv(b, nil)
		in := testkit.GoFunction("tenants", testkit.GoBootstrapZip(b, "testdata/goecho"))
		in.TenancyConfig = &types.TenancyConfig{TenantIsolationMode: types.TenantIsolationModePerTenant}
		testkit.CreateActive(b, c, in)
		hc := &http.Client{}
		url := d.URL + "/2015-03-31/functions/tenants/invocations"
		count := func(tenant string) int {
			req, _ := http.NewRequest("POST", url, strings.NewReader(`{"op":"count"}`))
			req.Header.Set("Authorization", testkit.InvokeAuth)
			req.Header.Set("X-Amz-Tenant-Id", tenant)
			resp, err := hc.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			n, err := strconv.Atoi(string(bytes.TrimSpace(body)))
			if resp.StatusCode != 200 || err != nil {
				b.Fatalf("tenant %s: %d %s", tenant, resp.StatusCode, body)
			}
			return n
		}
		count("warm-up") // code unpacked, connections and pools made
		before := lambdadMem(b)
		for i := range tenants {
			count("t" + strconv.Itoa(i))
		}
		for i := range tenants {
			if n := count("t" + strconv.Itoa(i)); n != 2 {
				b.Fatalf("tenant t%d's second invoke was its environment's invoke %d, want 2", i, n)
			}
		}
		after := lambdadMem(b)
		mb := func(a, b uint64) float64 { return (float64(a) - float64(b)) / (1 << 20) }
		b.ReportMetric(mb(after.rss, before.rss), "rss-MB")
		b.ReportMetric(mb(after.heap, before.heap), "heap-MB")
		b.ReportMetric(mb(after.rss, before.rss)*1024/tenants, "rss-KB/tenant")
		b.ReportMetric(mb(after.heap, before.heap)*1024/tenants, "heap-KB/tenant")
		hc.CloseIdleConnections()
		d.Stop()
	}
}

type lambdadMemory struct{ rss, heap uint64 }

// lambdadMem reads this process's (lambdad's) memory after a GC that
// returns what it freed to the system.
func lambdadMem(b *testing.B) lambdadMemory {
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m := lambdadMemory{heap: ms.HeapInuse}
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Skip("no /proc/self/status:", err)
	}
	for line := range strings.Lines(string(raw)) {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseUint(f[1], 10, 64)
			m.rss = kb << 10
		}
	}
	return m
}
