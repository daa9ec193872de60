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
	"testing"
	"time"

	"github.com/lambdad/lambdad/internal/testkit"
	"golang.org/x/sys/unix"
)

// span is what the test functions' "span" op answers: when the call ran
// and in which process.
type span struct {
	Pid        int    `json:"pid"`
	Proc       string `json:"proc"` // a process's own id: pids repeat across PID namespaces
	Start, End int64  // Unix ns
	Max        string `json:"max"` // AWS_LAMBDA_MAX_CONCURRENCY as the function saw it
}

// invokeAll runs the payloads at once and returns their results in order.
func invokeAll(t *testing.T, m *Manager, fn *Function, payloads ...any) []Result {
	t.Helper()
	out := make([]Result, len(payloads))
	errs := make([]error, len(payloads))
	var wg sync.WaitGroup
	for i, p := range payloads {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			out[i], errs[i] = m.Invoke(ctx, fn, newInv(p))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("invoke %d: %v", i, err)
		}
	}
	return out
}

// checkOverlap asserts the spans ran in one process and all at once: each
// started before any ended.
func checkOverlap(t *testing.T, res []Result) []span {
	t.Helper()
	spans := make([]span, len(res))
	for i, r := range res {
		if r.FunctionError != "" {
			t.Fatalf("call %d: %s %s", i, r.FunctionError, r.Payload)
		}
		spans[i] = testkit.DecodeJSON[span](t, r.Payload)
	}
	var lastStart, firstEnd int64 = 0, 1 << 62
	for _, s := range spans {
		if s.Proc == "" || s.Proc != spans[0].Proc {
			t.Fatalf("calls ran in several processes: %+v", spans)
		}
		lastStart, firstEnd = max(lastStart, s.Start), min(firstEnd, s.End)
	}
	if lastStart >= firstEnd {
		t.Fatalf("calls did not overlap: %+v", spans)
	}
	return spans
}

// TestMultiConcurrentCallsShareOneProcess: four 1 s calls on an
// environment of concurrency 4 (aws-lambda-go runs AWS_LAMBDA_MAX_CONCURRENCY
// /next loops) run at once in one process of one environment.
func TestMultiConcurrentCallsShareOneProcess(t *testing.T) {
	needGo(t)
	modes(t, func(t *testing.T, iso string) {
		m, _ := newTestManager(t, iso)
		fn := goFunction(func(f *Function) { f.MaxConcurrency = 4 })
		op := map[string]any{"op": "span", "ms": 1000}
		res := invokeAll(t, m, fn, op, op, op, op)
		spans := checkOverlap(t, res)
		if spans[0].Max != "4" {
			t.Errorf("AWS_LAMBDA_MAX_CONCURRENCY = %q, want 4", spans[0].Max)
		}
		cold := 0
		for _, r := range res {
			if r.InitDuration > 0 {
				cold++
			}
			if !strings.Contains(string(r.Log), "REPORT RequestId: ") {
				t.Errorf("log without REPORT: %s", r.Log)
			}
		}
		if cold != 1 {
			t.Errorf("%d calls report an Init Duration, want 1 (one environment started)", cold)
		}
		if s := m.Stats(); s.Total != 1 || s.Idle != 1 {
			t.Fatalf("stats %+v, want one idle environment", s)
		}
		// Warm again: the same process.
		again := checkOverlap(t, invokeAll(t, m, fn, op, op))
		if again[0].Proc != spans[0].Proc {
			t.Fatalf("warm calls in a new process %s, was %s", again[0].Proc, spans[0].Proc)
		}
	})
}

// TestMultiFullEnvironmentStartsAnother: calls beyond an environment's
// slots go to a second one, never a third.
func TestMultiFullEnvironmentStartsAnother(t *testing.T) {
	needGo(t)
	m, _ := newTestManager(t, "off")
	fn := goFunction(func(f *Function) { f.MaxConcurrency = 2 })
	op := map[string]any{"op": "span", "ms": 800}
	res := invokeAll(t, m, fn, op, op, op, op)
	pids := map[int]int{}
	for _, r := range res {
		pids[testkit.DecodeJSON[span](t, r.Payload).Pid]++
	}
	if len(pids) != 2 {
		t.Fatalf("4 calls at concurrency 2 ran in %d processes (%v), want 2", len(pids), pids)
	}
	if s := m.Stats(); s.Total != 2 {
		t.Fatalf("stats %+v, want 2 environments", s)
	}
}

