package invoke

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/lambdad/lambdad/internal/store"
)

// Event invokes are leased, not owned: nodes sharing a store each claim
// due events by writing their node id and a lease expiry into the record,
// in the transaction that selects it (store.Claim: SKIP LOCKED on a shared
// store). A leased event's key is its lease's end, so it is due again,
// for any node, once the lease runs out: a node that dies loses its leases
// and another takes the work over. The runner renews the lease every third
// of the lease time while the function runs, and ends the event (deletes
// or reschedules it) only if the lease is still its own.

// With a store of its own (Config.ExclusiveStore: the embedded one) a
// node needs no leases: no other process can take its events, and a crash
// ends every run with it. There the queue keeps its claims in memory
// (local leases), which spares a durable write per claim and renewal.

// DefaultLeaseTime is how long a claim on an event lasts unrenewed.
const DefaultLeaseTime = 10 * time.Second

// RandomNodeID is a node id of its own for a process that was given none.
func RandomNodeID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "node-" + hex.EncodeToString(b[:])
}

// dueKey is the exclusive bound of the keys due at now.
func dueKey(now time.Time) string { return fmt.Sprintf("%020d", now.UnixNano()+1) }

// eventLease is a claimed event's lease, renewed until its run ends.
type eventLease struct {
	mu    sync.Mutex
	key   string    // the record's key now (it moves with each renewal)
	until time.Time // when the lease ends unless renewed
	lost  string    // why the lease is no longer ours ("" while it is)
	local bool      // a claim in memory only (ExclusiveStore)
}

func (l *eventLease) get() (string, time.Time, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.key, l.until, l.lost
}

// claimDue leases up to limit due events to this node.
func (q *eventQueue) claimDue(ctx context.Context, now time.Time, limit int) ([]event, []*eventLease, error) {
	if q.s.cfg.ExclusiveStore {
		return q.claimLocal(ctx, now, limit)
	}
	var evs []event
	var leases []*eventLease
	until := now.Add(q.s.cfg.LeaseTime)
	err := store.Claim(ctx, q.s.cfg.Store, bEvents, "", dueKey(now), limit, func(tx store.Tx, k string, raw []byte) (bool, error) {
		var e event
		if json.Unmarshal(raw, &e) != nil {
			return true, nil
		}
		if e.Owner != "" {
			q.s.cfg.Logger.Info("event lease expired: taking the event over", "event", e.ID, "function", e.Name, "owner", e.Owner, "lease_end", e.LeaseUntil)
		}
		e.Owner, e.LeaseUntil = q.s.cfg.NodeID, until
		if err := tx.Delete(bEvents, k); err != nil {
			return false, err
		}
		if err := q.put(ctx, tx, e); err != nil {
			return false, err
		}
		evs = append(evs, e)
		leases = append(leases, &eventLease{key: eventKey(e), until: until})
		return true, nil
	})
	if err != nil {
		return nil, nil, err
	}
	return evs, leases, nil
}

// claimLocal is claimDue with a store of this process's own: the due
// events that do not run already (q.active, which only the dispatching
// loop adds to).
func (q *eventQueue) claimLocal(ctx context.Context, now time.Time, limit int) ([]event, []*eventLease, error) {
	var evs []event
	var leases []*eventLease
	q.mu.Lock()
	defer q.mu.Unlock()
	err := q.s.cfg.Store.View(ctx, func(tx store.Tx) error {
		return tx.Scan(bEvents, "", "", func(k string, raw []byte) bool {
			if k >= dueKey(now) || len(evs) >= limit {
				return false
			}
			var e event
			if json.Unmarshal(raw, &e) == nil && !q.active[e.ID] {
				evs = append(evs, e)
				leases = append(leases, &eventLease{key: k, local: true})
			}
			return true
		})
	})
	return evs, leases, err
}

