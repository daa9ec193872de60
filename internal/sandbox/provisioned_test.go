package sandbox

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestProvisioned: provisioned environments finish init before any
// invocation, answer without an Init Duration, outlive the idle timeout
// and the function's Retire, and stop on Shrink and their own Retire.
func TestProvisioned(t *testing.T) {
	needGo(t)
	modes(t, func(t *testing.T, isolation string) {
		m, _ := newTestManager(t, isolation, func(c *Config) { c.IdleTimeout = 100 * time.Millisecond })
		fn := goFunction()
		pp := m.Provision(fn)
		ctx := context.Background()
		for range 2 {
			if err := pp.Start(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if n, s := pp.Count(), m.Stats(); n != 2 || s.Total != 2 || s.Idle != 2 {
			t.Fatalf("after two starts: count %d, stats %+v; want 2 idle", n, s)
		}
		res, ok, err := pp.Invoke(ctx, newInv("x"))
		if err != nil || !ok || res.FunctionError != "" || res.InitDuration != 0 || strings.Contains(string(res.Log), "Init Duration") {
			t.Fatalf("invoke on a provisioned environment: %v %v %q init %v\n%s", ok, err, res.Payload, res.InitDuration, res.Log)
		}
		time.Sleep(500 * time.Millisecond) // five idle timeouts
		m.Retire(fn.Key.FunctionARN, "")
		if n := pp.Count(); n != 2 {
			t.Fatalf("after idling and the function's Retire: %d provisioned environments, want 2", n)
		}
		pp.Shrink(1)
		if n, s := pp.Count(), m.Stats(); n != 1 || s.Total != 1 {
			t.Fatalf("after Shrink(1): count %d, stats %+v", n, s)
		}
		pp.Retire()
		if n, s := pp.Count(), m.Stats(); n != 0 || s.Total != 0 {
			t.Fatalf("after Retire: count %d, stats %+v", n, s)
		}
		if _, ok, _ := pp.Invoke(ctx, newInv("x")); ok {
			t.Errorf("a retired set ran an invocation")
		}
	})
}

func TestProvisionedInitError(t *testing.T) {
	needPython(t)
	m, _ := newTestManager(t, "auto")
	pp := m.Provision(pyFunction(func(f *Function) { f.Env = append(f.Env, "PYMODE=initerror") }))
	err := pp.Start(context.Background())
	var ie *InitError
	if !errors.As(err, &ie) || !strings.Contains(string(ie.Payload), "bad init") || !strings.Contains(string(ie.Log), "init failing") {
		t.Fatalf("Start of a failing init: %v, want an InitError with its payload and log", err)
	}
	if n, s := pp.Count(), m.Stats(); n != 0 || s.Total != 0 {
		t.Errorf("after a failed init: count %d, stats %+v", n, s)
	}
}

// TestProvisionedReinitAfterTimeout: a provisioned environment whose
// process a timeout killed runs init again before its next invocation.
func TestProvisionedReinitAfterTimeout(t *testing.T) {
	needGo(t)
	m, _ := newTestManager(t, "auto")
	pp := m.Provision(goFunction(func(f *Function) { f.Timeout = 300 * time.Millisecond }))
	ctx := context.Background()
	if err := pp.Start(ctx); err != nil {
		t.Fatal(err)
	}
	res, ok, err := pp.Invoke(ctx, newInv(map[string]any{"op": "sleep", "ms": 1000}))
	if err != nil || !ok || !strings.Contains(string(res.Payload), "Sandbox.Timedout") {
		t.Fatalf("timed-out invoke: %v %v %s", ok, err, res.Payload)
	}
	deadline := time.Now().Add(5 * time.Second)
	for m.Stats().Idle != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	res, ok, err = pp.Invoke(ctx, newInv("x"))
	if err != nil || !ok || res.FunctionError != "" || res.InitDuration != 0 {
		t.Fatalf("invoke after the re-init: %v %v %s init %v", ok, err, res.Payload, res.InitDuration)
	}
}
