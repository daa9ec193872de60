package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lambdad/lambdad/internal/testkit"
)

var reportRE = regexp.MustCompile(`^REPORT RequestId: (\S+)\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\tMemory Size: 128 MB\tMax Memory Used: (\d+) MB\t(Init Duration: \d+\.\d\d ms\t)?$`)

// checkTextLog verifies the START/END/REPORT framing and returns the lines
// between START and END.
func checkTextLog(t *testing.T, log []byte, id, version string, cold bool) []string {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(string(log), "\n"), "\n")
	start := -1
	for i, l := range lines {
		if l == "START RequestId: "+id+" Version: "+version {
			start = i
		}
	}
	if start < 0 || len(lines) < start+3 {
		t.Fatalf("no START line for %s in log:\n%s", id, log)
	}
	end, report := lines[len(lines)-2], lines[len(lines)-1]
	if end != "END RequestId: "+id {
		t.Fatalf("END line = %q", end)
	}
	mm := reportRE.FindStringSubmatch(report)
	if mm == nil || mm[1] != id {
		t.Fatalf("REPORT line %q does not match AWS format", report)
	}
	if cold != (mm[3] != "") {
		t.Fatalf("cold=%v but REPORT line is %q", cold, report)
	}
	return lines[start+1 : len(lines)-2]
}

func TestGoHandlerEchoAndWarmReuse(t *testing.T) {
	needGo(t)
	modes(t, func(t *testing.T, iso string) {
		m, _ := newTestManager(t, iso)
		fn := goFunction()
		inv := newInv(map[string]any{"hello": "world", "n": 1})
		res, err := m.Invoke(context.Background(), fn, inv)
		if err != nil {
			t.Fatal(err)
		}
		if string(res.Payload) != string(inv.Payload) || res.FunctionError != "" {
			t.Fatalf("payload %q err %q", res.Payload, res.FunctionError)
		}
		if res.InitDuration <= 0 || res.Duration <= 0 {
			t.Fatalf("durations: init %v run %v", res.InitDuration, res.Duration)
		}
		if res.MaxMemoryUsedMB <= 0 {
			t.Errorf("MaxMemoryUsedMB = %d", res.MaxMemoryUsedMB)
		}
		checkTextLog(t, res.Log, inv.RequestID, "$LATEST", true)

		a := testkit.DecodeJSON[map[string]any](t, invoke(t, m, fn, map[string]string{"op": "counter"}).Payload)
		r2 := invoke(t, m, fn, map[string]string{"op": "counter"})
		b := testkit.DecodeJSON[map[string]any](t, r2.Payload)
		if a["pid"] != b["pid"] || b["counter"].(float64) != a["counter"].(float64)+1 {
			t.Fatalf("warm environment not reused: %v then %v", a, b)
		}
		if r2.InitDuration != 0 {
			t.Fatalf("warm invoke reported init duration %v", r2.InitDuration)
		}
		if s := m.Stats(); s.Total != 1 || s.Idle != 1 || s.Busy != 0 {
			t.Fatalf("stats %+v", s)
		}
	})
}

