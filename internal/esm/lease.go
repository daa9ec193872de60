package esm

import (
	"context"
	"encoding/json"
	"time"

	"github.com/lambdad/lambdad/internal/store"
)

// Nodes that share a store poll each mapping from one node at a time: the
// node that holds the mapping's lease, a record in bLeases under the
// mapping's key with its owner and expiry. The owner renews it every third
// of the lease time; a node that dies stops renewing, and once the lease
// ran out another node takes it and starts the mapping's poller.
//
// A lease is taken, renewed and given up only in a transaction that holds
// the mapping's own record (store.Claim on it: SELECT … FOR UPDATE SKIP
// LOCKED on a shared store), so two nodes cannot both find it free: the
// second skips the locked record, and next time sees the first's lease.

// bLeases holds the pollers' leases by mapping key.
const bLeases = "eventsourcemappingleases"

// DefaultLeaseTime is how long a poller's lease lasts unrenewed.
const DefaultLeaseTime = 10 * time.Second

type pollLease struct {
	Owner string    `json:"owner"`
	Until time.Time `json:"until"`
}

// held is a lease this node holds on a mapping.
type held struct {
	ref   Ref
	until time.Time
	// rev is the mapping as its poller was started: a change another
	// node made restarts the poller.
	rev string
}

// revision tells changes of a mapping that its poller must follow.
func revision(m *mapping) string {
	b, _ := json.Marshal([]any{m.LastModified, m.Enabled, m.Deleted, m.State})
	return string(b)
}

// lease takes or renews the lease on ref's mapping for this node: ok when
// the node holds it now, with the mapping as the lease's transaction read
// it. A mapping that is not to be polled (disabled, deleted) gives its
// lease up instead. busy: the mapping's record was held by another
// transaction; try again later.
func (r *runner) lease(ctx context.Context, ref Ref, now time.Time) (m *mapping, ok, busy bool, err error) {
	key := ref.key()
	node := r.svc.cfg.NodeID
	visited := false
	err = store.Claim(ctx, r.svc.cfg.Store, bucket, key, "", 1, func(tx store.Tx, k string, raw []byte) (bool, error) {
		if k != key {
			return false, nil
		}
		visited = true
		mm, err := decode(raw)
		if err != nil {
			return false, err
		}
		m = mm
		var l pollLease
		if b := tx.Get(bLeases, key); b != nil {
			_ = json.Unmarshal(b, &l)
		}
		if !mm.Enabled || mm.Deleted {
			if l.Owner == node {
				return false, tx.Delete(bLeases, key)
			}
			return false, nil
		}
		if l.Owner != "" && l.Owner != node && l.Until.After(now) {
			return false, nil // another node's, alive
		}
		if l.Owner != "" && l.Owner != node {
			r.svc.cfg.Logger.Info("esm: poller lease expired: taking the mapping over", "uuid", ref.UUID, "owner", l.Owner, "lease_end", l.Until)
		}
		b, err := json.Marshal(pollLease{Owner: node, Until: now.Add(r.svc.cfg.LeaseTime)})
		if err != nil {
			return false, err
		}
		ok = true
		return false, tx.Put(bLeases, key, b)
	})
	if err != nil || visited {
		return m, ok, false, err
	}
	// Not visited: gone, or held by another transaction right now.
	var exists bool
	_ = r.svc.cfg.Store.View(ctx, func(tx store.Tx) error {
		exists = tx.Get(bucket, key) != nil
		return nil
	})
	return nil, false, exists, nil
}

// release gives up this node's lease on ref, if it holds it: at shutdown,
// so that another node takes the mapping over at once.
func (r *runner) release(ctx context.Context, ref Ref) {
	key := ref.key()
	_ = store.Claim(ctx, r.svc.cfg.Store, bucket, key, "", 1, func(tx store.Tx, k string, _ []byte) (bool, error) {
		if k != key {
			return false, nil
		}
		var l pollLease
		if b := tx.Get(bLeases, key); b == nil || json.Unmarshal(b, &l) != nil || l.Owner != r.svc.cfg.NodeID {
			return false, nil
		}
		return false, tx.Delete(bLeases, key)
	})
}

