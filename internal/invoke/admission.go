package invoke

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
)

// Admission counts executions against concurrency limits: a function's
// reserved concurrency and its account's limit. The default counts in this
// process; a cluster of nodes counts across them (internal/cluster, through
// Config.Admission).
type Admission interface {
	// Counter is the counter of one scope (FunctionScope, AccountScope),
	// found once per snapshot and kept with it.
	Counter(scope string) Counter
}

// Counter admits executions of one scope.
type Counter interface {
	// Admit takes one unit if fewer than limit are taken: ok false is a
	// throttle; an error, that the count could not be checked. release
	// gives the unit back, once.
	Admit(ctx context.Context, limit int32) (release func(), ok bool, err error)
}

// FunctionScope and AccountScope name the scopes of a function's and an
// account's limits.
func FunctionScope(functionARN string) string { return "fn:" + functionARN }

// AccountScope names an account's limit in a region.
func AccountScope(account, region string) string { return "acct:" + account + ":" + region }

// LocalAdmission counts in this process: the single-node admission.
type LocalAdmission struct {
	counters sync.Map // scope -> *localCounter
}

// Counter implements Admission.
func (a *LocalAdmission) Counter(scope string) Counter {
	if c, ok := a.counters.Load(scope); ok {
		return c.(*localCounter)
	}
	c := &localCounter{}
	c.release = func() { c.n.Add(-1) }
	v, _ := a.counters.LoadOrStore(scope, c)
	return v.(*localCounter)
}

// localCounter is an atomic count; release is made once, so admitting
// allocates nothing.
type localCounter struct {
	n       atomic.Int32
	release func()
}

func (c *localCounter) Admit(_ context.Context, limit int32) (func(), bool, error) {
	if c.n.Add(1) > limit {
		c.n.Add(-1)
		return nil, false, nil
	}
	return c.release, true, nil
}

// Unlimited is the limit of a function without reserved concurrency: it is
// counted (its reservation may be set while it runs) but never refused.
const Unlimited = math.MaxInt32
