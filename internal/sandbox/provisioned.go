package sandbox

import (
	"context"
	"errors"
	"slices"
	"sync"
)

// Provisioned keeps environments of one Function initialized ahead of any
// invocation (provisioned concurrency). Its environments live in a pool of
// their own, outside the Manager's pools: the idle janitor does not stop
// them, and Retire/RetireKey of their function leave them alone; only
// Shrink, Retire on the Provisioned itself and Close stop them.
type Provisioned struct {
	m  *Manager
	fn *Function
	p  *pool

	mu  sync.Mutex
	all map[*env]struct{} // initialized environments, busy or idle
}

// InitError says that an environment's init failed (an init error, the
// runtime exiting or timing out during init); Log is what it wrote.
type InitError struct {
	Payload []byte
	Log     []byte
}

func (e *InitError) Error() string { return "sandbox: init failed: " + string(e.Payload) }

// Provision makes an empty set of provisioned environments of fn; Start
// adds one.
func (m *Manager) Provision(fn *Function) *Provisioned {
	return &Provisioned{m: m, fn: fn, p: &pool{key: fn.Key}, all: make(map[*env]struct{})}
}

// Start starts one environment and runs its init now, before any
// invocation; once init is done the environment waits, idle, for Invoke.
// An init that fails is an *InitError.
func (pp *Provisioned) Start(ctx context.Context) error {
	if pp.m.closed.Load() {
		return ErrClosed
	}
	e, err := pp.m.newEnv(pp.fn, pp.p)
	if err != nil {
		return err
	}
	_, _, res, err := e.coldStart(ctx, &Invocation{RequestID: "provisioned-init"})
	if err != nil {
		return err
	}
	if res != nil { // coldStart stopped the environment
		return &InitError{Payload: res.Payload, Log: res.Log}
	}
	pp.p.mu.Lock()
	retired := pp.p.retired
	pp.p.mu.Unlock()
	if retired {
		e.stop()
		return errors.New("sandbox: provisioned environments retired")
	}
	pp.mu.Lock()
	pp.all[e] = struct{}{}
	pp.mu.Unlock()
	pp.m.release(e)
	return nil
}

// Invoke runs inv on an idle provisioned environment; ok is false, and
// nothing ran, when every one is busy (the caller spills over to an
// on-demand environment).
func (pp *Provisioned) Invoke(ctx context.Context, inv Invocation) (res Result, ok bool, err error) {
	e := pp.p.take()
	if e == nil {
		return Result{}, false, nil
	}
	pp.m.idle.Add(-1)
	res, err = e.invoke(ctx, inv)
	if e.currentProc() == nil {
		// Its process is gone (a timeout or crash): run init again now,
		// off the request path, so that the next invocation finds it
		// initialized as AWS keeps provisioned environments.
		pp.reinit(e)
	}
	return res, true, err
}

// reinit takes e out of the idle pool, if it is there, and starts its
// process and init again; an init that fails stops it.
func (pp *Provisioned) reinit(e *env) {
	p := pp.p
	p.mu.Lock()
	i := slices.Index(p.idle, e)
	if i >= 0 {
		p.idle = slices.Delete(p.idle, i, i+1)
	}
	p.mu.Unlock()
	if i < 0 {
		return // taken by another invocation, which will start it
	}
	pp.m.idle.Add(-1)
	go func() {
		_, _, res, err := e.coldStart(context.Background(), &Invocation{RequestID: "provisioned-init"})
		if err == nil && res == nil {
			pp.m.release(e)
		}
	}()
}

// Count is how many provisioned environments are initialized and alive.
func (pp *Provisioned) Count() int {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	n := 0
	for e := range pp.all {
		e.mu.Lock()
		dead := e.dead
		e.mu.Unlock()
		if dead {
			delete(pp.all, e)
			continue
		}
		n++
	}
	return n
}

// Shrink stops idle environments until at most n remain.
func (pp *Provisioned) Shrink(n int) {
	for pp.Count() > n {
		e := pp.p.take()
		if e == nil {
			return // the rest are busy
		}
		pp.m.idle.Add(-1)
		e.stop()
	}
}

// Retire stops every environment: idle ones now, busy ones when their
// invocation ends. Environments still starting stop once started.
func (pp *Provisioned) Retire() {
	pp.p.mu.Lock()
	pp.p.retired = true
	idle := pp.p.idle
	pp.p.idle = nil
	pp.m.idle.Add(-int64(len(idle)))
	pp.p.mu.Unlock()
	for _, e := range idle {
		e.stop()
	}
}