// TestMultiTimeoutLeavesOthersRunning: as AWS documents for Managed
// Instances, one call's timeout fails that call only; the calls beside it
// finish and the environment (its process) lives on.
func TestMultiTimeoutLeavesOthersRunning(t *testing.T) {
	needGo(t)
	m, _ := newTestManager(t, "off")
	fn := goFunction(func(f *Function) { f.MaxConcurrency = 3; f.Timeout = time.Second })
	res := invokeAll(t, m, fn,
		map[string]any{"op": "sleep", "ms": 3000},
		map[string]any{"op": "span", "ms": 300},
		map[string]any{"op": "span", "ms": 300})
	if res[0].FunctionError != "Unhandled" || !strings.Contains(string(res[0].Payload), `"errorType":"Sandbox.Timedout"`) {
		t.Fatalf("slow call: %q %s", res[0].FunctionError, res[0].Payload)
	}
	if !strings.Contains(string(res[0].Log), "Task timed out after 1.00 seconds") {
		t.Errorf("timeout log: %s", res[0].Log)
	}
	spans := checkOverlap(t, res[1:])
	after := invoke(t, m, fn, map[string]any{"op": "span", "ms": 1})
	if s := testkit.DecodeJSON[span](t, after.Payload); s.Pid != spans[0].Pid || after.InitDuration != 0 {
		t.Fatalf("after a timeout: pid %d (was %d), init %v: the environment was restarted", s.Pid, spans[0].Pid, after.InitDuration)
	}
}

// TestMultiCrashFailsEveryCallInFlight: a process that exits takes every
// call it holds with it, each answered Runtime.ExitError; the next call
// starts a fresh process.
func TestMultiCrashFailsEveryCallInFlight(t *testing.T) {
	needGo(t)
	m, _ := newTestManager(t, "off")
	fn := goFunction(func(f *Function) { f.MaxConcurrency = 4 })
	first := invoke(t, m, fn, map[string]any{"op": "span", "ms": 1})
	pid := testkit.DecodeJSON[span](t, first.Payload).Pid
	res := invokeAll(t, m, fn,
		map[string]any{"op": "sleep", "ms": 3000},
		map[string]any{"op": "sleep", "ms": 3000},
		map[string]any{"op": "sleep", "ms": 3000},
		map[string]any{"op": "exitlater", "ms": 300, "code": 3})
	for i, r := range res[:3] {
		if r.FunctionError != "Unhandled" || !strings.Contains(string(r.Payload), `"errorType":"Runtime.ExitError"`) ||
			!strings.Contains(string(r.Payload), "exit status 3") {
			t.Errorf("call %d in flight at the crash: %q %s", i, r.FunctionError, r.Payload)
		}
	}
	after := invoke(t, m, fn, map[string]any{"op": "span", "ms": 1})
	if s := testkit.DecodeJSON[span](t, after.Payload); s.Pid == pid || after.InitDuration == 0 {
		t.Fatalf("after the crash: pid %d (was %d), init %v", s.Pid, pid, after.InitDuration)
	}
}

// TestMultiResultsByRequestID: a second result for a finished call is
// AWS's 403, an unknown id a 400; each call gets its own payload back.
func TestMultiResultsByRequestID(t *testing.T) {
	needGo(t)
	m, _ := newTestManager(t, "off")
	fn := goFunction(func(f *Function) { f.MaxConcurrency = 8 })
	var payloads []any
	for i := range 8 {
		payloads = append(payloads, map[string]any{"n": i})
	}
	for i, r := range invokeAll(t, m, fn, payloads...) {
		if got := testkit.DecodeJSON[map[string]int](t, r.Payload); got["n"] != i {
			t.Fatalf("call %d got %s", i, r.Payload)
		}
	}
}

