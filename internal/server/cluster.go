package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lambdad/lambdad/internal/awsproto"
	"github.com/lambdad/lambdad/internal/cluster"
	"github.com/lambdad/lambdad/internal/invoke"
	"github.com/lambdad/lambdad/internal/limits"
	"github.com/lambdad/lambdad/internal/pgschema"
)

// ClusterConfig makes lambdad one node of a cluster coordinated through
// PostgreSQL (internal/cluster). Without URL it runs alone.
type ClusterConfig struct {
	// URL is the cluster's database (postgres://…).
	URL string
	// NodeID names this node (default: host name and a random suffix).
	NodeID string
	// Advertise is where other nodes reach this node's API; default
	// http://<listen address> when that names a host (not 0.0.0.0 or ::).
	Advertise string
	// Heartbeat is how often the node renews its membership (default
	// cluster.DefaultHeartbeat); it is dropped after three missed.
	Heartbeat time.Duration
	// Version is what health reports of this node.
	Version string
	// SpillAfter is how many synchronous invokes of one version a node
	// runs at once before it passes more to the next node (placement.go);
	// 0: twice GOMAXPROCS.
	SpillAfter int
}

// clustered is the server's part of the cluster: the pool is opened by New
// (a bad URL or a database that does not answer stops lambdad there), the
// node joins once Serve knows the listening address.
type clustered struct {
	pool  *pgxpool.Pool
	node  atomic.Pointer[cluster.Node]
	place *placement
}

func (c *clustered) open(cfg ClusterConfig) error {
	if cfg.URL == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := pgschema.Connect(ctx, cfg.URL)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	c.pool = pool
	return nil
}

// AdvertiseFor is the address other nodes reach a node listening on addr
// at, unless told (ClusterConfig.Advertise): an error when addr names no
// host that others could use.
func AdvertiseFor(addr string) (string, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		return "", fmt.Errorf("listening on %s, every interface: say which address other nodes reach this one at (--advertise)", addr)
	}
	return "http://" + addr, nil
}

// join registers the node; it lives until ctx ends or leave.
func (s *Server) join(ctx context.Context, ln net.Listener) error {
	c := &s.cluster
	if c.pool == nil {
		return nil
	}
	cfg := s.cfg.Cluster
	addr := cfg.Advertise
	if addr == "" {
		var err error
		if addr, err = AdvertiseFor(ln.Addr().String()); err != nil {
			return fmt.Errorf("cluster: %w", err)
		}
	}
	account := s.cfg.Account
	if account == "" {
		account = awsproto.DefaultAccount
	}
	// Settings the nodes must agree on: the account scope's limit is one
	// row every node writes, and a key that is not 12 digits must mean
	// one account whichever node a request reaches.
	limit := s.cfg.ConcurrencyLimit
	if limit == 0 {
		limit = limits.DefaultConcurrentExecutions
	}
	shared := map[string]string{"--concurrency-limit": strconv.Itoa(limit), "--account": account}
	jcfg := cluster.Config{Pool: c.pool, NodeID: cfg.NodeID, Address: addr, Version: cfg.Version, Heartbeat: cfg.Heartbeat, Shared: shared, Logger: s.log}
	n, err := cluster.Join(context.WithoutCancel(ctx), jcfg)
	// A node restarted at once after a crash finds its own last run still
	// registered: wait for that registration to lapse (three heartbeats)
	// rather than fail; a live node with the id is still refused after it.
	beat := cfg.Heartbeat
	if beat <= 0 {
		beat = cluster.DefaultHeartbeat
	}
	for deadline := time.Now().Add(4 * beat); errors.Is(err, cluster.ErrNodeIDInUse) && time.Now().Before(deadline); {
		s.log.Info("cluster: this node id is still registered (an earlier run?); waiting for it to lapse", "node", cfg.NodeID)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(beat / 2):
		}
		n, err = cluster.Join(context.WithoutCancel(ctx), jcfg)
	}
	if err != nil {
		return err
	}
	c.node.Store(n)
	go s.followMembers(n, cfg.Heartbeat) // provisioned concurrency moves with ownership
	return nil
}

// leave deregisters the node (a clean shutdown) and closes the pool.
func (s *Server) leave() {
	c := &s.cluster
	if n := c.node.Swap(nil); n != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.Close(ctx); err != nil {
			s.log.Warn("leave the cluster", "err", err)
		}
	}
}

func (s *Server) closeCluster() {
	s.leave()
	if s.cluster.place != nil {
		s.cluster.place.close()
	}
	if s.cluster.pool != nil {
		s.cluster.pool.Close()
		s.cluster.pool = nil
	}
}

// Cluster is the node, while lambdad serves as one (nil: it runs alone).
func (s *Server) Cluster() *cluster.Node { return s.cluster.node.Load() }

// healthMember is a node in /_lambdad/health.
type healthMember struct {
	ID        string    `json:"id"`
	Address   string    `json:"address"`
	Version   string    `json:"version"`
	Started   time.Time `json:"started"`
	Heartbeat time.Time `json:"heartbeat,omitzero"`
}

func asHealth(m cluster.Member) healthMember {
	return healthMember{ID: m.ID, Address: m.Address, Version: m.Version, Started: m.Started.UTC(), Heartbeat: m.Heartbeat.UTC()}
}

// withHealth answers /_lambdad/health with the node and its live peers
// when clustered; alone, next answers it as before.
func (s *Server) withHealth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := s.cluster.node.Load()
		if n == nil || r.Method != http.MethodGet || r.URL.Path != "/_lambdad/health" {
			next.ServeHTTP(w, r)
			return
		}
		body := struct {
			Status string         `json:"status"`
			Node   healthMember   `json:"node"`
			Peers  []healthMember `json:"peers"`
		}{Status: "ok", Node: asHealth(n.Self()), Peers: []healthMember{}}
		for _, p := range n.Peers() {
			body.Peers = append(body.Peers, asHealth(p))
		}
		w.Header().Set("Content-Type", "application/json")
		if err := json.NewEncoder(w).Encode(body); err != nil && !errors.Is(err, http.ErrHandlerTimeout) {
			s.log.Debug("health", "err", err)
		}
	})
}

// clusterAdmission counts executions in the cluster once the node has
// joined (invoke.Admission). Before that (nothing invokes before Serve
// joins, but the event queue may), for functions without reserved
// concurrency, and for units counted without a limit (provisioned
// concurrency), it counts in this process.
type clusterAdmission struct {
	c     *clustered
	local invoke.LocalAdmission
}

func (a *clusterAdmission) Counter(scope string) invoke.Counter {
	return &clusterCounter{a: a, name: scope, local: a.local.Counter(scope)}
}

type clusterCounter struct {
	a     *clusterAdmission
	name  string
	local invoke.Counter
	scope atomic.Pointer[cluster.Scope]
}

func (c *clusterCounter) Admit(ctx context.Context, limit int32) (func(), bool, error) {
	if limit == invoke.Unlimited {
		return c.local.Admit(ctx, limit)
	}
	s := c.scope.Load()
	if s == nil {
		n := c.a.c.node.Load()
		if n == nil {
			return c.local.Admit(ctx, limit)
		}
		s = n.Limiter().Scope(c.name)
		c.scope.Store(s)
	}
	return s.TryAcquire(ctx, int(max(limit, 0)))
}

// admission is invoke's: the cluster's when clustered, else the default.
func (s *Server) admission() invoke.Admission {
	if s.cfg.Cluster.URL == "" {
		return nil
	}
	return &clusterAdmission{c: &s.cluster}
}
