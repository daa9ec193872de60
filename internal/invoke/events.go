package invoke

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/functions"
	"github.com/lambdad/lambdad/internal/store"
)

// bEvents holds Event invocations until they ran: acknowledged events
// survive a restart.
const bEvents = "events"

// maxEventWorkers bounds how many queued events run at once.
const maxEventWorkers = 16

type event struct {
	ID        string `json:"id"`
	Account   string `json:"account"`
	Region    string `json:"region"`
	Name      string `json:"name"`
	Qualifier string `json:"qualifier,omitempty"`
	Payload   []byte `json:"payload"`
	Attempts  int    `json:"attempts"`
	// Throttles counts runs refused by a concurrency limit or failed by
	// lambdad itself since the last attempt; they set the backoff and do not
	// count against MaximumRetryAttempts.
	Throttles int       `json:"throttles,omitempty"`
	NotBefore time.Time `json:"notBefore"`
	Enqueued  time.Time `json:"enqueued"`
	// Tenant is the invoke's tenant (X-Amz-Tenant-Id), kept for its runs.
	Tenant string `json:"tenant,omitempty"`
	// Trace is the invoke's X-Amzn-Trace-Id, which its runs continue
	// (recursion.go).
	Trace string `json:"trace,omitempty"`
	// Last is what the last run answered (destinations.go).
	Last *lastRun `json:"last,omitempty"`
	// Owner is the node whose lease on the event runs until LeaseUntil
	// (lease.go); "" while the event waits.
	Owner      string    `json:"owner,omitempty"`
	LeaseUntil time.Time `json:"leaseUntil,omitzero"`
}

type eventQueue struct {
	s      *Service
	wake   chan struct{}
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	active map[string]bool // ids running now
	parent context.Context // the queue's; its end is a crash's
	sends  sending         // deliveries being sent (delivery_lease.go)
}

func startQueue(parent context.Context, s *Service) (*eventQueue, error) {
	ctx, cancel := context.WithCancel(parent)
	q := &eventQueue{s: s, wake: make(chan struct{}, 1), cancel: cancel, active: map[string]bool{}, parent: parent}
	if err := q.releaseOwn(ctx); err != nil {
		cancel()
		return nil, fmt.Errorf("event queue: %w", err)
	}
	q.wg.Add(1)
	go q.loop(ctx)
	q.resumeDeliveries(ctx)
	return q, nil
}

// stop ends the queue's runs; the events they ran stay queued. Stopped
// cleanly (not by the end of the context it was started with, as a crash
// is), the node gives its leases up at once, for other nodes to take.
func (q *eventQueue) stop() {
	clean := q.parent.Err() == nil
	q.cancel()
	q.wg.Wait()
	if clean && !q.s.cfg.ExclusiveStore {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := q.releaseOwn(ctx); err != nil {
			q.s.cfg.Logger.Warn("event queue: cannot give its leases up: they run out", "err", err)
		}
	}
}

// eventKey orders the queue by when an event is due: when it may run, or,
// leased, when its lease ends and another node may take it over.
func eventKey(e event) string {
	due := e.NotBefore
	if e.Owner != "" {
		due = e.LeaseUntil
	}
	return fmt.Sprintf("%020d/%s", due.UnixNano(), e.ID)
}

func (q *eventQueue) put(ctx context.Context, tx store.Tx, e event) error {
	raw, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return tx.Put(bEvents, eventKey(e), raw)
}

// enqueue stores the event durably before Invoke answers 202.
func (q *eventQueue) enqueue(ctx context.Context, e event) error {
	q.s.counts.Events.Add(1)
	e.NotBefore = time.Now()
	e.Enqueued = e.NotBefore
	if err := q.s.cfg.Store.Update(ctx, func(tx store.Tx) error { return q.put(ctx, tx, e) }); err != nil {
		return err
	}
	q.poke()
	return nil
}