func TestGoHandlerContextAndEnv(t *testing.T) {
	needGo(t)
	t.Setenv("SECRET_PARENT", "leaked")
	modes(t, func(t *testing.T, iso string) {
		m, _ := newTestManager(t, iso)
		fn := goFunction()
		inv := newInv(map[string]string{"op": "context"})
		inv.TraceID = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
		inv.ClientContext = `{"custom":{"k":"v"},"env":{},"client":{}}`
		inv.CognitoIdentity = `{"cognitoIdentityId":"us-east-1:abc","cognitoIdentityPoolId":"pool"}`
		before := time.Now()
		res, err := m.Invoke(context.Background(), fn, inv)
		if err != nil {
			t.Fatal(err)
		}
		v := testkit.DecodeJSON[map[string]any](t, res.Payload)
		if v["requestId"] != inv.RequestID || v["arn"] != inv.InvokedFunctionARN {
			t.Errorf("context ids: %v", v)
		}
		dl := time.UnixMilli(int64(v["deadlineMs"].(float64)))
		if dl.Before(before.Add(fn.Timeout-time.Second)) || dl.After(time.Now().Add(fn.Timeout)) {
			t.Errorf("deadline %v not ~%v from now", dl, fn.Timeout)
		}
		if c, _ := v["clientCustom"].(map[string]any); c["k"] != "v" {
			t.Errorf("client context: %v", v["clientCustom"])
		}
		if v["identityId"] != "us-east-1:abc" {
			t.Errorf("cognito identity: %v", v["identityId"])
		}
		if v["trace"] != inv.TraceID {
			t.Errorf("trace: %v", v["trace"])
		}
		env := v["env"].(map[string]any)
		if !strings.HasPrefix(env["AWS_LAMBDA_RUNTIME_API"].(string), "127.0.0.1:") || env["MY_VAR"] != "hello" {
			t.Errorf("env: %v", env)
		}
		if env["SECRET_PARENT"] != "" {
			t.Errorf("lambdad's environment leaked into the function")
		}
		wantRoot := fn.CodeDir
		if m.Isolated() {
			wantRoot = "/var/task"
		}
		if env["LAMBDA_TASK_ROOT"] != wantRoot {
			t.Errorf("LAMBDA_TASK_ROOT = %v, want %v", env["LAMBDA_TASK_ROOT"], wantRoot)
		}
	})
}

func TestFunctionErrorAndLogs(t *testing.T) {
	needGo(t)
	m, _ := newTestManager(t, "auto")
	fn := goFunction()
	inv := newInv(map[string]string{"op": "error"})
	res, err := m.Invoke(context.Background(), fn, inv)
	if err != nil {
		t.Fatal(err)
	}
	v := testkit.DecodeJSON[map[string]any](t, res.Payload)
	if res.FunctionError != "Unhandled" || v["errorMessage"] != "something broke" || v["errorType"] != "errorString" {
		t.Fatalf("error result %q %s", res.FunctionError, res.Payload)
	}

	lines := []string{"line one", "line two (stderr)", "line three", "line four (stderr)"}
	inv = newInv(map[string]any{"op": "print", "lines": lines})
	res, err = m.Invoke(context.Background(), fn, inv)
	if err != nil {
		t.Fatal(err)
	}
	got := checkTextLog(t, res.Log, inv.RequestID, "$LATEST", false)
	if strings.Join(got, "|") != strings.Join(lines, "|") {
		t.Fatalf("function output in log = %q, want %q", got, lines)
	}
}

func TestJSONLogFormat(t *testing.T) {
	needGo(t)
	m, _ := newTestManager(t, "off")
	fn := goFunction(func(f *Function) { f.LogFormat = "JSON" })
	inv := newInv("x")
	res, err := m.Invoke(context.Background(), fn, inv)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(res.Log)), "\n")
	var initStart, start, report struct {
		Time   string         `json:"time"`
		Type   string         `json:"type"`
		Record map[string]any `json:"record"`
	}
	// A cold start: platform.initStart comes first (loglevel.go).
	if err := json.Unmarshal([]byte(lines[0]), &initStart); err != nil {
		t.Fatalf("%v: %s", err, lines[0])
	}
	if initStart.Type != "platform.initStart" || initStart.Record["initializationType"] != "on-demand" || initStart.Record["phase"] != "init" {
		t.Errorf("initStart record %s", lines[0])
	}
	lines = lines[1:]
	if err := json.Unmarshal([]byte(lines[0]), &start); err != nil {
		t.Fatalf("%v: %s", err, lines[0])
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &report); err != nil {
		t.Fatalf("%v: %s", err, lines[len(lines)-1])
	}
	if start.Type != "platform.start" || start.Record["requestId"] != inv.RequestID || start.Record["version"] != "$LATEST" {
		t.Errorf("start record %s", lines[0])
	}
	if _, err := time.Parse("2006-01-02T15:04:05.000Z", start.Time); err != nil {
		t.Errorf("time %q: %v", start.Time, err)
	}
	metrics, _ := report.Record["metrics"].(map[string]any)
	if report.Type != "platform.report" || report.Record["status"] != "success" || metrics["memorySizeMB"] != 128.0 ||
		metrics["initDurationMs"] == nil || metrics["durationMs"] == nil || metrics["billedDurationMs"] == nil || metrics["maxMemoryUsedMB"] == nil {
		t.Errorf("report record %s", lines[len(lines)-1])
	}
}

