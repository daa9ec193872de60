package sandbox

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lambdad/lambdad/internal/runtimes"
)

var echoPayload = []byte(`{"hello":"world","n":12345}`)

func benchInv(i int64) Invocation {
	return Invocation{
		RequestID:          "bench-" + strconv.FormatInt(i, 10),
		InvokedFunctionARN: "arn:aws:lambda:us-east-1:000000000000:function:bench",
		Payload:            echoPayload,
	}
}

func BenchmarkWarmInvokeGoEcho(b *testing.B) {
	needGo(b)
	m, _ := newTestManager(b, "auto")
	fn := goFunction()
	ctx := context.Background()
	for i := range 100 { // warm up
		if _, err := m.Invoke(ctx, fn, benchInv(int64(i))); err != nil {
			b.Fatal(err)
		}
	}
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	for i := 0; b.Loop(); i++ {
		t0 := time.Now()
		res, err := m.Invoke(ctx, fn, benchInv(int64(i)))
		lat = append(lat, time.Since(t0))
		if err != nil || res.FunctionError != "" {
			b.Fatalf("%v %s", err, res.Payload)
		}
	}
	cpu := processCPU() - cpu0
	b.StopTimer()
	// The Manager's CPU (the function's processes are not this process).
	b.ReportMetric(float64(cpu.Nanoseconds())/1e3/float64(len(lat)), "cpu-µs/op")
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2])/1e6, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100])/1e6, "p99-ms")
}

func BenchmarkWarmInvokeParallel(b *testing.B) {
	needGo(b)
	m, _ := newTestManager(b, "auto")
	fn := goFunction()
	ctx := context.Background()
	// Warm 32 environments so the measurement is of the warm path.
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			if _, err := m.Invoke(ctx, fn, Invocation{RequestID: "warm-" + strconv.Itoa(i), Payload: []byte(`{"op":"sleep","ms":2000}`)}); err != nil {
				b.Error(err)
			}
		})
	}
	wg.Wait()
	var seq atomic.Int64
	b.SetParallelism(max(1, 32/runtime.GOMAXPROCS(0)))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	selfCPU, envCPU := processCPU(), envsCPU(m)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			res, err := m.Invoke(ctx, fn, benchInv(seq.Add(1)))
			if err != nil || res.FunctionError != "" {
				b.Errorf("%v %s", err, res.Payload)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "invokes/s")
	b.ReportMetric(float64(processCPU()-selfCPU)/float64(b.N)/1e3, "lambdad-cpu-µs/op")
	b.ReportMetric(float64(envsCPU(m)-envCPU)/float64(b.N)/1e3, "runtime-cpu-µs/op")
	b.ReportMetric(float64(m.Stats().Total), "envs")
}

// BenchmarkIdleEnvMemory reports lambdad's own heap+stack cost of keeping
// warm environments (the runtimes' memory is theirs, not counted).
func BenchmarkIdleEnvMemory(b *testing.B) {
	needGo(b)
	const n = 32
	for b.Loop() {
		m, _ := newTestManager(b, "auto")
		fn := goFunction()
		ctx := context.Background()
		before := liveBytes()
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				r, err := m.Invoke(ctx, fn, Invocation{RequestID: "m-" + strconv.Itoa(i), Payload: []byte(`{"op":"sleep","ms":2000}`)})
				if err != nil || r.FunctionError != "" {
					b.Error(err, string(r.Payload), string(r.Log))
				}
			})
		}
		wg.Wait()
		for i := range 3 * n { // let buffers settle into their steady state
			_, _ = m.Invoke(ctx, fn, benchInv(int64(i)))
		}
		after := liveBytes()
		if s := m.Stats(); s.Idle != n {
			b.Fatalf("stats %+v", s)
		}
		b.ReportMetric(float64(after-before)/n, "B/env")
	}
}

// processCPU is this process's user+system CPU time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// envsCPU sums the CPU time of every environment's process.
func envsCPU(m *Manager) time.Duration {
	var total time.Duration
	m.envMu.Lock()
	defer m.envMu.Unlock()
	for e := range m.envs {
		pr := e.currentProc()
		if pr == nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + strconv.FormatInt(pr.pid.Load(), 10) + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		if len(f) < 13 {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		total += time.Duration(u+st) * 10 * time.Millisecond // USER_HZ is 100 on Linux
	}
	return total
}

func liveBytes() int64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc + ms.StackInuse)
}

// BenchmarkColdStartGoEcho measures a cold start (a new environment per
// invoke) of the Go echo bootstrap, unconfined and isolated; compare with
// the bare start of the binary (unconfined is nearly that).
func BenchmarkColdStartGoEcho(b *testing.B) {
	needGo(b)
	coldStarts(b, func() *Function { return goFunction() })
}

