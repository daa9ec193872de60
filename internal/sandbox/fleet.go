package sandbox

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"
)

// Fleet is the environments of one Lambda Managed Instances version. Unlike
// on-demand environments they are started only by Start, ahead of any
// invocation (AWS's scaler starts them asynchronously, never on the request
// path): Invoke runs on a free slot of one of them or reports ErrNoSlot.
// They live in a pool of their own, outside the Manager's pools, so the
// idle janitor and Retire/RetireKey leave them alone; Shrink, Retire on the
// Fleet and Close stop them.
type Fleet struct {
	m  *Manager
	fn *Function
	p  *pool

	cpuMu sync.Mutex
	cpu   map[*env]cpuMark // each environment's CPU time at the last look
}

// cpuMark is an environment's CPU time (µs) when it was read.
type cpuMark struct {
	usec int64
	at   time.Time
}

// ErrNoSlot says every slot of every environment of a Fleet is taken.
var ErrNoSlot = errors.New("sandbox: no free execution environment")

// Fleet makes an empty fleet of fn's environments; each holds
// fn.MaxConcurrency invocations at once (at least one).
func (m *Manager) Fleet(fn *Function) *Fleet {
	return &Fleet{m: m, fn: fn, p: &pool{key: fn.Key}, cpu: make(map[*env]cpuMark)}
}

// Start starts one environment and runs its init; once init is done it
// takes invocations. It returns what the init wrote; an init that fails
// is an *InitError.
func (f *Fleet) Start(ctx context.Context) ([]byte, error) {
	if f.m.closed.Load() {
		return nil, ErrClosed
	}
	e, err := f.m.newEnv(f.fn, f.p)
	if err != nil {
		return nil, err
	}
	if e.multi == nil { // PerExecutionEnvironmentMaxConcurrency 1
		e.multi = newMultiState(1)
		e.logActive = true
	}
	_, _, res, err := e.ensureProc(ctx, &Invocation{RequestID: "managed-instances-init"})
	if err != nil {
		e.stop()
		return nil, err
	}
	if res != nil { // the environment is stopped
		return nil, &InitError{Payload: res.Payload, Log: res.Log}
	}
	// Its init's output is not any invocation's.
	log, _ := e.takeLogMulti(e.currentProc())
	f.p.mu.Lock()
	if f.p.retired {
		f.p.mu.Unlock()
		e.stop()
		return log, errors.New("sandbox: fleet retired")
	}
	e.idleSince = time.Now()
	f.p.shared = append(f.p.shared, e)
	f.m.idle.Add(1)
	f.p.mu.Unlock()
	return log, nil
}

// Invoke runs inv on a free slot, or returns ErrNoSlot at once.
func (f *Fleet) Invoke(ctx context.Context, inv Invocation) (Result, error) {
	f.p.mu.Lock()
	e := f.m.freeSlotLocked(f.p)
	f.p.mu.Unlock()
	if e == nil {
		return Result{}, ErrNoSlot
	}
	res, err := e.invokeMulti(ctx, inv)
	if e.currentProc() == nil && !e.isDead() {
		// Its process is gone (a crash): start it again now, off the
		// request path, as Start did.
		go e.ensureProc(context.Background(), &Invocation{RequestID: "managed-instances-init"})
	}
	return res, err
}

// Load is the fleet's environments alive, and their slots: busy (running
// or held by a timed-out call) and all.
func (f *Fleet) Load() (envs, busy, slots int) {
	f.p.mu.Lock()
	defer f.p.mu.Unlock()
	for _, e := range f.p.shared {
		if e.isDead() {
			continue
		}
		envs++
		busy += e.multi.active + max(e.multi.held, 0)
		slots += e.multi.max
	}
	return envs, busy, slots
}

// Shrink stops idle environments until at most n remain alive; busy ones
// are left alone. It returns how many it stopped.
func (f *Fleet) Shrink(n int) int {
	f.p.mu.Lock()
	live := 0
	for _, e := range f.p.shared {
		if !e.isDead() {
			live++
		}
	}
	var stop []*env
	f.p.shared = slices.DeleteFunc(f.p.shared, func(e *env) bool {
		if e.isDead() {
			if e.multi.active == 0 {
				f.m.idle.Add(-1)
				stop = append(stop, e)
				return true
			}
			return false
		}
		if live > n && e.multi.active == 0 && e.multi.held <= 0 {
			live--
			f.m.idle.Add(-1)
			stop = append(stop, e)
			return true
		}
		return false
	})
	f.p.mu.Unlock()
	for _, e := range stop {
		e.stop()
	}
	return len(stop)
}

// Retire stops every environment: idle ones now, busy ones when their
// last invocation ends, and those still starting once started.
func (f *Fleet) Retire() {
	f.p.mu.Lock()
	f.p.retired = true
	idle := f.m.dropSharedLocked(f.p)
	f.p.mu.Unlock()
	for _, e := range idle {
		e.stop()
	}
}

// CPUUtilization is the average, over the fleet's environments, of the CPU
// time each used since the previous call divided by its vCPUs' time (0..1
// and more when a quota is not enforced); ok is false when no environment
// can tell (no cgroup, or a first look).
func (f *Fleet) CPUUtilization() (util float64, ok bool) {
	f.p.mu.Lock()
	envs := slices.Clone(f.p.shared)
	f.p.mu.Unlock()
	now := time.Now()
	f.cpuMu.Lock()
	defer f.cpuMu.Unlock()
	seen := make(map[*env]cpuMark, len(envs))
	var sum float64
	n := 0
	for _, e := range envs {
		usec, has := e.cg.cpuUsec()
		if !has {
			continue
		}
		seen[e] = cpuMark{usec, now}
		last, had := f.cpu[e]
		if !had || !now.After(last.at) {
			continue
		}
		cpus := max(e.fn.CPUs, 1)
		sum += float64(max(usec-last.usec, 0)) / (float64(now.Sub(last.at).Microseconds()) * cpus)
		n++
	}
	f.cpu = seen
	if n == 0 {
		return 0, false
	}
	return sum / float64(n), true
}
