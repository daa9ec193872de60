package sandbox

import (
	"context"
	"regexp"
	"strconv"
	"testing"
)

var reportMaxMem = regexp.MustCompile(`(?m)^REPORT RequestId: .*\tMax Memory Used: (\d+) MB`)

// reportedMaxMemory is the Max Memory Used of the REPORT line in log.
func reportedMaxMemory(t *testing.T, log []byte) int {
	t.Helper()
	m := reportMaxMem.FindSubmatch(log)
	if m == nil {
		t.Fatalf("no REPORT line with Max Memory Used in %q", log)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// TestMaxMemoryUsedPerRun checks that each REPORT carries its own run's peak,
// not the largest of any earlier run in the same environment.
func TestMaxMemoryUsedPerRun(t *testing.T) {
	needPython(t)
	modes(t, func(t *testing.T, isolation string) {
		m, _ := newTestManager(t, isolation)
		fn := pyFunction(func(f *Function) { f.MemoryMB = 512 })
		big := invoke(t, m, fn, map[string]any{"op": "alloc", "mb": 100})
		small := invoke(t, m, fn, map[string]any{"op": "echo"})
		if big.FunctionError != "" || small.FunctionError != "" {
			t.Fatalf("%s / %s", big.Payload, small.Payload)
		}
		b, s := reportedMaxMemory(t, big.Log), reportedMaxMemory(t, small.Log)
		if b < 100 || s > b-60 || s != small.MaxMemoryUsedMB {
			t.Fatalf("Max Memory Used: %d MB after allocating 100 MB, then %d MB (result %d) for a small run", b, s, small.MaxMemoryUsedMB)
		}
	})
}

// TestMaxMemoryUsedAfterOOM checks that a run after an OOM kill in the same
// environment does not report the whole limit again.
func TestMaxMemoryUsedAfterOOM(t *testing.T) {
	m, _ := isolatedManager(t)
	fn := pyFunction(func(f *Function) { f.MemoryMB = 128 })
	inv := newInv(map[string]any{"op": "alloc", "mb": 400})
	r, err := m.Invoke(context.Background(), fn, inv)
	if err != nil {
		t.Fatal(err)
	}
	if r.FunctionError == "" || reportedMaxMemory(t, r.Log) < 120 {
		t.Fatalf("OOM run: %q %s\n%s", r.FunctionError, r.Payload, r.Log)
	}
	for range 2 {
		r = invoke(t, m, fn, map[string]any{"op": "echo"})
		if r.FunctionError != "" {
			t.Fatalf("%s", r.Payload)
		}
		if n := reportedMaxMemory(t, r.Log); n > 64 {
			t.Fatalf("after an OOM, a small run reports Max Memory Used: %d MB\n%s", n, r.Log)
		}
	}
	if s := m.Stats(); s.Total != 1 {
		t.Fatalf("want every run in one environment, stats %+v", s)
	}
}
