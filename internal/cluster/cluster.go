// Package cluster lets several lambdad nodes share one PostgreSQL database
// as one fleet: membership with heartbeats, concurrency limits held for the
// whole cluster by leased shares (limiter.go), and placement by rendezvous
// hashing over the live nodes (place.go). It knows nothing of HTTP.
//
// Time: liveness is judged by the database's clock alone (now() against
// cluster_nodes.expires). A node bounds its own lease by its monotonic clock
// from before the heartbeat that renewed it, which is never later than the
// database's view, so no two clocks have to agree.
package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lambdad/lambdad/internal/pgschema"
)

// Defaults of Config.
const (
	DefaultHeartbeat = 2 * time.Second
	// DefaultWait is how long TryAcquire waits for other nodes to give
	// back idle share before it refuses.
	DefaultWait = 200 * time.Millisecond
)

// Config configures a node.
type Config struct {
	// Pool is the database every node of the cluster shares.
	Pool *pgxpool.Pool
	// NodeID names the node in the cluster (letters, digits, '.', '_',
	// '-', at most 64); default: the host's name and a random suffix. Two
	// live nodes cannot share one.
	NodeID string
	// Address is where other nodes reach this node's API (for internal
	// forwarding), e.g. http://10.0.0.5:9001.
	Address string
	// Version is the lambdad version the node runs, for health.
	Version string
	// Heartbeat is how often the node renews its membership (default
	// DefaultHeartbeat); Timeout is how long a node stays live without one
	// (default three heartbeats).
	Heartbeat, Timeout time.Duration
	// Wait bounds how long TryAcquire waits for share other nodes hold idle
	// (default DefaultWait).
	Wait time.Duration
	// Shared are the settings every node of the cluster must run with
	// (name -> value, e.g. "--concurrency-limit" -> "1000"): Join refuses
	// a node whose value of one differs from a live node's.
	Shared map[string]string
	Logger *slog.Logger
}

// Member is a node of the cluster as its registration says.
type Member struct {
	ID, Address, Version string
	Started, Heartbeat   time.Time
}