// TestMultiRuntimeAPI drives a multi-invocation environment's Runtime API
// by hand: a /next that waits gets the next call handed off, a queued call
// goes to the next /next, results route by id, a second result for a
// finished call is AWS's 403 and an unknown id a 400.
func TestMultiRuntimeAPI(t *testing.T) {
	e := fuzzEnv()
	e.cur, e.queued = nil, nil
	e.multi = newMultiState(4)
	addr := serveAPI(t, e)
	mk := func(id string) *call {
		return &call{id: id, inv: Invocation{RequestID: id, Payload: []byte(`"` + id + `"`)},
			deadline: time.Now().Add(time.Minute), done: make(chan struct{}, 1)}
	}
	const next = "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n"
	post := func(id, body string) rawResponse {
		return roundTrip(t, addr, "POST /2018-06-01/runtime/invocation/"+id+"/response HTTP/1.1\r\nHost: x\r\nContent-Length: "+
			strconv.Itoa(len(body))+"\r\n\r\n"+body, "POST")
	}
	// Two /next wait at once; two calls are handed off to them.
	got := make(chan string, 2)
	for range 2 {
		go func() { got <- string(roundTrip(t, addr, next, "GET").body) }()
	}
	testkit.Eventually(t, 2*time.Second, "two /next waiting", func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		return len(e.multi.waiters) == 2
	})
	a, b, c := mk("req-a"), mk("req-b"), mk("req-c")
	e.handOffMulti(a)
	e.handOffMulti(b)
	e.handOffMulti(c) // queued: no /next waits
	if x, y := <-got, <-got; x == y || (x != `"req-a"` && x != `"req-b"`) || (y != `"req-a"` && y != `"req-b"`) {
		t.Fatalf("waiting /next got %s and %s", x, y)
	}
	if r := roundTrip(t, addr, next, "GET"); string(r.body) != `"req-c"` {
		t.Fatalf("queued call: %d %s", r.code, r.body)
	}
	for _, cl := range []*call{b, a, c} {
		if r := post(cl.id, `{"ok":"`+cl.id+`"}`); r.code != 202 {
			t.Fatalf("response for %s: %d %s", cl.id, r.code, r.body)
		}
		<-cl.done
		if cl.state != callResponded || string(cl.payload) != `{"ok":"`+cl.id+`"}` {
			t.Fatalf("%s: state %d payload %s", cl.id, cl.state, cl.payload)
		}
	}
	if r := post("req-a", `{}`); r.code != 403 || string(r.body) != `{"errorMessage":"Invalid state transition: response already received for request req-a","errorType":"InvalidStateTransition"}` {
		t.Errorf("second response: %d %s", r.code, r.body)
	}
	if r := post("req-zz", `{}`); r.code != 400 || string(r.body) != `{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}` {
		t.Errorf("unknown id: %d %s", r.code, r.body)
	}
}

