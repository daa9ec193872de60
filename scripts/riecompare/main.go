// Command riecompare invokes two Lambda invoke endpoints side by side,
// alternating batches over one keep-alive connection each with the same
// client, and prints each one's latency percentiles, their ratio and, given
// the servers' pids, each server's own CPU time per invoke. See
// scripts/rie-compare.sh.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

type target struct {
	name, url, auth string
	pid             int
	lat             []time.Duration
	ticks           int64
}

func main() {
	var a, b target
	flag.StringVar(&a.url, "a", "", "first invoke URL")
	flag.StringVar(&a.name, "a-name", "a", "first target's name")
	flag.StringVar(&a.auth, "a-auth", "", "first target's Authorization header")
	flag.IntVar(&a.pid, "a-pid", 0, "first server's pid, for its CPU time")
	flag.StringVar(&b.url, "b", "", "second invoke URL")
	flag.StringVar(&b.name, "b-name", "b", "second target's name")
	flag.StringVar(&b.auth, "b-auth", "", "second target's Authorization header")
	flag.IntVar(&b.pid, "b-pid", 0, "second server's pid, for its CPU time")
	n := flag.Int("n", 20000, "invokes of each target")
	batch := flag.Int("batch", 200, "invokes of one target before switching to the other")
	warm := flag.Int("warm", 200, "unmeasured invokes of each target first")
	payload := flag.String("payload", `{"op":"echo","value":{"hello":"world"}}`, "event")
	want := flag.String("want", `{"hello":"world"}`, "expected response")
	flag.Parse()
	if a.url == "" || b.url == "" {
		flag.Usage()
		os.Exit(2)
	}
	// One client, one connection per target: both pay the same client.
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}}
	call := func(t *target) time.Duration {
		req, _ := http.NewRequest("POST", t.url, strings.NewReader(*payload))
		req.Header.Set("Content-Type", "application/json")
		if t.auth != "" {
			req.Header.Set("Authorization", t.auth)
		}
		start := time.Now()
		resp, err := hc.Do(req)
		if err != nil {
			fail("%s: %v", t.name, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		took := time.Since(start)
		if err != nil || resp.StatusCode != 200 || !bytes.Equal(body, []byte(*want)) {
			fail("%s: HTTP %d %s (%v)", t.name, resp.StatusCode, body, err)
		}
		return took
	}
	for range *warm {
		call(&a)
		call(&b)
	}
	for done := 0; done < *n; done += *batch {
		for _, t := range []*target{&a, &b} {
			t0 := ticks(t.pid)
			for range min(*batch, *n-done) {
				t.lat = append(t.lat, call(t))
			}
			t.ticks += ticks(t.pid) - t0
		}
	}
	for _, t := range []*target{&a, &b} {
		slices.Sort(t.lat)
		fmt.Printf("%-8s p50 %7.1f µs  p99 %7.1f µs", t.name, us(pct(t.lat, 0.50)), us(pct(t.lat, 0.99)))
		if t.pid > 0 {
			// USER_HZ is 100: a tick is 10 ms.
			fmt.Printf("  server CPU per invoke %5.0f µs", float64(t.ticks)*10000/float64(len(t.lat)))
		}
		fmt.Println()
	}
	fmt.Printf("ratio %s/%s: p50 %.2f×  p99 %.2f×\n", a.name, b.name,
		float64(pct(a.lat, 0.50))/float64(pct(b.lat, 0.50)), float64(pct(a.lat, 0.99))/float64(pct(b.lat, 0.99)))
}

func pct(s []time.Duration, p float64) time.Duration {
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }

// ticks is the user+system CPU time of pid in clock ticks, 0 without one.
func ticks(pid int) int64 {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		fail("%v", err)
	}
	// Fields after the parenthesised command name, which may hold spaces.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	u, _ := strconv.ParseInt(f[11], 10, 64) // field 14, utime
	s, _ := strconv.ParseInt(f[12], 10, 64) // field 15, stime
	return u + s
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "riecompare: "+format+"\n", args...)
	os.Exit(1)
}