// Node is this process's membership of the cluster.
type Node struct {
	cfg  Config
	pool *pgxpool.Pool
	log  *slog.Logger
	// base anchors the monotonic clock the lease is measured on; deadline
	// is when, on it, this node must stop admitting on its shares (ns
	// since base).
	base     time.Time
	deadline atomic.Int64
	// valid is leased() kept by a timer, for the warm path, which cannot
	// afford to read the clock (tens of ns on some machines); it ends
	// late by the timer's delay at most, which the margin covers.
	valid   atomic.Bool
	leaseMu sync.Mutex
	expiry  *time.Timer
	started time.Time
	members atomic.Pointer[[]Member] // live nodes, by ID, this one included
	lim     *Limiter
	ctx     context.Context // ends with the node (Close or Join's ctx)
	stop    context.CancelFunc
	done    sync.WaitGroup
	closed  atomic.Bool
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// ErrNodeIDInUse is Join's error when a live node has the ID already.
var ErrNodeIDInUse = errors.New("cluster: a live node has this node id")

// ErrSettingsDiffer is Join's error when a live node runs with another
// value of a Config.Shared setting.
var ErrSettingsDiffer = errors.New("cluster: every node of a cluster needs the same settings")

// Join migrates the cluster's tables, registers the node and heartbeats
// until ctx ends (the node then stops renewing, as a crashed one would, and
// its shares lapse with its lease) or Close (which deregisters it).
func Join(ctx context.Context, cfg Config) (*Node, error) {
	if cfg.Pool == nil {
		return nil, errors.New("cluster: no database")
	}
	if cfg.NodeID == "" {
		cfg.NodeID = DefaultNodeID()
	}
	if !idPattern.MatchString(cfg.NodeID) {
		return nil, fmt.Errorf("cluster: node id %q: letters, digits, '.', '_' and '-' only, at most 64", cfg.NodeID)
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 3 * cfg.Heartbeat
	}
	if cfg.Timeout <= cfg.Heartbeat {
		return nil, fmt.Errorf("cluster: timeout %s must be longer than the heartbeat %s", cfg.Timeout, cfg.Heartbeat)
	}
	if cfg.Wait <= 0 {
		cfg.Wait = DefaultWait
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if err := pgschema.Migrate(ctx, cfg.Pool, component, steps); err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, pool: cfg.Pool, log: cfg.Logger.With("node", cfg.NodeID), base: time.Now(), started: time.Now().UTC().Truncate(time.Microsecond)}
	n.lim = newLimiter(n)
	n.ctx, n.stop = context.WithCancel(ctx)
	t0 := n.now()
	ok, err := n.register(ctx, true)
	if err != nil {
		n.stop()
		return nil, err
	}
	if !ok {
		n.stop()
		return nil, fmt.Errorf("%w: %s", ErrNodeIDInUse, cfg.NodeID)
	}
	n.renewed(t0)
	if err := n.Refresh(ctx); err != nil {
		n.stop()
		return nil, err
	}
	n.warm(ctx)
	n.done.Add(2)
	go n.loop()
	go n.listen()
	n.log.Info("joined the cluster", "address", cfg.Address, "peers", len(n.Peers()))
	return n, nil
}

// warm opens the pool's connections for the first grants now: a new
// connection costs its authentication (SCRAM: milliseconds of CPU), which
// the first acquisition would otherwise wait for.
func (n *Node) warm(ctx context.Context) {
	var cs []*pgxpool.Conn
	for range 2 {
		c, err := n.pool.Acquire(ctx)
		if err != nil {
			break
		}
		cs = append(cs, c)
	}
	for _, c := range cs {
		c.Release()
	}
}

// DefaultNodeID is the host's name with a random suffix, so that nodes on
// one host differ.
func DefaultNodeID() string {
	h, _ := os.Hostname()
	h = strings.Map(func(r rune) rune {
		if r < 128 && (r == '.' || r == '_' || r == '-' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') {
			return r
		}
		return -1
	}, h)
	if len(h) > 48 {
		h = h[:48]
	}
	if h == "" {
		h = "node"
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return h + "-" + hex.EncodeToString(b)
}

// now is the node's monotonic clock.
func (n *Node) now() int64 { return int64(time.Since(n.base)) }

// margin is what the node keeps off its lease, against clocks that run at
// slightly different rates and a late wake-up.
func (n *Node) margin() time.Duration { return n.cfg.Timeout / 10 }

// renewed records a renewal whose statement was sent at t0: the database
// set the lease's end at its now() (not before t0) plus Timeout.
func (n *Node) renewed(t0 int64) {
	n.leaseMu.Lock()
	defer n.leaseMu.Unlock()
	d := t0 + int64(n.cfg.Timeout-n.margin())
	n.deadline.Store(d)
	n.valid.Store(n.now() < d)
	wait := time.Duration(d - n.now())
	if n.expiry == nil {
		n.expiry = time.AfterFunc(wait, n.lapse)
	} else {
		n.expiry.Reset(wait)
	}
}

// lapse ends valid if the lease was not renewed meanwhile.
func (n *Node) lapse() {
	n.leaseMu.Lock()
	defer n.leaseMu.Unlock()
	if !n.leased() {
		n.valid.Store(false)
	}
}

// endLease ends the lease here at once (Close).
func (n *Node) endLease() {
	n.leaseMu.Lock()
	defer n.leaseMu.Unlock()
	n.deadline.Store(0)
	n.valid.Store(false)
	if n.expiry != nil {
		n.expiry.Stop()
	}
}

// leased says whether the node's lease still runs (its shares are its own).
func (n *Node) leased() bool { return n.now() < n.deadline.Load() }

// micros is d for the SQL `$n::bigint * interval '1 microsecond'`.
func micros(d time.Duration) int64 { return d.Microseconds() }

// registerLock is the transaction-level advisory lock that serializes
// joins, so that two nodes joining at once with different shared settings
// cannot both be admitted.
const registerLock = 0x6c616d6264616401 // "lambdad" 01

// register inserts the node, or takes over its own expired row (false: a
// live node has the ID). A node registering again holds nothing: its old
// shares, which others may have taken since, are deleted with the same
// transaction. On join (check) its shared settings must match the live
// nodes'; a node that lapsed and registers again was admitted already.
func (n *Node) register(ctx context.Context, check bool) (bool, error) {
	tx, err := n.pool.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("cluster: register: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	shared := n.cfg.Shared
	if shared == nil {
		shared = map[string]string{}
	}
	if check {
		if err := n.checkShared(ctx, tx, shared); err != nil {
			return false, err
		}
	}
	tag, err := tx.Exec(ctx, `INSERT INTO cluster_nodes AS c (id, address, version, started, heartbeat, expires, shared)
		VALUES ($1, $2, $3, $4, now(), now() + $5::bigint * interval '1 microsecond', $6)
		ON CONFLICT (id) DO UPDATE SET address = EXCLUDED.address, version = EXCLUDED.version,
			started = EXCLUDED.started, heartbeat = EXCLUDED.heartbeat, expires = EXCLUDED.expires, shared = EXCLUDED.shared
		WHERE c.expires <= now()`,
		n.cfg.NodeID, n.cfg.Address, n.cfg.Version, n.started, micros(n.cfg.Timeout), shared)
	if err != nil {
		return false, fmt.Errorf("cluster: register: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return false, nil
	}
	if _, err := tx.Exec(ctx, `DELETE FROM cluster_shares WHERE node = $1`, n.cfg.NodeID); err != nil {
		return false, fmt.Errorf("cluster: register: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("cluster: register: %w", err)
	}
	return true, nil
}

// checkShared compares shared with every live node's, under registerLock
// (held until tx ends); a node without a setting, of an older lambdad,
// does not constrain it.
func (n *Node) checkShared(ctx context.Context, tx pgx.Tx, shared map[string]string) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(registerLock)); err != nil {
		return fmt.Errorf("cluster: register: %w", err)
	}
	rows, err := tx.Query(ctx, `SELECT id, shared FROM cluster_nodes WHERE expires > now() AND id <> $1 ORDER BY id`, n.cfg.NodeID)
	if err != nil {
		return fmt.Errorf("cluster: register: %w", err)
	}
	defer rows.Close()
	names := make([]string, 0, len(shared))
	for k := range shared {
		names = append(names, k)
	}
	sort.Strings(names)
	for rows.Next() {
		var id string
		var theirs map[string]string
		if err := rows.Scan(&id, &theirs); err != nil {
			return fmt.Errorf("cluster: register: %w", err)
		}
		for _, k := range names {
			if v, ok := theirs[k]; ok && v != shared[k] {
				return fmt.Errorf("%w: node %s runs with %s %s, this node with %s %s", ErrSettingsDiffer, id, k, v, k, shared[k])
			}
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("cluster: register: %w", err)
	}
	return nil
}

func (n *Node) loop() {
	defer n.done.Done()
	t := time.NewTicker(n.cfg.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		}
		if err := n.beat(n.ctx); err != nil && n.ctx.Err() == nil {
			n.log.Warn("cluster heartbeat", "err", err)
		}
	}
}

// beat renews the lease (or registers again when it lapsed), refreshes the
// live view, and gives back share other nodes need.
func (n *Node) beat(ctx context.Context) error {
	t0 := n.now()
	tag, err := n.pool.Exec(ctx, `UPDATE cluster_nodes SET heartbeat = now(), expires = now() + $2::bigint * interval '1 microsecond'
		WHERE id = $1 AND expires > now()`, n.cfg.NodeID, micros(n.cfg.Timeout))
	if err != nil {
		return fmt.Errorf("cluster: renew: %w", err)
	}
	if tag.RowsAffected() == 0 {
		// The lease lapsed (a pause, a partition): the shares are gone,
		// maybe to other nodes. Drop them here before joining again.
		n.log.Warn("cluster lease lapsed; registering again without shares")
		ok, err := n.lim.rejoin(ctx, t0)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: %s", ErrNodeIDInUse, n.cfg.NodeID)
		}
	} else {
		n.renewed(t0)
	}
	if err := n.Refresh(ctx); err != nil {
		return err
	}
	// Rows of nodes long dead (their shares go with them).
	if _, err := n.pool.Exec(ctx, `DELETE FROM cluster_nodes WHERE expires < now() - $1::bigint * interval '1 microsecond'`, micros(10*n.cfg.Timeout)); err != nil {
		return fmt.Errorf("cluster: forget dead nodes: %w", err)
	}
	return n.lim.rebalance(ctx)
}

// Refresh reads the live members now (the heartbeat does it every beat).
func (n *Node) Refresh(ctx context.Context) error {
	rows, err := n.pool.Query(ctx, `SELECT id, address, version, started, heartbeat FROM cluster_nodes
		WHERE expires > now() ORDER BY id`)
	if err != nil {
		return fmt.Errorf("cluster: members: %w", err)
	}
	defer rows.Close()
	var ms []Member
	for rows.Next() {
		var m Member
		if err := rows.Scan(&m.ID, &m.Address, &m.Version, &m.Started, &m.Heartbeat); err != nil {
			return fmt.Errorf("cluster: members: %w", err)
		}
		ms = append(ms, m)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("cluster: members: %w", err)
	}
	n.members.Store(&ms)
	return nil
}

// Self is this node.
func (n *Node) Self() Member {
	for _, m := range n.Members() {
		if m.ID == n.cfg.NodeID {
			return m
		}
	}
	return Member{ID: n.cfg.NodeID, Address: n.cfg.Address, Version: n.cfg.Version, Started: n.started}
}

// ID is this node's id.
func (n *Node) ID() string { return n.cfg.NodeID }

// Members are the live nodes as of the last heartbeat (or Refresh), by ID,
// this one included.
func (n *Node) Members() []Member {
	if p := n.members.Load(); p != nil {
		return *p
	}
	return nil
}

// Peers are the live nodes other than this one.
func (n *Node) Peers() []Member {
	var ps []Member
	for _, m := range n.Members() {
		if m.ID != n.cfg.NodeID {
			ps = append(ps, m)
		}
	}
	return ps
}

// Limiter is the node's cluster-wide concurrency limiter.
func (n *Node) Limiter() *Limiter { return n.lim }

// Close stops heartbeating and deregisters the node: its shares return to
// the cluster at once.
func (n *Node) Close(ctx context.Context) error {
	if !n.closed.CompareAndSwap(false, true) {
		return nil
	}
	n.stop()
	n.done.Wait()
	n.endLease()
	if _, err := n.pool.Exec(ctx, `DELETE FROM cluster_nodes WHERE id = $1`, n.cfg.NodeID); err != nil {
		return fmt.Errorf("cluster: deregister: %w", err)
	}
	n.notify(ctx, kindFree, "*")
	return nil
}