// TestMultiCPUQuota: an environment with CPUs (Lambda Managed Instances'
// vCPUs) has a CPU quota of that many CPUs where the cpu controller is
// available, which the function's process reads back from its own cgroup.
func TestMultiCPUQuota(t *testing.T) {
	needGo(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	m, _ := newTestManager(t, "auto")
	if m.iso == nil || m.iso.cg == nil {
		t.Fatal("running as root but environments have no cgroups")
	}
	fn := goFunction(func(f *Function) { f.MaxConcurrency = 2; f.CPUs = 1.5 })
	invoke(t, m, fn, map[string]any{"op": "span", "ms": 1})
	var e *env
	m.envMu.Lock()
	for x := range m.envs {
		e = x
	}
	m.envMu.Unlock()
	var quota string
	for _, d := range e.cg.dirs {
		if b, err := os.ReadFile(filepath.Join(d, "cpu.max")); err == nil {
			quota = strings.TrimSpace(string(b))
		} else if b, err := os.ReadFile(filepath.Join(d, "cpu.cfs_quota_us")); err == nil {
			quota = strings.TrimSpace(string(b))
		}
	}
	if !m.iso.cg.v2 && m.iso.cg.cpu == "" || m.iso.cg.v2 && !m.iso.cg.cpuOK {
		t.Skip("no cpu controller here")
	}
	if quota != "150000" && quota != "150000 100000" {
		t.Fatalf("cpu quota %q, want 1.5 CPUs (150000 per 100000 µs)", quota)
	}
	// The process is in that cgroup.
	pid := e.currentProc().pid.Load()
	self, err := os.ReadFile("/proc/" + strconv.FormatInt(pid, 10) + "/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	name := "/e" + strconv.FormatUint(e.id, 10)
	in := false
	for line := range strings.Lines(string(self)) {
		f := strings.SplitN(strings.TrimSpace(line), ":", 3)
		if len(f) == 3 && strings.HasSuffix(f[2], name) && (m.iso.cg.v2 || slices.Contains(strings.Split(f[1], ","), "cpu")) {
			in = true
		}
	}
	if !in {
		t.Fatalf("the bootstrap is not in the environment's cpu cgroup:\n%s", self)
	}
}

// TestMultiCPUPinned: whole vCPUs pin the environment to that many of the
// host's cores (a cpuset, not a quota), and its process cannot widen its
// own affinity past them, as a function calling sched_setaffinity would.
func TestMultiCPUPinned(t *testing.T) {
	needGo(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	if runtime.NumCPU() < 2 {
		t.Skip("one core: nothing to pin to")
	}
	m, _ := newTestManager(t, "auto")
	if m.iso == nil || m.iso.cg == nil {
		t.Fatal("running as root but environments have no cgroups")
	}
	fn := goFunction(func(f *Function) { f.MaxConcurrency = 2; f.CPUs = 1 })
	invoke(t, m, fn, map[string]any{"op": "span", "ms": 1})
	if m.iso.cg.cpuset == "" && !m.iso.cg.cpusetOK {
		t.Skip("no cpuset controller here")
	}
	var e *env
	m.envMu.Lock()
	for x := range m.envs {
		e = x
	}
	m.envMu.Unlock()
	pid := int(e.currentProc().pid.Load())
	allowed := func() []int {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
				return parseCPUList(v)
			}
		}
		t.Fatal("no Cpus_allowed_list")
		return nil
	}
	if got := allowed(); len(got) != 1 {
		t.Fatalf("the bootstrap may run on cores %v, want one", got)
	}
	var all unix.CPUSet
	for c := range runtime.NumCPU() {
		all.Set(c)
	}
	_ = unix.SchedSetaffinity(pid, &all) // the kernel keeps it within the cpuset
	if got := allowed(); len(got) != 1 {
		t.Fatalf("after sched_setaffinity to every core the bootstrap may run on %v", got)
	}
	// No quota: the cpu controller's group scheduling is what pinning avoids.
	for _, d := range e.cg.dirs {
		if b, err := os.ReadFile(filepath.Join(d, "cpu.cfs_quota_us")); err == nil && strings.TrimSpace(string(b)) != "-1" {
			t.Errorf("a CFS quota %s besides the cpuset", b)
		}
	}
}

// TestMultiTimedOutCallHoldsItsSlot: the code of a timed-out call keeps
// running, and keeps its runtime worker busy (AWS: "your code continues to
// run"); its slot is not handed to another call until the runtime posts
// the late result.
func TestMultiTimedOutCallHoldsItsSlot(t *testing.T) {
	needGo(t)
	m, _ := newTestManager(t, "off")
	fn := goFunction(func(f *Function) { f.MaxConcurrency = 2; f.Timeout = time.Second })
	if r := invoke(t, m, fn, map[string]any{"op": "sleep", "ms": 2500}); !strings.Contains(string(r.Payload), "Sandbox.Timedout") {
		t.Fatalf("slow call: %s", r.Payload)
	}
	op := map[string]any{"op": "span", "ms": 300}
	res := invokeAll(t, m, fn, op, op)
	a, b := testkit.DecodeJSON[span](t, res[0].Payload), testkit.DecodeJSON[span](t, res[1].Payload)
	if a.Pid == b.Pid {
		t.Fatalf("two calls beside a timed-out one shared its environment of 2 slots (pid %d)", a.Pid)
	}
	// Once the slow code ends, its slot is free again.
	testkit.Eventually(t, 5*time.Second, "held slot freed", func() bool {
		held := 0
		m.pools.Range(func(_, v any) bool {
			p := v.(*pool)
			p.mu.Lock()
			for _, e := range p.shared {
				held += e.multi.held
			}
			p.mu.Unlock()
			return true
		})
		return held == 0
	})
}

// TestMultiInitErrorFailsEveryWaitingCall: calls that arrive while an
// environment starts wait for its init; when the init fails, each gets the
// init error, none a bare error.
func TestMultiInitErrorFailsEveryWaitingCall(t *testing.T) {
	needPython(t)
	m, _ := newTestManager(t, "off")
	fn := pyFunction(func(f *Function) { f.MaxConcurrency = 4; f.Env = append(f.Env, "PYMODE=initerror") })
	for i, r := range invokeAll(t, m, fn, 1, 2, 3) {
		if r.FunctionError != "Unhandled" || !strings.Contains(string(r.Payload), "Runtime.ImportModuleError") {
			t.Errorf("call %d: %q %s", i, r.FunctionError, r.Payload)
		}
	}
	testkit.Eventually(t, 5*time.Second, "no environment left", func() bool { return m.Stats().Total == 0 })
}

// TestMultiCanceledCallFinishesInBackground: a caller that gives up gets
// its context's error at once; the call's slot is freed when the runtime
// answers, and the environment serves on.
func TestMultiCanceledCallFinishesInBackground(t *testing.T) {
	needGo(t)
	m, _ := newTestManager(t, "off")
	fn := goFunction(func(f *Function) { f.MaxConcurrency = 2 })
	first := testkit.DecodeJSON[span](t, invoke(t, m, fn, map[string]any{"op": "span", "ms": 1}).Payload)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := m.Invoke(ctx, fn, newInv(map[string]any{"op": "sleep", "ms": 500})); err != context.DeadlineExceeded {
		t.Fatalf("canceled call: %v", err)
	}
	testkit.Eventually(t, 5*time.Second, "the environment idle again", func() bool {
		s := m.Stats()
		return s.Total == 1 && s.Idle == 1
	})
	if again := testkit.DecodeJSON[span](t, invoke(t, m, fn, map[string]any{"op": "span", "ms": 1}).Payload); again.Proc != first.Proc {
		t.Fatalf("after a canceled call: process %s, was %s", again.Proc, first.Proc)
	}
}
