package invoke

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/lambdad/lambdad/internal/store"
)

// Deliveries are leased as events are when nodes share the store: a
// delivery is written leased to the node that ended its event (which sends
// it next), that node renews the lease while the dispatcher tries it and
// deletes the record only while the lease is its own; a node starting
// claims the deliveries nobody holds live (an earlier run's of its own
// included), and every node claims, every half lease time, those whose
// lease ran out: their node died before it could send them. A delivery is
// claimed in a transaction that locks its record (store.Claim: SKIP
// LOCKED), so one node wins each. With a store of its own a node needs no
// leases: at start it sends every stored delivery, as before.

// sending is the set of deliveries this node is sending now.
type sending struct {
	mu  sync.Mutex
	ids map[string]bool
}

func (s *sending) add(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ids == nil {
		s.ids = map[string]bool{}
	}
	s.ids[id] = true
}

func (s *sending) done(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.ids, id)
}

func (s *sending) has(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ids[id]
}

// leaseDeliveries leases ds (about to be stored) to this node.
func (q *eventQueue) leaseDeliveries(ds []delivery) {
	if q.s.cfg.ExclusiveStore {
		return
	}
	until := time.Now().Add(q.s.cfg.LeaseTime)
	for i := range ds {
		ds[i].Owner, ds[i].LeaseUntil = q.s.cfg.NodeID, until
	}
}

// deliveryFree says this node may claim d at now: nobody holds it live,
// or (own) an earlier run of this node did.
func (q *eventQueue) deliveryFree(d delivery, now time.Time, own bool) bool {
	return d.Owner == "" || !d.LeaseUntil.After(now) || (own && d.Owner == q.s.cfg.NodeID)
}

// claimDeliveries leases to this node the stored deliveries it may take
// (own: an earlier run's of this node too) and is not sending already.
func (q *eventQueue) claimDeliveries(ctx context.Context, own bool) []delivery {
	var ids []string
	now := time.Now()
	err := q.s.cfg.Store.View(ctx, func(tx store.Tx) error {
		return tx.Scan(bDeliveries, "", "", func(k string, raw []byte) bool {
			var d delivery
			if json.Unmarshal(raw, &d) == nil && q.deliveryFree(d, now, own) && !q.sends.has(k) {
				ids = append(ids, k)
			}
			return true
		})
	})
	if err != nil {
		if ctx.Err() == nil {
			q.s.cfg.Logger.Error("event destinations: listing stored deliveries", "err", err)
		}
		return nil
	}
	var out []delivery
	for _, id := range ids {
		until := time.Now().Add(q.s.cfg.LeaseTime)
		err := store.Claim(ctx, q.s.cfg.Store, bDeliveries, id, "", 1, func(tx store.Tx, k string, raw []byte) (bool, error) {
			var d delivery
			if k != id || json.Unmarshal(raw, &d) != nil || !q.deliveryFree(d, time.Now(), own) {
				return false, nil // gone, or another node's now
			}
			if d.Owner != "" && d.Owner != q.s.cfg.NodeID {
				q.s.cfg.Logger.Info("delivery lease expired: taking the delivery over", "target", d.Message.Target, "owner", d.Owner, "lease_end", d.LeaseUntil)
			}
			d.Owner, d.LeaseUntil = q.s.cfg.NodeID, until
			raw, err := json.Marshal(d)
			if err != nil {
				return false, err
			}
			out = append(out, d)
			return false, tx.Put(bDeliveries, k, raw)
		})
		if err != nil && ctx.Err() == nil {
			q.s.cfg.Logger.Error("event destinations: claiming a delivery", "err", err)
		}
	}
	return out
}

// takeOverDeliveries claims and sends, every half lease time until ctx
// ends, the deliveries whose lease ran out.
func (q *eventQueue) takeOverDeliveries(ctx context.Context) {
	defer q.wg.Done()
	t := time.NewTicker(max(q.s.cfg.LeaseTime/2, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			q.deliver(q.claimDeliveries(ctx, false))
		}
	}
}

// renewDelivery extends this node's lease on d until it is sent or stop
// is closed; it gives up once the lease is another node's.
func (q *eventQueue) renewDelivery(d delivery, stop <-chan struct{}) {
	t := time.NewTicker(max(q.s.cfg.LeaseTime/3, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-q.parent.Done():
			return
		case <-stop:
			return
		case <-t.C:
		}
		held := false
		err := q.s.cfg.Store.Update(q.parent, func(tx store.Tx) error {
			held = false
			var cur delivery
			if raw := tx.Get(bDeliveries, d.ID); raw == nil || json.Unmarshal(raw, &cur) != nil || cur.Owner != q.s.cfg.NodeID {
				return nil
			}
			held = true
			cur.LeaseUntil = time.Now().Add(q.s.cfg.LeaseTime)
			raw, err := json.Marshal(cur)
			if err != nil {
				return err
			}
			return tx.Put(bDeliveries, d.ID, raw)
		})
		switch {
		case err != nil:
			if q.parent.Err() == nil {
				q.s.cfg.Logger.Warn("delivery lease: cannot renew", "err", err)
			}
		case !held:
			return
		}
	}
}

// delivered removes d's record, sent or given up, if it is still this
// node's (with a store of its own, always).
func (q *eventQueue) delivered(d delivery) {
	err := q.s.cfg.Store.Update(context.Background(), func(tx store.Tx) error {
		if !q.s.cfg.ExclusiveStore {
			var cur delivery
			if raw := tx.Get(bDeliveries, d.ID); raw == nil || json.Unmarshal(raw, &cur) != nil || cur.Owner != q.s.cfg.NodeID {
				q.s.cfg.Logger.Warn("delivery sent after its lease was taken over: another node may send it again", "target", d.Message.Target)
				return nil
			}
		}
		return tx.Delete(bDeliveries, d.ID)
	})
	if err != nil {
		q.s.cfg.Logger.Error("event destinations: removing a sent delivery", "err", err)
	}
}