// leaseLoop renews this node's leases and takes the mappings whose lease
// is free, every third of the lease time, until ctx ends.
func (r *runner) leaseLoop(ctx context.Context) {
	every(ctx, max(r.svc.cfg.LeaseTime/3, time.Millisecond), r.leaseRound)
}

// every runs fn every d until ctx ends.
func every(ctx context.Context, d time.Duration, fn func(context.Context)) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn(ctx)
		}
	}
}

// leaseRound renews the leases held and starts the pollers of mappings
// whose lease is free; a poller whose lease is lost (or that could not be
// renewed before it ran out) stops.
func (r *runner) leaseRound(ctx context.Context) {
	var refs []Ref
	_ = r.svc.cfg.Store.View(ctx, func(tx store.Tx) error {
		return scan(tx, "", "", func(m *mapping) bool {
			if m.Enabled && !m.Deleted {
				refs = append(refs, m.ref())
			}
			return true
		})
	})
	r.mu.Lock()
	for uuid, h := range r.held {
		if !containsRef(refs, uuid) {
			refs = append(refs, h.ref) // disabled or deleted meanwhile: its lease is given up
		}
	}
	r.mu.Unlock()
	for _, ref := range refs {
		if ctx.Err() != nil {
			return
		}
		r.mu.Lock()
		h, mine := r.held[ref.UUID]
		r.mu.Unlock()
		now := time.Now()
		m, ok, busy, err := r.lease(ctx, ref, now)
		switch {
		case ok && mine && h.rev == revision(m):
			r.mu.Lock()
			if hh, still := r.held[ref.UUID]; still {
				hh.until = now.Add(r.svc.cfg.LeaseTime)
				r.held[ref.UUID] = hh
			}
			r.mu.Unlock()
		case ok:
			r.changed(ref) // taken over, or changed on another node: (re)start
		case (busy || err != nil) && mine && now.Before(h.until):
			// Renewed next round, while the lease lasts.
		case mine:
			if err == nil && !busy && m != nil && m.Enabled && !m.Deleted {
				r.svc.cfg.Logger.Warn("esm: poller lease lost: another node polls the mapping now", "uuid", ref.UUID)
			}
			r.drop(ref.UUID)
		}
	}
}

func containsRef(refs []Ref, uuid string) bool {
	for _, r := range refs {
		if r.UUID == uuid {
			return true
		}
	}
	return false
}

// drop stops uuid's poller, whose lease this node no longer holds.
func (r *runner) drop(uuid string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p := r.pollers[uuid]; p != nil {
		p.stop()
		delete(r.pollers, uuid)
	}
	delete(r.held, uuid)
	delete(r.results, uuid)
}

// releaseDead gives up, at start, the leases an earlier run of this node
// held (node ids are unique among live nodes), or, with a store of its own
// (ExclusiveStore), every lease: their runs are over, and their mappings
// need not wait for them to run out.
func (r *runner) releaseDead(ctx context.Context) {
	var dead []string
	_ = r.svc.cfg.Store.View(ctx, func(tx store.Tx) error {
		return tx.Scan(bLeases, "", "", func(k string, b []byte) bool {
			var l pollLease
			if json.Unmarshal(b, &l) == nil && (l.Owner == r.svc.cfg.NodeID || r.svc.cfg.ExclusiveStore) {
				dead = append(dead, k)
			}
			return true
		})
	})
	for _, key := range dead {
		_ = store.Claim(ctx, r.svc.cfg.Store, bucket, key, "", 1, func(tx store.Tx, k string, _ []byte) (bool, error) {
			var l pollLease
			if b := tx.Get(bLeases, key); b == nil || json.Unmarshal(b, &l) != nil || (l.Owner != r.svc.cfg.NodeID && !r.svc.cfg.ExclusiveStore) {
				return false, nil
			}
			return false, tx.Delete(bLeases, key)
		})
	}
	// A lease whose mapping is gone went with it (deleteCheckpoints).
}
