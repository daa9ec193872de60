package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"golang.org/x/sys/unix"

	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// streamBench is a streamifyResponse handler for the benchmarks: "ticks"
// writes event.n chunks 2 ms apart, each the CLOCK_MONOTONIC time (ns) of
// its write, which the benchmark's process shares; "big" writes event.mb
// blocks of 1 MB as fast as the stream takes them.
const streamBench = `
exports.handler = awslambda.streamifyResponse(async (event, responseStream) => {
  if (event.op === 'ticks') {
    for (let i = 0; i < event.n; i++) {
      responseStream.write(process.hrtime.bigint().toString() + ';');
      await new Promise((r) => setTimeout(r, 2));
    }
    responseStream.end();
    return;
  }
  const block = Buffer.alloc(1 << 20, 'x');
  for (let i = 0; i < event.mb; i++) {
    if (!responseStream.write(block)) await new Promise((r) => responseStream.once('drain', r));
  }
  responseStream.end();
});
`

func monotonicNs() int64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

func benchStreamEnv(b *testing.B) *lambda.Client {
	d, _ := servertest.InvokeEnv(b, nil)
	c := streamClient(d)
	testkit.CreateActive(b, c, testkit.NodeFunction(b, "bench-stream", "index.js", "index.handler", streamBench))
	return c
}

// BenchmarkStreamWriteToRead measures the time from a function's write to
// the SDK client's read of it as a PayloadChunk event (p50, p99).
func BenchmarkStreamWriteToRead(b *testing.B) {
	c := benchStreamEnv(b)
	const perInvoke = 50
	payload, _ := json.Marshal(map[string]any{"op": "ticks", "n": perInvoke})
	var lat []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out, err := c.InvokeWithResponseStream(context.Background(), &lambda.InvokeWithResponseStreamInput{FunctionName: aws.String("bench-stream"), Payload: payload})
		if err != nil {
			b.Fatal(err)
		}
		st := out.GetStream()
		for e := range st.Events() {
			if v, ok := e.(*types.InvokeWithResponseStreamResponseEventMemberPayloadChunk); ok {
				now := monotonicNs()
				for _, f := range splitTicks(v.Value.Payload) {
					lat = append(lat, time.Duration(now-f))
				}
			}
		}
		if err := st.Err(); err != nil {
			b.Fatal(err)
		}
		st.Close()
	}
	b.StopTimer()
	slices.Sort(lat)
	if len(lat) == 0 {
		b.Fatal("no chunks")
	}
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

func splitTicks(p []byte) []int64 {
	var out []int64
	start := 0
	for i, ch := range p {
		if ch == ';' {
			if n, err := strconv.ParseInt(string(p[start:i]), 10, 64); err == nil {
				out = append(out, n)
			}
			start = i + 1
		}
	}
	return out
}

// BenchmarkStream streams 10, 50 and 150 MB from a function to the SDK
// client and reports the in-process lambdad's (and client's) peak heap
// growth while it runs: a growth that does not follow the size means no
// whole-response buffering. (Most of it is the SDK decoder's garbage: it
// allocates each event's payload.)
//
// The raw variants read the same event stream over plain HTTP, without the
// SDK's decoding: what lambdad itself sustains, and its heap alone (but
// for the HTTP client's buffers).
func BenchmarkStream(b *testing.B) {
	d, _ := servertest.InvokeEnv(b, nil)
	c := streamClient(d)
	testkit.CreateActive(b, c, testkit.NodeFunction(b, "bench-stream", "index.js", "index.handler", streamBench))
	for _, mb := range []int{10, 50, 150} {
		b.Run("sdk/"+strconv.Itoa(mb)+"MB", func(b *testing.B) {
			benchStream(b, mb, func(payload []byte) int { return readSDK(b, c, payload) })
		})
	}
	for _, mb := range []int{10, 50, 150} {
		b.Run("raw/"+strconv.Itoa(mb)+"MB", func(b *testing.B) {
			benchStream(b, mb, func(payload []byte) int { return readRaw(b, d.URL, payload) })
		})
	}
}

// readSDK streams through the SDK and returns the payload bytes read.
func readSDK(b *testing.B, c *lambda.Client, payload []byte) int {
	out, err := c.InvokeWithResponseStream(context.Background(), &lambda.InvokeWithResponseStreamInput{FunctionName: aws.String("bench-stream"), Payload: payload})
	if err != nil {
		b.Fatal(err)
	}
	st := out.GetStream()
	defer st.Close()
	n := 0
	for e := range st.Events() {
		if v, ok := e.(*types.InvokeWithResponseStreamResponseEventMemberPayloadChunk); ok {
			n += len(v.Value.Payload)
		}
	}
	if err := st.Err(); err != nil {
		b.Fatal(err)
	}
	return n
}

// readRaw reads the event stream's bytes as they come and returns how many
// there were, framing included.
func readRaw(b *testing.B, url string, payload []byte) int {
	req, _ := http.NewRequest("POST", url+"/2021-11-15/functions/bench-stream/response-streaming-invocations", bytes.NewReader(payload))
	req.Header.Set("Authorization", testkit.InvokeAuth)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	n, err := io.CopyBuffer(io.Discard, resp.Body, make([]byte, 256<<10))
	if err != nil || resp.StatusCode != 200 {
		b.Fatalf("status %d: %v", resp.StatusCode, err)
	}
	return int(n)
}

func benchStream(b *testing.B, mb int, read func(payload []byte) int) {
	payload, _ := json.Marshal(map[string]any{"op": "big", "mb": mb})
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				if m.HeapInuse > peak.Load() {
					peak.Store(m.HeapInuse)
				}
			}
		}
	}()
	b.SetBytes(int64(mb) << 20)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if n := read(payload); n < mb<<20 {
			b.Fatalf("read %d bytes, want %d", n, mb<<20)
		}
	}
	b.StopTimer()
	close(stop)
	<-done
	if p := peak.Load(); p > base {
		b.ReportMetric(float64(p-base)/(1<<20), "peak-heap-growth-MB")
	} else {
		b.ReportMetric(0, "peak-heap-growth-MB")
	}
}
