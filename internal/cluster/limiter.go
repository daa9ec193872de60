package cluster

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Limiter holds concurrency limits for the whole cluster. Each scope (a
// function's reserved concurrency, an account's pool: the caller names
// them) has a limit; each node holds a share of it in cluster_shares and
// admits locally while it has share left, so the warm path is two atomic
// operations and no database round trip. When its share runs out a node
// takes more, in one call (cluster_take), out of what live nodes do not
// hold; when there is none it asks the others (a notification), who give
// back what they hold idle.
//
// Overshoot: a node admits only within the share it holds in the database,
// and only while its lease runs; the sum of shares never exceeds the limit
// (each grant is checked under the scope's row lock). See docs/cluster.md
// for the cases that remain (a lowered limit, a partitioned node's running
// invocations).
type Limiter struct {
	n      *Node
	scopes sync.Map // string -> *Scope
}

// Scope is what this node holds of one scope: a handle to keep where the
// name would be looked up per acquisition (with a function version's
// snapshot, say).
type Scope struct {
	name string
	l    *Limiter
	// state is held<<32 | inUse: what the node holds in the database and
	// what of it runs, changed together by compare-and-swap.
	state atomic.Uint64
	// limit is the limit last set or seen (-1: none yet).
	limit atomic.Int64
	// mu serializes this node's changes of the scope in the database (not
	// taken on the warm path).
	mu sync.Mutex
	// contended is until when (the node's clock) other nodes want share:
	// meanwhile idle share goes back as soon as it is idle.
	contended atomic.Int64
	// over: the shares may sum past the limit (it was lowered). Until a
	// grant or a heartbeat shows they do not, units go back as they end;
	// unlike contended this is no hint but what keeps a lowered limit.
	over atomic.Bool
	// dirty: the database may hold more than held (a give-back to write);
	// flushing: a goroutine writes it.
	dirty, flushing atomic.Bool
	waiters         atomic.Int32
	wakeMu          sync.Mutex
	wake            chan struct{}
	release         func()
}

// ErrNoLease is the error when the node's lease has lapsed and it cannot
// take share until it is renewed.
var ErrNoLease = errors.New("cluster: this node's lease lapsed")

func newLimiter(n *Node) *Limiter { return &Limiter{n: n} }

// Scope is the handle of the scope name.
func (l *Limiter) Scope(name string) *Scope {
	if s, ok := l.scopes.Load(name); ok {
		return s.(*Scope)
	}
	s := &Scope{name: name, l: l, wake: make(chan struct{})}
	s.limit.Store(-1)
	s.release = s.done
	v, _ := l.scopes.LoadOrStore(name, s)
	return v.(*Scope)
}

func (s *Scope) counts() (held, inUse uint32) {
	v := s.state.Load()
	return uint32(v >> 32), uint32(v)
}

// admit takes one unit of the local share, if one is free.
func (s *Scope) admit() bool {
	for {
		v := s.state.Load()
		if uint32(v) >= uint32(v>>32) {
			return false
		}
		if s.state.CompareAndSwap(v, v+1) {
			return true
		}
	}
}

// shrink lowers held to target, but never below what runs; it returns the
// new held.
func (s *Scope) shrink(target uint32) uint32 {
	for {
		v := s.state.Load()
		held, use := uint32(v>>32), uint32(v)
		h := max(target, use)
		if h >= held {
			return held
		}
		if s.state.CompareAndSwap(v, uint64(h)<<32|uint64(use)) {
			return h
		}
	}
}

// done gives back one unit: the warm path's release.
func (s *Scope) done() {
	s.state.Add(math.MaxUint64) // inUse - 1
	if s.waiters.Load() > 0 {
		s.signal()
	}
	if c := s.contended.Load(); s.over.Load() || c != 0 && c > s.l.n.now() {
		// Others want share: this unit stops being this node's now, and
		// the database learns it in the background.
		s.shrink(0)
		s.l.flushAsync(s)
	}
}

func (s *Scope) wakeChan() <-chan struct{} {
	s.wakeMu.Lock()
	defer s.wakeMu.Unlock()
	return s.wake
}

func (s *Scope) signal() {
	s.wakeMu.Lock()
	close(s.wake)
	s.wake = make(chan struct{})
	s.wakeMu.Unlock()
}

// TryAcquire admits one execution in scope name under limit if the
// cluster has room (Scope(name).TryAcquire).
func (l *Limiter) TryAcquire(ctx context.Context, name string, limit int) (release func(), ok bool, err error) {
	return l.Scope(name).TryAcquire(ctx, limit)
}

// Acquire waits until scope name has room under limit
// (Scope(name).Acquire).
func (l *Limiter) Acquire(ctx context.Context, name string, limit int) (release func(), err error) {
	return l.Scope(name).Acquire(ctx, limit)
}

// TryAcquire admits one execution under limit if the cluster has room: at
// once with local share, else after taking share from the database, or
// from other nodes' idle share within Config.Wait (default 200 ms). false
// means the limit is reached (a throttle); an error, that the database or
// the lease failed. release must be called once when the execution ends.
func (s *Scope) TryAcquire(ctx context.Context, limit int) (release func(), ok bool, err error) {
	if int64(limit) == s.limit.Load() && s.l.n.valid.Load() && s.admit() {
		return s.release, true, nil
	}
	return s.l.acquire(ctx, s, limit, s.l.n.cfg.Wait)
}

// Acquire is TryAcquire that waits until the limit has room or ctx ends.
func (s *Scope) Acquire(ctx context.Context, limit int) (release func(), err error) {
	if int64(limit) == s.limit.Load() && s.l.n.valid.Load() && s.admit() {
		return s.release, nil
	}
	r, _, err := s.l.acquire(ctx, s, limit, -1)
	return r, err
}

// Held reports what this node holds of scope and what of it runs.
func (l *Limiter) Held(name string) (held, inUse int) {
	s, ok := l.scopes.Load(name)
	if !ok {
		return 0, 0
	}
	h, u := s.(*Scope).counts()
	return int(h), int(u)
}

// acquire is the slow path: wait < 0 waits as long as ctx.
func (l *Limiter) acquire(ctx context.Context, s *Scope, limit int, wait time.Duration) (func(), bool, error) {
	if limit < 0 || limit > math.MaxInt32 {
		return nil, false, fmt.Errorf("cluster: limit %d out of range", limit)
	}
	if limit == 0 && s.limit.Load() == 0 {
		return nil, false, nil // nothing is ever admitted: no need to ask
	}
	start := time.Now()
	s.waiters.Add(1)
	defer s.waiters.Add(-1)
	backoff := 5 * time.Millisecond
	var asked time.Time
	for {
		ch := s.wakeChan() // before trying: a release after the try wakes us
		ok, none, err := l.grow(ctx, s, limit)
		if err != nil && !errors.Is(err, ErrNoLease) {
			return nil, false, err
		}
		if ok {
			return s.release, true, nil
		}
		if limit == 0 {
			return nil, false, err
		}
		if none && time.Since(asked) >= l.n.cfg.Timeout/2 {
			// Nothing free: ask the nodes holding idle share for it (they
			// keep giving back for a timeout after).
			l.n.notify(ctx, kindWant, s.name)
			asked = time.Now()
		}
		left := time.Duration(math.MaxInt64)
		if wait >= 0 {
			left = wait - time.Since(start)
			if left <= 0 {
				if err != nil {
					return nil, false, err
				}
				return nil, false, nil
			}
		}
		t := time.NewTimer(min(backoff, left))
		select {
		case <-ch:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, false, ctx.Err()
		}
		t.Stop()
		backoff = min(2*backoff, l.n.cfg.Heartbeat)
	}
}

// grow admits from local share or takes more from the database: ok when
// admitted; none when the database had nothing free.
func (l *Limiter) grow(ctx context.Context, s *Scope, limit int) (ok, none bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.limit.Swap(int64(limit)); old > int64(limit) {
		l.lowered(ctx, s)
		l.n.notify(ctx, kindWant, s.name) // the others cut their idle share too
	}
	if !l.n.leased() {
		return false, false, ErrNoLease
	}
	if s.admit() {
		return true, false, nil
	}
	held, use := s.counts()
	want := int(use) + 1 - int(held)
	// Take a batch while plenty is free, so the next invokes stay local: a
	// fair part of the limit, half of it left for nodes yet to ask.
	if live := len(l.n.Members()); live > 0 {
		want = max(want, limit/(2*live))
	}
	if want <= 0 {
		want = 1
	}
	var got int
	err = l.n.pool.QueryRow(ctx, `SELECT cluster_take($1, $2, $3, $4, $5::bigint * interval '1 microsecond')`,
		l.n.cfg.NodeID, s.name, limit, want, micros(l.n.margin())).Scan(&got)
	if err != nil {
		return false, false, fmt.Errorf("cluster: take share of %s: %w", s.name, err)
	}
	if got < 0 {
		return false, false, ErrNoLease
	}
	if got > 0 {
		s.state.Add(uint64(got) << 32)
		s.over.Store(false) // a grant means the shares are under the limit
	}
	return s.admit(), got == 0, nil
}

// giveBack lowers the node's share to target (not below what runs), here
// first and then in the database, so the database never holds less than
// the node uses. s.mu must be held.
func (l *Limiter) giveBack(ctx context.Context, s *Scope, target uint32) {
	s.shrink(target)
	l.flush(ctx, s)
}

// flush writes the node's share of s to the database where that holds more
// (after a shrink). s.mu must be held.
func (l *Limiter) flush(ctx context.Context, s *Scope) {
	s.dirty.Store(false)
	held, _ := s.counts()
	tag, err := l.n.pool.Exec(ctx, `UPDATE cluster_shares SET share = $3 WHERE scope = $1 AND node = $2 AND share > $3`,
		s.name, l.n.cfg.NodeID, int32(held))
	if err != nil {
		// The database keeps more than the node uses: capacity idles
		// until the heartbeat writes it again; nothing overshoots.
		l.n.log.Debug("cluster give back", "scope", s.name, "err", err)
		return
	}
	if tag.RowsAffected() > 0 {
		l.n.notify(ctx, kindFree, s.name)
	}
}

// flushAsync flushes s in the background, one goroutine at a time.
func (l *Limiter) flushAsync(s *Scope) {
	s.dirty.Store(true)
	if !s.flushing.CompareAndSwap(false, true) {
		return
	}
	go func() {
		for {
			for s.dirty.Load() {
				s.mu.Lock()
				l.flush(l.n.ctx, s)
				s.mu.Unlock()
			}
			s.flushing.Store(false)
			// A shrink between the last flush and here found flushing set.
			if !s.dirty.Load() || !s.flushing.CompareAndSwap(false, true) {
				return
			}
		}
	}()
}

// contend marks s wanted elsewhere for a while: meanwhile units go back as
// they end. What it holds idle goes back now.
func (l *Limiter) contend(s *Scope) {
	s.contended.Store(l.n.now() + int64(l.n.cfg.Timeout))
	s.shrink(0)
}

// lowered is a lowered limit of s: the node gives back what it holds idle
// and what ends, until the shares are under the limit. s.mu must be held.
func (l *Limiter) lowered(ctx context.Context, s *Scope) {
	s.over.Store(true)
	l.contend(s)
	l.flush(ctx, s)
}

// wanted is another node asking for share of name.
func (l *Limiter) wanted(name string) {
	v, ok := l.scopes.Load(name)
	if !ok {
		return
	}
	s := v.(*Scope)
	l.contend(s)
	l.flushAsync(s)
}

// freed is another node giving share of name back.
func (l *Limiter) freed(name string) {
	if v, ok := l.scopes.Load(name); ok && v.(*Scope).waiters.Load() > 0 {
		v.(*Scope).signal()
	}
}

func (l *Limiter) wakeAll() {
	l.scopes.Range(func(_, v any) bool {
		if s := v.(*Scope); s.waiters.Load() > 0 {
			s.signal()
		}
		return true
	})
}

// rejoin registers the node again after its lease lapsed, with every scope
// locked so that no grant is under way, and nothing held: the database
// deleted its shares.
func (l *Limiter) rejoin(ctx context.Context, t0 int64) (bool, error) {
	var locked []*Scope
	l.scopes.Range(func(_, v any) bool {
		s := v.(*Scope)
		s.mu.Lock()
		locked = append(locked, s)
		return true
	})
	defer func() {
		for _, s := range locked {
			s.mu.Unlock()
		}
	}()
	for _, s := range locked {
		s.shrink(0)
		for {
			v := s.state.Load()
			if s.state.CompareAndSwap(v, v&math.MaxUint32) { // held 0, even below what runs
				break
			}
		}
	}
	ok, err := l.n.register(ctx, false)
	if ok {
		l.n.renewed(t0)
	}
	return ok, err
}

// SetLimit sets scope's limit (PutFunctionConcurrency, a changed account
// limit) for the whole cluster; other nodes follow at their next heartbeat
// or acquisition, and give back what they hold beyond it.
func (l *Limiter) SetLimit(ctx context.Context, name string, limit int) error {
	if limit < 0 || limit > math.MaxInt32 {
		return fmt.Errorf("cluster: limit %d out of range", limit)
	}
	s := l.Scope(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := l.n.pool.Exec(ctx, `INSERT INTO cluster_scopes (scope, lim) VALUES ($1, $2)
		ON CONFLICT (scope) DO UPDATE SET lim = EXCLUDED.lim`, name, limit); err != nil {
		return fmt.Errorf("cluster: set the limit of %s: %w", name, err)
	}
	if old := s.limit.Swap(int64(limit)); old > int64(limit) {
		l.lowered(ctx, s)
		// The others give back their idle share as if asked for it.
		l.n.notify(ctx, kindWant, name)
	} else {
		l.n.notify(ctx, kindFree, name) // waiters look again
	}
	return nil
}

// rebalance is the heartbeat's part: learn changed limits, give back share
// beyond a lowered limit or that others want, and write again a give-back
// the database missed.
func (l *Limiter) rebalance(ctx context.Context) error {
	rows, err := l.n.pool.Query(ctx, `SELECT s.scope, s.share, c.lim,
			(SELECT coalesce(sum(o.share), 0) FROM cluster_shares o JOIN cluster_nodes n ON n.id = o.node
				WHERE o.scope = s.scope AND n.expires > now())
		FROM cluster_shares s JOIN cluster_scopes c ON c.scope = s.scope
		WHERE s.node = $1 AND s.share > 0`, l.n.cfg.NodeID)
	if err != nil {
		return fmt.Errorf("cluster: read shares: %w", err)
	}
	type row struct {
		name              string
		share, lim, total int64
	}
	var rs []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.name, &r.share, &r.lim, &r.total); err != nil {
			rows.Close()
			return fmt.Errorf("cluster: read shares: %w", err)
		}
		rs = append(rs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("cluster: read shares: %w", err)
	}
	now := l.n.now()
	for _, r := range rs {
		s := l.Scope(r.name)
		s.mu.Lock()
		s.limit.Store(r.lim)
		// Over a lowered limit, or wanted: keep only what runs.
		s.over.Store(r.total > r.lim)
		if r.total > r.lim {
			l.contend(s)
		} else if s.contended.Load() > now {
			s.shrink(0)
		}
		h, _ := s.counts()
		// Written also when an earlier give-back did not reach the database.
		if r.share > int64(h) {
			if _, err := l.n.pool.Exec(ctx, `UPDATE cluster_shares SET share = $3 WHERE scope = $1 AND node = $2 AND share > $3`,
				s.name, l.n.cfg.NodeID, int32(h)); err != nil {
				s.mu.Unlock()
				return fmt.Errorf("cluster: write share: %w", err)
			}
			l.n.notify(ctx, kindFree, s.name)
		}
		s.mu.Unlock()
	}
	return nil
}
