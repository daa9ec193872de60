package sandbox

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/lambdad/lambdad/internal/testkit"
)

// TestFleet: a fleet's environments are started ahead of invocations and
// only by Start; an invoke takes a free slot or gets ErrNoSlot (no cold
// start); the idle janitor leaves them alone; Shrink stops idle ones down
// to a count, Retire all of them.
func TestFleet(t *testing.T) {
	needGo(t)
	modes(t, func(t *testing.T, iso string) {
		m, _ := newTestManager(t, iso, func(c *Config) { c.IdleTimeout = 20 * time.Millisecond })
		for _, per := range []int{1, 2} {
			fl := m.Fleet(goFunction(func(f *Function) { f.MaxConcurrency = per }))
			ctx := context.Background()
			for range 2 {
				if _, err := fl.Start(ctx); err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(200 * time.Millisecond) // many janitor rounds
			if envs, busy, slots := fl.Load(); envs != 2 || busy != 0 || slots != 2*per {
				t.Fatalf("concurrency %d: Load = %d envs, %d busy, %d slots", per, envs, busy, slots)
			}
			// Every slot taken, and one more: it gets ErrNoSlot at once.
			n := 2*per + 1
			res := make([]Result, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() { res[i], errs[i] = fl.Invoke(ctx, newInv(map[string]any{"op": "span", "ms": 500})) })
			}
			wg.Wait()
			procs := map[string]bool{}
			noSlot := 0
			for i, err := range errs {
				switch {
				case errors.Is(err, ErrNoSlot):
					noSlot++
				case err != nil:
					t.Fatal(err)
				default:
					if res[i].InitDuration != 0 {
						t.Errorf("an invoke reports an init of %v", res[i].InitDuration)
					}
					procs[testkit.DecodeJSON[span](t, res[i].Payload).Proc] = true
				}
			}
			if noSlot != 1 || len(procs) != 2 {
				t.Fatalf("concurrency %d: %d invokes: %d without a slot, %d processes", per, n, noSlot, len(procs))
			}
			if stopped := fl.Shrink(1); stopped != 1 {
				t.Fatalf("Shrink(1) stopped %d", stopped)
			}
			if envs, _, _ := fl.Load(); envs != 1 {
				t.Fatalf("after Shrink(1): %d environments", envs)
			}
			if _, err := fl.Invoke(ctx, newInv(map[string]any{})); err != nil {
				t.Fatal(err)
			}
			fl.Retire()
			if envs, _, _ := fl.Load(); envs != 0 {
				t.Fatalf("after Retire: %d environments", envs)
			}
			if _, err := fl.Invoke(ctx, newInv(map[string]any{})); !errors.Is(err, ErrNoSlot) {
				t.Fatalf("invoke after Retire: %v", err)
			}
		}
		if st := m.Stats(); st.Total != 0 || st.Idle != 0 {
			t.Errorf("after every fleet retired: %+v", st)
		}
	})
}

// TestFleetRestartsCrashedProcessAhead: after a process of a fleet's
// environment exits, its init runs again off the request path, so the
// next invocation finds it initialized (no Init Duration).
func TestFleetRestartsCrashedProcessAhead(t *testing.T) {
	needGo(t)
	m, _ := newTestManager(t, "auto")
	fl := m.Fleet(goFunction())
	ctx := context.Background()
	if _, err := fl.Start(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := fl.Invoke(ctx, newInv(map[string]any{"op": "exit", "code": 3}))
	if err != nil || res.FunctionError == "" {
		t.Fatalf("exit: %v %+v", err, res)
	}
	time.Sleep(500 * time.Millisecond)
	res, err = fl.Invoke(ctx, newInv(map[string]any{}))
	if err != nil || res.FunctionError != "" {
		t.Fatalf("after the crash: %v %s", err, res.Payload)
	}
	if res.InitDuration != 0 {
		t.Errorf("the invocation after the crash ran init (%v) on the request path", res.InitDuration)
	}
}
