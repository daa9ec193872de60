// Command riecompare invokes Lambda invoke endpoints side by side,
// alternating batches over one keep-alive connection each with the same
// client, and prints each one's latency percentiles, their ratios to the
// last one, and, given the servers' pids, each server's own CPU time per
// invoke. See scripts/rie-compare.sh.
//
//	riecompare [-n N] [-batch B] -t 'name|url|authorization|pid' -t ...
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

type targets []*target

func (ts *targets) String() string { return fmt.Sprint(len(*ts)) }

func (ts *targets) Set(v string) error {
	f := strings.Split(v, "|")
	if len(f) != 4 || f[0] == "" || f[1] == "" {
		return fmt.Errorf("want name|url|authorization|pid, got %q", v)
	}
	t := &target{name: f[0], url: f[1], auth: f[2]}
	if f[3] != "" {
		pid, err := strconv.Atoi(f[3])
		if err != nil {
			return err
		}
		t.pid = pid
	}
	*ts = append(*ts, t)
	return nil
}

func main() {
	var ts targets
	flag.Var(&ts, "t", "a target: name|invoke URL|Authorization header or empty|server pid or empty (repeat)")
	n := flag.Int("n", 20000, "invokes of each target")
	batch := flag.Int("batch", 200, "invokes of one target before switching to the next")
	warm := flag.Int("warm", 200, "unmeasured invokes of each target first")
	payload := flag.String("payload", `{"op":"echo","value":{"hello":"world"}}`, "event")
	want := flag.String("want", `{"hello":"world"}`, "expected response")
	flag.Parse()
	if len(ts) < 2 {
		flag.Usage()
		os.Exit(2)
	}
	// One client, one connection per target: all pay the same client.
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
		for _, t := range ts {
			call(t)
		}
	}
	for done := 0; done < *n; done += *batch {
		for _, t := range ts {
			t0 := ticks(t.pid)
			for range min(*batch, *n-done) {
				t.lat = append(t.lat, call(t))
			}
			t.ticks += ticks(t.pid) - t0
		}
	}
	for _, t := range ts {
		slices.Sort(t.lat)
		fmt.Printf("%-8s p50 %7.1f µs  p99 %7.1f µs", t.name, us(pct(t.lat, 0.50)), us(pct(t.lat, 0.99)))
		if t.pid > 0 {
			// USER_HZ is 100: a tick is 10 ms.
			fmt.Printf("  server CPU per invoke %5.0f µs", float64(t.ticks)*10000/float64(len(t.lat)))
		}
		fmt.Println()
	}
	base := ts[len(ts)-1]
	for _, t := range ts[:len(ts)-1] {
		fmt.Printf("ratio %s/%s: p50 %.2f×  p99 %.2f×\n", t.name, base.name,
			float64(pct(t.lat, 0.50))/float64(pct(base.lat, 0.50)), float64(pct(t.lat, 0.99))/float64(pct(base.lat, 0.99)))
	}
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