// BenchmarkColdStartPython is the same for lambdad's own Python runtime
// with a trivial handler; compare with `python3 -S -c pass` (the runtime
// starts the interpreter with -S).
func BenchmarkColdStartPython(b *testing.B) {
	coldStarts(b, runtimeFunction(b, "python3.12", "app.handler", "app.py",
		"def handler(event, context):\n    return event\n"))
}

// BenchmarkColdStartNode is the same for the Node.js runtime; compare with
// `node -e 0` in a clean environment (NODE_EXTRA_CA_CERTS, say, costs node
// tens of milliseconds, and environments do not inherit lambdad's).
func BenchmarkColdStartNode(b *testing.B) {
	coldStarts(b, runtimeFunction(b, "nodejs20.x", "index.handler", "index.js",
		"exports.handler = async (event) => event;\n"))
}

// runtimeFunction makes functions that run handler through the runtime
// catalog, as lambdad does.
func runtimeFunction(tb testing.TB, rt, handler, file, code string) func() *Function {
	dir := tb.TempDir()
	codeDir := filepath.Join(dir, "code")
	if err := os.MkdirAll(codeDir, 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(codeDir, file), []byte(code), 0o644); err != nil {
		tb.Fatal(err)
	}
	// Readable by the environments' unprivileged users.
	if err := os.Chmod(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	c, err := runtimes.New(runtimes.Config{Dir: filepath.Join(dir, "runtimes")})
	if err != nil {
		tb.Fatal(err)
	}
	l, err := c.Launch(rt, handler, codeDir, nil)
	if err != nil {
		tb.Skip(err)
	}
	env := append([]string{
		"AWS_LAMBDA_FUNCTION_NAME=bench",
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128",
		"_HANDLER=" + handler,
		"TZ=:UTC",
		"LANG=en_US.UTF-8",
	}, l.Env...)
	return func() *Function {
		return &Function{
			Command:    l.Command,
			RuntimeDir: l.RuntimeDir,
			HostDirs:   l.HostDirs,
			Env:        env,
			CodeDir:    codeDir,
			MemoryMB:   128,
			Timeout:    10 * time.Second,
		}
	}
}

// coldStarts reports init-ms (mean time from spawn to the first /next, what
// AWS reports as Init Duration) and cold-ms (median of the whole cold
// invoke, so that work moved from init into the first invocation shows).
func coldStarts(b *testing.B, newFn func() *Function) {
	for _, iso := range []string{"off", "auto"} {
		b.Run(iso, func(b *testing.B) {
			m, _ := newTestManager(b, iso)
			ctx := context.Background()
			var init time.Duration
			lat := make([]time.Duration, 0, b.N)
			for i := 0; b.Loop(); i++ {
				fn := newFn()
				fn.Key = Key{FunctionARN: "cold-" + strconv.Itoa(i)}
				t0 := time.Now()
				res, err := m.Invoke(ctx, fn, benchInv(int64(i)))
				lat = append(lat, time.Since(t0))
				if err != nil || res.FunctionError != "" {
					b.Fatalf("%v %s %s", err, res.Payload, res.Log)
				}
				init += res.InitDuration
				m.RetireKey(fn.Key)
			}
			slices.Sort(lat)
			b.ReportMetric(float64(init.Microseconds())/float64(b.N)/1000, "init-ms")
			b.ReportMetric(float64(lat[len(lat)/2])/1e6, "cold-ms")
		})
	}
}

// BenchmarkColdStartTmp is BenchmarkColdStartGoEcho isolated, by how /tmp
// is made: a tmpfs (counted against memory), a disk made on the cold path,
// or a disk from the ready pool (the default).
func BenchmarkColdStartTmp(b *testing.B) {
	needGo(b)
	for _, v := range []struct {
		name string
		cfg  func(*Config)
	}{
		{"tmpfs", func(c *Config) { c.tmpfsOnly = true }},
		{"disk", func(c *Config) { c.tmpPool = -1 }},
		{"disk-pool", func(*Config) {}},
	} {
		b.Run(v.name, func(b *testing.B) {
			m, _ := newTestManager(b, "auto", v.cfg)
			if !m.Isolated() {
				b.Skip("no isolation here")
			}
			ctx := context.Background()
			lat := make([]time.Duration, 0, b.N)
			for i := 0; b.Loop(); i++ {
				fn := goFunction()
				t0 := time.Now()
				res, err := m.Invoke(ctx, fn, benchInv(int64(i)))
				lat = append(lat, time.Since(t0))
				if err != nil || res.FunctionError != "" {
					b.Fatalf("%v %s %s", err, res.Payload, res.Log)
				}
				m.RetireKey(fn.Key)
				// Let the pool refill as it would between cold starts.
				time.Sleep(5 * time.Millisecond)
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2])/1e6, "cold-ms")
		})
	}
}