func (q *eventQueue) poke() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// loop runs due events, sleeping until the next one is due or a new one arrives.
func (q *eventQueue) loop(ctx context.Context) {
	defer q.wg.Done()
	sem := make(chan struct{}, maxEventWorkers)
	for {
		next := q.dispatch(ctx, sem)
		// Events queued through other nodes wake no one here: look at
		// least once a lease time.
		wait := q.s.cfg.LeaseTime
		if !next.IsZero() {
			wait = time.Until(next)
		}
		t := time.NewTimer(max(wait, time.Millisecond))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-q.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// dispatch leases due events, as many as there are free workers, starts
// them, and returns when the next one is due (zero when none waits).
func (q *eventQueue) dispatch(ctx context.Context, sem chan struct{}) time.Time {
	now := time.Now()
	// Only this loop fills sem: free can only grow meanwhile.
	if free := cap(sem) - len(sem); free > 0 {
		evs, leases, err := q.claimDue(ctx, now, free)
		if err != nil {
			if ctx.Err() == nil {
				q.s.cfg.Logger.Warn("event queue: cannot claim events", "err", err)
			}
			return now.Add(time.Second)
		}
		for i, se := range evs {
			sem <- struct{}{}
			q.mu.Lock()
			q.active[se.ID] = true
			q.mu.Unlock()
			q.wg.Add(1)
			go func(se event, l *eventLease) {
				defer q.wg.Done()
				defer func() { <-sem }()
				q.runOne(ctx, se, l)
				q.mu.Lock()
				delete(q.active, se.ID)
				q.mu.Unlock()
				q.poke()
			}(se, leases[i])
		}
	}
	var next time.Time
	q.s.cfg.Store.View(ctx, func(tx store.Tx) error {
		return tx.Scan(bEvents, "", dueKey(now), func(k string, raw []byte) bool {
			var se event
			if json.Unmarshal(raw, &se) == nil {
				if se.Owner != "" {
					next = se.LeaseUntil
				} else {
					next = se.NotBefore
				}
			}
			return next.IsZero()
		})
	})
	return next
}

// runOne runs a leased event, renewing its lease meanwhile, and ends it
// (or schedules its retry) if the lease is still this node's.
func (q *eventQueue) runOne(ctx context.Context, e event, l *eventLease) {
	log := q.s.cfg.Logger.With("event", e.ID, "function", e.Name)
	stopBeat := make(chan struct{})
	beat := make(chan struct{})
	go func() {
		defer close(beat)
		q.heartbeat(ctx, l, stopBeat)
	}()
	endBeat := func() {
		close(stopBeat)
		<-beat
	}
	ran := false // whether the function was run (the lease matters then)
	if l.local {
		// dispatch may have read the event just before the run that had
		// it rescheduled or ended it: only the stored version may run.
		current := false
		q.s.cfg.Store.View(ctx, func(tx store.Tx) error {
			current = tx.Get(bEvents, l.key) != nil
			return nil
		})
		if !current {
			endBeat()
			return
		}
	}
	ref := functions.Ref{Account: e.Account, Region: e.Region, Name: e.Name, Qualifier: e.Qualifier}
	cfg, _ := q.s.cfg.Functions.EventConfig(ctx, ref)
	var (
		res      Result
		err      error
		snap     *functions.Snapshot
		failed   = true
		deadline = e.Enqueued.Add(cfg.MaxAge())
		expired  = !e.Enqueued.IsZero() && !time.Now().Before(deadline)
	)
	if !expired {
		snap, err = q.s.resolve(ctx, ref)
		if err == nil {
			// The function may have been created again since, with
			// another tenancy.
			err = checkTenant(snap, e.Tenant)
		}
		if err == nil {
			// The queue's context ends the run at shutdown: the event stays
			// queued and runs again after a restart.
			ran = true
			res, err = q.s.execute(ctx, ref, snap, e.Payload, Options{RequestID: e.ID, TenantID: e.Tenant, TraceHeader: e.Trace})
			failed = err != nil || res.FunctionError != ""
			if err == nil && res.FunctionError != "" {
				log.Info("event invoke failed", "attempt", e.Attempts+1, "error", string(res.Payload))
			}
		}
	}
	endBeat()
	if ctx.Err() != nil {
		return // shutting down: the event stays leased until its lease ends, then runs again
	}
	retry := err != nil && retryable(err)
	if err != nil && !retry {
		log.Warn("event invoke error", "attempt", e.Attempts+1, "err", err)
	} else if retry {
		log.Debug("event invoke throttled", "throttles", e.Throttles+1, "err", err)
	}
	if snap == nil && expired {
		// for its dead-letter queue, should the event be given up
		snap, _ = q.s.resolve(ctx, ref)
	}
	var outcome string // the destination condition, once the event is done
	var record *event
	var deliveries []delivery
	held, serr := q.withLease(context.WithoutCancel(ctx), l, func(tx store.Tx, stored event) error {
		// A store may run this again: each run starts from the event as it was.
		e := e
		outcome, record, deliveries = "", nil, nil
		if err := tx.Delete(bEvents, eventKey(stored)); err != nil {
			return err
		}
		e.Owner, e.LeaseUntil = "", time.Time{}
		now := time.Now()
		if err == nil && res.ExecutedVersion != "" { // it ran (a throttle names a version too)
			e.Last = &lastRun{Version: res.ExecutedVersion, Error: res.FunctionError, Payload: res.Payload}
		}
		switch {
		case expired:
			outcome = "EventAgeExceeded"
		case fault.KindOf(err) == fault.RecursiveInvocation:
			// Stopped in a recursive loop: dropped at once, to the
			// on-failure destination and dead-letter queue [?: AWS's
			// record's condition for it was not found].
			outcome = "RetriesExhausted"
		case retry:
			// Throttles and lambdad's own failures are retried until the
			// event is too old, and are not attempts.
			e.Throttles++
			e.NotBefore = earliest(now.Add(q.throttleDelay(e.Throttles)), deadline)
			return q.put(ctx, tx, e)
		default:
			e.Attempts++
			e.Throttles = 0
			switch {
			case !failed:
				outcome = "Success"
			case e.Attempts >= cfg.Attempts():
				outcome = "RetriesExhausted"
			default:
				// AWS waits about a minute, then two; the base is configurable so local runs are quick.
				e.NotBefore = earliest(now.Add(q.s.cfg.RetryBase*time.Duration(1<<(e.Attempts-1))), deadline)
				return q.put(ctx, tx, e)
			}
		}
		if outcome != "Success" {
			log.Warn("event given up", "condition", outcome, "attempts", e.Attempts)
		}
		// The record is queued in the same transaction that ends the
		// event, so a crash cannot lose it or send it twice.
		record, deliveries = q.finish(cfg, ref, e, outcome, res, snap)
		if err := q.putDeliveries(tx, deliveries); err != nil {
			return err
		}
		if record == nil {
			return nil
		}
		return q.put(ctx, tx, *record)
	})
	switch {
	case serr != nil:
		// The lease runs out and the event runs again: at least once.
		log.Error("event: cannot record the end of its run", "err", serr)
		return
	case !held:
		_, until, lost := l.get()
		if lost == "" {
			lost = "taken over by another node"
		}
		if ran && !l.local {
			log.Warn("event ran past its lease: another node may run it again", "lease_end", until, "why", lost)
		}
		return
	}
	if record != nil {
		q.s.counts.Events.Add(1)
		q.poke()
	}
	q.deliver(deliveries)
}

// retryable reports whether err is a throttle or a failure of lambdad
// itself (AWS's 429 and 5xx), which AWS retries until the event is too old.
// An error that is not a fault is lambdad's own: it could not run the event.
func retryable(err error) bool {
	switch fault.KindOf(err) {
	case fault.TooManyRequests, fault.Internal, fault.Unavailable:
		return true
	}
	return false
}

// throttleDelay is the wait after the nth throttle in a row: exponential
// from ThrottleBase to 300 times it (AWS: 1 s to 5 min), less up to a
// quarter at random, so that throttled events do not all come back at once.
func (q *eventQueue) throttleDelay(n int) time.Duration {
	base := q.s.cfg.ThrottleBase
	d := base << min(n-1, 20)
	if limit := 300 * base; d > limit || d <= 0 {
		d = limit
	}
	return d - rand.N(d/4+1)
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