// withLease runs fn on the leased event's record, in a transaction that
// holds it, if the lease is still this node's; held says whether it was.
// fn may delete or rewrite the record.
func (q *eventQueue) withLease(ctx context.Context, l *eventLease, fn func(tx store.Tx, e event) error) (held bool, err error) {
	key, until, lost := l.get()
	if lost != "" {
		return false, nil
	}
	if l.local {
		// The record may have been ended meanwhile (a reset).
		err = q.s.cfg.Store.Update(ctx, func(tx store.Tx) error {
			var e event
			raw := tx.Get(bEvents, key)
			if raw == nil || json.Unmarshal(raw, &e) != nil {
				return nil
			}
			held = true
			return fn(tx, e)
		})
		return held, err
	}
	for try := 0; ; try++ {
		visited := false
		err = store.Claim(ctx, q.s.cfg.Store, bEvents, key, "", 1, func(tx store.Tx, k string, raw []byte) (bool, error) {
			if k != key {
				return false, nil
			}
			visited = true
			var e event
			if json.Unmarshal(raw, &e) != nil || e.Owner != q.s.cfg.NodeID || !e.LeaseUntil.Equal(until) {
				return false, nil // another node's now
			}
			held = true
			return false, fn(tx, e)
		})
		if err != nil || held || visited {
			return held, err
		}
		// Not seen: gone (taken over), or held by a transaction of
		// another node that is taking it over right now; which, its
		// commit or rollback tells.
		var exists bool
		_ = q.s.cfg.Store.View(ctx, func(tx store.Tx) error {
			exists = tx.Get(bEvents, key) != nil
			return nil
		})
		if !exists || try >= 20 || ctx.Err() != nil {
			return false, ctx.Err()
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// renew extends the lease from now, moving the record to its new end.
func (q *eventQueue) renew(ctx context.Context, l *eventLease, now time.Time) {
	until := now.Add(q.s.cfg.LeaseTime)
	var newKey string
	held, err := q.withLease(ctx, l, func(tx store.Tx, e event) error {
		if err := tx.Delete(bEvents, eventKey(e)); err != nil {
			return err
		}
		e.LeaseUntil = until
		newKey = eventKey(e)
		return q.put(ctx, tx, e)
	})
	if ctx.Err() != nil {
		return // the node stops; its leases run out
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case err != nil:
		// Kept until its end: the next beat tries again.
		q.s.cfg.Logger.Warn("event lease: cannot renew", "err", err)
	case held:
		l.key, l.until = newKey, until
	case l.lost == "":
		l.lost = "taken over by another node"
	}
}

// heartbeat renews l every third of the lease time until stop is closed.
func (q *eventQueue) heartbeat(ctx context.Context, l *eventLease, stop <-chan struct{}) {
	if l.local {
		return
	}
	t := time.NewTicker(max(q.s.cfg.LeaseTime/3, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-stop:
			return
		case now := <-t.C:
			if _, _, lost := l.get(); lost != "" {
				return
			}
			q.renew(ctx, l, now)
		}
	}
}

// releaseOwn makes the events leased under this node's id due again at
// once: before this node claims anything (or after its runs stopped),
// such leases are an earlier run's of this node, which is gone (node ids
// are unique among live nodes), so they need not run out. With a store of its own, every lease is a dead
// run's. Leases end at most a lease time ahead; an hour
// bounds any lease time lambdad accepts.
func (q *eventQueue) releaseOwn(ctx context.Context) error {
	n := 0
	err := store.Claim(ctx, q.s.cfg.Store, bEvents, "", dueKey(time.Now().Add(time.Hour)), 1<<30, func(tx store.Tx, k string, raw []byte) (bool, error) {
		var e event
		if json.Unmarshal(raw, &e) != nil || e.Owner == "" || (e.Owner != q.s.cfg.NodeID && !q.s.cfg.ExclusiveStore) {
			return true, nil
		}
		e.Owner, e.LeaseUntil = "", time.Time{}
		if err := tx.Delete(bEvents, k); err != nil {
			return false, err
		}
		n++
		return true, q.put(ctx, tx, e)
	})
	if n > 0 {
		q.s.cfg.Logger.Info("events leased by runs that are over are due again", "node", q.s.cfg.NodeID, "events", n)
	}
	return err
}