func TestTimeoutKillsAndKeepsTmp(t *testing.T) {
	needGo(t)
	modes(t, func(t *testing.T, iso string) {
		m, _ := newTestManager(t, iso)
		fn := goFunction(func(f *Function) { f.Timeout = time.Second })
		tmpFile := "/tmp/persist.txt"
		if !m.Isolated() {
			tmpFile = "" // set below from the environment's TMPDIR
		}
		pid := testkit.DecodeJSON[map[string]any](t, invoke(t, m, fn, map[string]string{"op": "counter"}).Payload)["pid"]
		if tmpFile == "" {
			m.pools.Range(func(_, v any) bool {
				tmpFile = filepath.Join(v.(*pool).idle[0].tmpDir, "persist.txt")
				return false
			})
		}
		if w := testkit.DecodeJSON[map[string]any](t, invoke(t, m, fn, map[string]string{"op": "write", "path": tmpFile, "data": "kept"}).Payload); w["err"] != "" {
			t.Fatalf("write: %v", w)
		}
		inv := newInv(map[string]any{"op": "sleep", "ms": 5000})
		startT := time.Now()
		res, err := m.Invoke(context.Background(), fn, inv)
		if err != nil {
			t.Fatal(err)
		}
		if el := time.Since(startT); el > 3*time.Second {
			t.Errorf("timeout took %v", el)
		}
		want := `{"errorType":"Sandbox.Timedout","errorMessage":"RequestId: ` + inv.RequestID + ` Error: Task timed out after 1.00 seconds"}`
		if res.FunctionError != "Unhandled" || string(res.Payload) != want {
			t.Fatalf("timeout result %q %s", res.FunctionError, res.Payload)
		}
		if !regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ` + inv.RequestID + ` Task timed out after 1\.00 seconds$`).Match(res.Log) {
			t.Errorf("log lacks the timeout line:\n%s", res.Log)
		}
		checkTextLog(t, res.Log, inv.RequestID, "$LATEST", false)
		if res.Duration != time.Second {
			t.Errorf("duration %v", res.Duration)
		}
		// Fresh process, same /tmp.
		r := invoke(t, m, fn, map[string]string{"op": "read", "path": tmpFile})
		if v := testkit.DecodeJSON[map[string]any](t, r.Payload); v["data"] != "kept" {
			t.Errorf("/tmp did not survive the timeout: %v", v)
		}
		if r.InitDuration == 0 {
			t.Errorf("restart after timeout should be a cold start")
		}
		if p2 := testkit.DecodeJSON[map[string]any](t, invoke(t, m, fn, map[string]string{"op": "counter"}).Payload)["pid"]; p2 == pid && !m.Isolated() {
			t.Errorf("process was not restarted (pid %v)", p2)
		}
		if s := m.Stats(); s.Total != 1 {
			t.Errorf("stats %+v", s)
		}
	})
}

func TestCrash(t *testing.T) {
	needGo(t)
	modes(t, func(t *testing.T, iso string) {
		m, _ := newTestManager(t, iso)
		fn := goFunction()
		inv := newInv(map[string]any{"op": "exit", "code": 3})
		res, err := m.Invoke(context.Background(), fn, inv)
		if err != nil {
			t.Fatal(err)
		}
		want := `{"errorType":"Runtime.ExitError","errorMessage":"RequestId: ` + inv.RequestID + ` Error: Runtime exited with error: exit status 3"}`
		if res.FunctionError != "Unhandled" || string(res.Payload) != want {
			t.Fatalf("crash result %q %s", res.FunctionError, res.Payload)
		}
		checkTextLog(t, res.Log, inv.RequestID, "$LATEST", true)
		if v := testkit.DecodeJSON[map[string]any](t, invoke(t, m, fn, map[string]string{"op": "counter"}).Payload); v["counter"] != 1.0 {
			t.Fatalf("after crash: %v", v)
		}
		// A runtime that dies between invocations costs the next one only
		// a cold start.
		invoke(t, m, fn, map[string]any{"op": "exitlater", "ms": 20, "code": 4})
		time.Sleep(200 * time.Millisecond)
		if r := invoke(t, m, fn, map[string]string{"op": "counter"}); r.FunctionError != "" || r.InitDuration == 0 {
			t.Fatalf("after idle death: %q %s (init %v)", r.FunctionError, r.Payload, r.InitDuration)
		}
	})
}

func TestInitFailures(t *testing.T) {
	needPython(t)
	m, _ := newTestManager(t, "auto")
	t.Run("init error", func(t *testing.T) {
		fn := pyFunction(func(f *Function) { f.Env = append(f.Env, "PYMODE=initerror") })
		inv := newInv("x")
		res, err := m.Invoke(context.Background(), fn, inv)
		if err != nil {
			t.Fatal(err)
		}
		if v := testkit.DecodeJSON[map[string]any](t, res.Payload); res.FunctionError != "Unhandled" || v["errorType"] != "Runtime.ImportModuleError" || v["errorMessage"] != "bad init" {
			t.Fatalf("init error result %q %s", res.FunctionError, res.Payload)
		}
		if !strings.Contains(string(res.Log), "init failing\n") {
			t.Errorf("init output missing from log:\n%s", res.Log)
		}
		if s := m.Stats(); s.Total != 0 {
			t.Errorf("environment kept after init error: %+v", s)
		}
	})
	t.Run("crash before next", func(t *testing.T) {
		fn := pyFunction(func(f *Function) { f.Env = append(f.Env, "PYMODE=crashinit") })
		inv := newInv("x")
		res, err := m.Invoke(context.Background(), fn, inv)
		if err != nil {
			t.Fatal(err)
		}
		want := `{"errorType":"Runtime.ExitError","errorMessage":"RequestId: ` + inv.RequestID + ` Error: Runtime exited with error: exit status 2"}`
		if string(res.Payload) != want || res.FunctionError != "Unhandled" {
			t.Fatalf("got %q %s", res.FunctionError, res.Payload)
		}
		if !strings.Contains(string(res.Log), "dying\n") {
			t.Errorf("log:\n%s", res.Log)
		}
	})
	t.Run("not executable", func(t *testing.T) {
		for _, cmd := range [][]string{{"/nonexistent/bootstrap"}, {"{TASK_ROOT}/pyruntime.py"}, {"no-such-command-xyz"}} {
			fn := pyFunction(func(f *Function) { f.Command = cmd })
			_, err := m.Invoke(context.Background(), fn, newInv("x"))
			var se *StartError
			if !errors.As(err, &se) {
				t.Fatalf("%v: got %v, want *StartError", cmd, err)
			}
		}
		if s := m.Stats(); s.Total != 0 {
			t.Errorf("stats %+v", s)
		}
	})
}

func TestRuntimeAPIProtocol(t *testing.T) {
	needPython(t)
	m, _ := newTestManager(t, "off")
	fn := pyFunction()

	inv := newInv(map[string]string{"op": "headers"})
	inv.TraceID = "Root=1-abc"
	h := testkit.DecodeJSON[map[string]any](t, invoke(t, m, fn, map[string]string{"op": "headers"}).Payload)
	if h["Lambda-Runtime-Aws-Request-Id"] == nil || h["Lambda-Runtime-Deadline-Ms"] == nil ||
		h["Lambda-Runtime-Invoked-Function-Arn"] != "arn:aws:lambda:us-east-1:000000000000:function:f" {
		t.Errorf("headers %v", h)
	}
	if _, ok := h["Lambda-Runtime-Client-Context"]; ok {
		t.Errorf("empty client context must not be sent: %v", h)
	}

	v := testkit.DecodeJSON[map[string]any](t, invoke(t, m, fn, map[string]string{"op": "badid"}).Payload)
	if v["status"] != 400.0 || v["body"].(map[string]any)["errorType"] != "InvalidRequestID" {
		t.Errorf("unknown request id: %v", v)
	}

	invoke(t, m, fn, map[string]string{"op": "dup"})
	if v := testkit.DecodeJSON[map[string]any](t, invoke(t, m, fn, map[string]string{"op": "state"}).Payload); v["dup"] != 403.0 {
		t.Errorf("second response: %v", v)
	}

	res := invoke(t, m, fn, map[string]any{"op": "big", "n": maxResponseBytes + 1})
	if res.FunctionError != "Unhandled" || string(res.Payload) != `{"errorMessage":"Response payload size exceeded maximum allowed payload size (6291556 bytes).","errorType":"Function.ResponseSizeTooLarge"}` {
		t.Errorf("oversized response: %q %s", res.FunctionError, res.Payload)
	}
	if v := testkit.DecodeJSON[map[string]any](t, invoke(t, m, fn, map[string]string{"op": "state"}).Payload); v["big"] != 413.0 {
		t.Errorf("runtime saw %v for an oversized response", v)
	}
	res = invoke(t, m, fn, map[string]any{"op": "big", "n": maxResponseBytes})
	if res.FunctionError != "" || len(res.Payload) != maxResponseBytes {
		t.Errorf("max-size response: %q, %d bytes", res.FunctionError, len(res.Payload))
	}

	res = invoke(t, m, fn, map[string]string{"op": "error"})
	if res.FunctionError != "Unhandled" || string(res.Payload) != `{"errorMessage": "boom", "errorType": "MyError"}` {
		t.Errorf("error post: %q %s", res.FunctionError, res.Payload)
	}
	// Version comes from AWS_LAMBDA_FUNCTION_VERSION.
	inv = newInv("x")
	res, err := m.Invoke(context.Background(), fn, inv)
	if err != nil {
		t.Fatal(err)
	}
	checkTextLog(t, res.Log, inv.RequestID, "7", false)
}

// TestRuntimeHangsUpOnNext: a runtime that asks for its next invocation
// and hangs up does not get it; it goes to the runtime's next /next.
func TestRuntimeHangsUpOnNext(t *testing.T) {
	needPython(t)
	m, _ := newTestManager(t, "off")
	fn := pyFunction(func(f *Function) { f.Timeout = 3 * time.Second })
	if res := invoke(t, m, fn, map[string]any{"op": "hangup", "s": 0.6}); string(res.Payload) != `"hung up"` {
		t.Fatalf("hangup: %s", res.Payload)
	}
	time.Sleep(200 * time.Millisecond) // the hung-up /next is gone
	// Given to the hung-up connection, it would time out.
	res := invoke(t, m, fn, map[string]string{"op": "pid"})
	if res.FunctionError != "" {
		t.Fatalf("after a hung-up /next: %q %s", res.FunctionError, res.Payload)
	}
}

func TestWarmPoolScalingIdleAndRetire(t *testing.T) {
	needGo(t)
	m, _ := newTestManager(t, "off", func(c *Config) { c.IdleTimeout = 300 * time.Millisecond })
	fn := goFunction()
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			r := invoke(t, m, fn, map[string]any{"op": "sleep", "ms": 200})
			if r.FunctionError != "" {
				t.Errorf("%s", r.Payload)
			}
		})
	}
	wg.Wait()
	if s := m.Stats(); s.Total != 6 || s.Idle != 6 {
		t.Fatalf("6 concurrent invokes: stats %+v", s)
	}
	deadline := time.Now().Add(3 * time.Second)
	for m.Stats().Total != 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if s := m.Stats(); s.Total != 0 {
		t.Fatalf("idle environments not stopped: %+v", s)
	}

	m2, _ := newTestManager(t, "off")
	fnA, fnB := goFunction(), goFunction()
	invoke(t, m2, fnA, "a")
	invoke(t, m2, fnB, "b")
	m2.Retire(fnA.Key.FunctionARN, "")
	if s := m2.Stats(); s.Total != 1 {
		t.Fatalf("after retire: %+v", s)
	}
	if r := invoke(t, m2, fnA, "again"); r.InitDuration == 0 {
		t.Errorf("retired function reused a warm environment")
	}
	if r := invoke(t, m2, fnB, "again"); r.InitDuration != 0 {
		t.Errorf("unrelated function lost its warm environment")
	}
}

func TestRetireWhileBusy(t *testing.T) {
	needGo(t)
	m, _ := newTestManager(t, "off")
	fn := goFunction()
	done := make(chan Result)
	go func() { done <- invoke(t, m, fn, map[string]any{"op": "sleep", "ms": 300}) }()
	for m.Stats().Busy != 1 {
		time.Sleep(5 * time.Millisecond)
	}
	m.RetireKey(fn.Key)
	if r := <-done; r.FunctionError != "" {
		t.Fatalf("%s", r.Payload)
	}
	if s := m.Stats(); s.Total != 0 {
		t.Fatalf("retired busy environment kept: %+v", s)
	}
}

func TestContextCancelDoesNotLeak(t *testing.T) {
	needGo(t)
	m, _ := newTestManager(t, "off")
	fn := goFunction()
	invoke(t, m, fn, "warm")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := m.Invoke(ctx, fn, newInv(map[string]any{"op": "sleep", "ms": 400}))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	if s := m.Stats(); s.Busy != 1 {
		t.Fatalf("during: %+v", s)
	}
	deadline := time.Now().Add(3 * time.Second)
	for m.Stats().Idle != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if s := m.Stats(); s.Idle != 1 || s.Total != 1 {
		t.Fatalf("environment not returned after cancelled invoke: %+v", s)
	}
	if r := invoke(t, m, fn, "next"); r.InitDuration != 0 || string(r.Payload) != `"next"` {
		t.Fatalf("reuse after cancel: %+v", r)
	}

	// Cancelled while waiting for a start slot.
	m2, _ := newTestManager(t, "off", func(c *Config) { c.MaxParallelStarts = 1 })
	m2.startSem <- struct{}{}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	if _, err := m2.Invoke(ctx2, goFunction(), newInv("x")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	<-m2.startSem
	if s := m2.Stats(); s.Total != 0 {
		t.Fatalf("leaked: %+v", s)
	}
}

func TestCloseKillsEverything(t *testing.T) {
	needGo(t)
	modes(t, func(t *testing.T, iso string) {
		m, _ := newTestManager(t, iso)
		fn := goFunction()
		invoke(t, m, fn, "warm")
		var pids []int
		m.envMu.Lock()
		for e := range m.envs {
			pids = append(pids, int(e.proc.pid.Load()))
		}
		m.envMu.Unlock()
		busy := make(chan error, 1)
		go func() {
			_, err := m.Invoke(context.Background(), goFunction(), newInv(map[string]any{"op": "sleep", "ms": 10000}))
			busy <- err
		}()
		for len(pids) < 2 {
			time.Sleep(5 * time.Millisecond)
			m.envMu.Lock()
			for e := range m.envs {
				if pr := e.currentProc(); pr != nil && int(pr.pid.Load()) != pids[0] && pr.pid.Load() > 0 {
					pids = append(pids, int(pr.pid.Load()))
				}
			}
			m.envMu.Unlock()
		}
		if err := m.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		select {
		case <-busy:
		case <-time.After(5 * time.Second):
			t.Fatal("in-flight invoke not ended by Close")
		}
		for _, pid := range pids {
			if err := syscall.Kill(pid, 0); err == nil {
				t.Errorf("pid %d still alive after Close", pid)
			}
		}
		if ents, _ := os.ReadDir(m.cfg.WorkDir); len(ents) != 0 {
			t.Errorf("work dir not cleaned: %v", ents)
		}
		if _, err := m.Invoke(context.Background(), fn, newInv("x")); !errors.Is(err, ErrClosed) {
			t.Errorf("invoke after close: %v", err)
		}
	})
}

func TestLayersMerge(t *testing.T) {
	needPython(t)
	modes(t, func(t *testing.T, iso string) {
		m, _ := newTestManager(t, iso)
		l1, l2 := t.TempDir(), t.TempDir()
		for _, l := range []string{l1, l2} {
			if err := os.Chmod(l, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		write := func(p, s string) {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		write(filepath.Join(l1, "python/a.txt"), "one")
		write(filepath.Join(l1, "python/shared.txt"), "from1")
		write(filepath.Join(l2, "python/shared.txt"), "from2")
		write(filepath.Join(l2, "bin/tool"), "tool")
		rt := t.TempDir()
		if err := os.Chmod(rt, 0o755); err != nil {
			t.Fatal(err)
		}
		write(filepath.Join(rt, "bootstrap.py"), "runtime")
		fn := pyFunction(func(f *Function) {
			f.LayerDirs = []string{l1, l2}
			f.RuntimeDir = rt
			f.Env = append(f.Env, "OPTDIR={OPT}")
		})
		env := testkit.DecodeJSON[map[string]any](t, invoke(t, m, fn, map[string]string{"op": "env"}).Payload)
		opt := env["OPTDIR"].(string)
		if m.Isolated() && (opt != "/opt" || env["LAMBDA_RUNTIME_DIR"] != "/var/runtime") {
			t.Errorf("OPTDIR = %q, LAMBDA_RUNTIME_DIR = %q", opt, env["LAMBDA_RUNTIME_DIR"])
		}
		if v := testkit.DecodeJSON[map[string]any](t, invoke(t, m, fn, map[string]string{"op": "read", "path": env["LAMBDA_RUNTIME_DIR"].(string) + "/bootstrap.py"}).Payload); v["data"] != "runtime" {
			t.Errorf("runtime dir: %v", v)
		}
		for path, want := range map[string]string{"python/a.txt": "one", "python/shared.txt": "from2", "bin/tool": "tool"} {
			v := testkit.DecodeJSON[map[string]any](t, invoke(t, m, fn, map[string]string{"op": "read", "path": opt + "/" + path}).Payload)
			if v["data"] != want {
				t.Errorf("%s: %v, want %q", path, v, want)
			}
		}
	})
}

// A slow init gives up its start slot after startHold: with one slot, a
// function whose init takes 5 s does not hold up another's cold start.
func TestSlowInitReleasesStartSlot(t *testing.T) {
	needPython(t)
	m, _ := newTestManager(t, "off", func(c *Config) { c.MaxParallelStarts = 1 })
	slow := pyFunction(func(f *Function) { f.Env = append(f.Env, "PYMODE=slowinit", "SLEEP=5") })
	go func() { _, _ = m.Invoke(context.Background(), slow, newInv("slow")) }()
	deadline := time.Now().Add(2 * time.Second)
	for len(m.startSem) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond) // until the slow one holds the slot
	}
	start := time.Now()
	if r := invoke(t, m, pyFunction(), map[string]any{"k": "quick"}); string(r.Payload) != `{"k": "quick"}` {
		t.Fatalf("quick function: %s", r.Payload)
	}
	if took := time.Since(start); took > 4*time.Second {
		t.Errorf("the quick cold start waited %v behind a slow init", took)
	}
}

// TestOutputJustBeforeResponseLandsBeforeEND prints right before returning,
// warm, many times over: each run's lines must sit between its START and
// END, none in the next run's log. The output reader alone would often
// deliver them late (its wake-up races the response on the Runtime API);
// only the drains before START and END make this hold every time.
func TestOutputJustBeforeResponseLandsBeforeEND(t *testing.T) {
	needGo(t)
	m, _ := newTestManager(t, "auto")
	fn := goFunction()
	for i := range 300 {
		lines := []string{"out " + strconv.Itoa(i), "err " + strconv.Itoa(i)}
		inv := newInv(map[string]any{"op": "print", "lines": lines})
		res, err := m.Invoke(context.Background(), fn, inv)
		if err != nil {
			t.Fatal(err)
		}
		got := checkTextLog(t, res.Log, inv.RequestID, "$LATEST", i == 0)
		if !slices.Equal(got, lines) {
			t.Fatalf("run %d: between START and END %q, want %q; log:\n%s", i, got, lines, res.Log)
		}
	}
}
