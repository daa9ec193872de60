package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lambdad/lambdad/internal/pgschema"
	"github.com/lambdad/lambdad/internal/testkit"
)

// Short beats keep the tests quick. The timeout is ten beats, not three:
// on a loaded machine (-race, shared cores) a beat can be late by more than
// two, and a lapsed lease is the one case that may overshoot by design
// (docs/cluster.md), which TestLapsedLease tests on its own.
const (
	testBeat    = 100 * time.Millisecond
	testTimeout = time.Second
)

// member is a node as a separate process would be: a pool of its own, and
// a context that ends its heartbeat without deregistering (a crash).
type member struct {
	*Node
	pool *pgxpool.Pool
	kill context.CancelFunc
}

func join(t testing.TB, url, id string) *member {
	t.Helper()
	pool, err := pgschema.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	ctx, kill := context.WithCancel(context.Background())
	n, err := Join(ctx, Config{Pool: pool, NodeID: id, Address: "http://" + id + ".invalid:9001", Version: "test",
		Heartbeat: testBeat, Timeout: testTimeout})
	if err != nil {
		kill()
		pool.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		kill()
		_ = n.Close(context.Background())
		pool.Close()
	})
	return &member{Node: n, pool: pool, kill: kill}
}

func ids(ms []Member) []string {
	var s []string
	for _, m := range ms {
		s = append(s, m.ID)
	}
	return s
}

// eventually polls cond until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(d)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("after %s: %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestMembership: three nodes see each other with their addresses; one
// that stops heartbeating (no deregistration) is dropped after the timeout
// and the shares it held are free again; one that closes is gone at once;
// a live node's id cannot be taken.
func TestMembership(t *testing.T) {
	url := testkit.Postgres(t)
	a, b, c := join(t, url, "a"), join(t, url, "b"), join(t, url, "c")
	for _, n := range []*member{a, b, c} {
		eventually(t, 5*time.Second, n.ID()+" sees three members", func() bool { return len(n.Members()) == 3 })
		if got := fmt.Sprint(ids(n.Peers())); len(n.Peers()) != 2 || got == "" {
			t.Fatalf("%s's peers: %v", n.ID(), got)
		}
		if s := n.Self(); s.ID != n.ID() || s.Address != "http://"+n.ID()+".invalid:9001" || s.Version != "test" || s.Started.IsZero() {
			t.Fatalf("self: %+v", s)
		}
	}
	if _, err := Join(context.Background(), Config{Pool: a.pool, NodeID: "b"}); !errors.Is(err, ErrNodeIDInUse) {
		t.Fatalf("joining as live b: %v", err)
	}

	// c holds all of a limit of 3, running.
	ctx := context.Background()
	for range 3 {
		if _, err := c.Limiter().Acquire(ctx, "fn", 3); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok, err := a.Limiter().TryAcquire(ctx, "fn", 3); ok || err != nil {
		t.Fatalf("a admitted past c's three running: %v %v", ok, err)
	}
	c.kill() // no heartbeat, no deregistration
	eventually(t, 5*time.Second, "a and b drop c", func() bool {
		return fmt.Sprint(ids(a.Members())) == "[a b]" && fmt.Sprint(ids(b.Members())) == "[a b]"
	})
	for i := range 3 {
		if _, ok, err := a.Limiter().TryAcquire(ctx, "fn", 3); !ok || err != nil {
			t.Fatalf("acquisition %d after c expired: %v %v", i, ok, err)
		}
	}

	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(ids(a.Members())); got != "[a]" {
		t.Fatalf("after b closed: %s", got)
	}
}

// TestSharedSettings: a node whose shared setting differs from a live
// node's is refused, naming both values; one that matches, or that sets
// what the others do not, joins; once the odd node's peers are gone, it
// may join.
func TestSharedSettings(t *testing.T) {
	url := testkit.Postgres(t)
	pool, err := pgschema.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	ctx, kill := context.WithCancel(context.Background())
	defer kill()
	cfg := func(id, limit string) Config {
		return Config{Pool: pool, NodeID: id, Heartbeat: testBeat, Timeout: testTimeout, Shared: map[string]string{"--concurrency-limit": limit}}
	}
	a, err := Join(ctx, cfg("a", "1000"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Join(ctx, cfg("b", "500"))
	if !errors.Is(err, ErrSettingsDiffer) || !strings.Contains(err.Error(), "node a runs with --concurrency-limit 1000, this node with --concurrency-limit 500") {
		t.Fatalf("b with another limit: %v", err)
	}
	b, err := Join(ctx, cfg("b", "1000"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := Join(ctx, Config{Pool: pool, NodeID: "c", Heartbeat: testBeat, Timeout: testTimeout, Shared: map[string]string{"--other": "x"}})
	if err != nil {
		t.Fatalf("c without the setting: %v", err)
	}
	for _, n := range []*Node{a, b, c} {
		if err := n.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	d, err := Join(ctx, cfg("d", "500"))
	if err != nil {
		t.Fatalf("d alone with another limit: %v", err)
	}
	_ = d.Close(context.Background())
}

// TestLimitAcrossNodes: a limit of 2 over three nodes, with 50 goroutines
// acquiring through all three: never more than 2 run at once, and all run.
func TestLimitAcrossNodes(t *testing.T) {
	url := testkit.Postgres(t)
	nodes := []*member{join(t, url, "a"), join(t, url, "b"), join(t, url, "c")}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var running, most, ran atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			release, err := nodes[i%3].Limiter().Acquire(ctx, "arn:fn", 2)
			if err != nil {
				errs <- err
				return
			}
			r := running.Add(1)
			for m := most.Load(); r > m && !most.CompareAndSwap(m, r); m = most.Load() {
			}
			time.Sleep(2 * time.Millisecond)
			running.Add(-1)
			ran.Add(1)
			release()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if most.Load() > 2 {
		t.Fatalf("%d ran at once under a limit of 2", most.Load())
	}
	if ran.Load() != 50 {
		t.Fatalf("%d of 50 ran", ran.Load())
	}
	var sum int
	if err := nodes[0].pool.QueryRow(ctx, `SELECT coalesce(sum(share), 0) FROM cluster_shares WHERE scope = 'arn:fn'`).Scan(&sum); err != nil {
		t.Fatal(err)
	}
	if sum > 2 {
		t.Fatalf("shares sum to %d over a limit of 2", sum)
	}
	t.Logf("most at once: %d", most.Load())
}

// TestIdleShareMoves: a node holding a whole limit idle gives it back when
// another node needs it, within TryAcquire's wait.
func TestIdleShareMoves(t *testing.T) {
	url := testkit.Postgres(t)
	a, b := join(t, url, "a"), join(t, url, "b")
	ctx := context.Background()
	var rels []func()
	for range 2 {
		r, ok, err := a.Limiter().TryAcquire(ctx, "fn", 2)
		if !ok || err != nil {
			t.Fatal(ok, err)
		}
		rels = append(rels, r)
	}
	for _, r := range rels {
		r()
	}
	if held, use := a.Limiter().Held("fn"); held != 2 || use != 0 {
		t.Fatalf("a holds %d, runs %d; want 2 idle", held, use)
	}
	// Warm: a admits again without the database.
	r, ok, err := a.Limiter().TryAcquire(ctx, "fn", 2)
	if !ok || err != nil {
		t.Fatal(ok, err)
	}
	r()
	for i := range 2 {
		if _, ok, err := b.Limiter().TryAcquire(ctx, "fn", 2); !ok || err != nil {
			t.Fatalf("b's acquisition %d with a's share idle: %v %v", i, ok, err)
		}
	}
	if _, ok, _ := a.Limiter().TryAcquire(ctx, "fn", 2); ok {
		t.Fatal("a admitted while b runs the whole limit")
	}
}

// TestSetLimit: a raised limit admits more at once across nodes; a lowered
// one stops new admissions until what runs is under it.
func TestSetLimit(t *testing.T) {
	url := testkit.Postgres(t)
	a, b := join(t, url, "a"), join(t, url, "b")
	ctx := context.Background()
	ra, ok, err := a.Limiter().TryAcquire(ctx, "fn", 1)
	if !ok || err != nil {
		t.Fatal(ok, err)
	}
	if _, ok, _ := b.Limiter().TryAcquire(ctx, "fn", 1); ok {
		t.Fatal("b admitted past a limit of 1")
	}
	if err := b.Limiter().SetLimit(ctx, "fn", 2); err != nil {
		t.Fatal(err)
	}
	rb, ok, err := b.Limiter().TryAcquire(ctx, "fn", 2)
	if !ok || err != nil {
		t.Fatalf("b after the limit rose to 2: %v %v", ok, err)
	}
	// Down to 1 with both running: nothing more until both end, then one.
	if err := a.Limiter().SetLimit(ctx, "fn", 1); err != nil {
		t.Fatal(err)
	}
	// b learns it at its next heartbeat; a new acquisition there uses it.
	eventually(t, 5*time.Second, "b learns the lowered limit", func() bool {
		s, _ := b.Limiter().scopes.Load("fn")
		return s.(*Scope).limit.Load() == 1
	})
	if _, ok, _ := b.Limiter().TryAcquire(ctx, "fn", 1); ok {
		t.Fatal("b admitted with two running over a limit of 1")
	}
	ra()
	if _, ok, _ := a.Limiter().TryAcquire(ctx, "fn", 1); ok {
		t.Fatal("a admitted with b's one running at the limit of 1")
	}
	rb()
	ra, ok, err = a.Limiter().TryAcquire(ctx, "fn", 1)
	if !ok || err != nil {
		t.Fatalf("a once nothing runs: %v %v", ok, err)
	}
	if _, ok, _ := b.Limiter().TryAcquire(ctx, "fn", 1); ok {
		t.Fatal("b admitted while a runs the one")
	}
	// Zero admits nothing, and the share a held goes back as it ends.
	if _, ok, err := b.Limiter().TryAcquire(ctx, "fn", 0); ok || err != nil {
		t.Fatalf("b with a limit of 0: %v %v", ok, err)
	}
	ra()
	if _, ok, err := a.Limiter().TryAcquire(ctx, "fn", 0); ok || err != nil {
		t.Fatalf("a with a limit of 0: %v %v", ok, err)
	}
	eventually(t, 5*time.Second, "a gives its share back", func() bool {
		var sum int
		err := a.pool.QueryRow(ctx, `SELECT coalesce(sum(share), 0) FROM cluster_shares WHERE scope = 'fn'`).Scan(&sum)
		return err == nil && sum == 0
	})
}

// TestLapsedLease: a node whose lease lapsed in the database (a pause)
// registers again at its next heartbeat holding nothing, in the database
// and here, while what it runs runs on.
func TestLapsedLease(t *testing.T) {
	url := testkit.Postgres(t)
	a := join(t, url, "a")
	ctx := context.Background()
	rel, err := a.Limiter().Acquire(ctx, "fn", 5)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.pool.Exec(ctx, `UPDATE cluster_nodes SET expires = now() - interval '1 second' WHERE id = 'a'`); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "a registers again", func() bool {
		var share int
		err := a.pool.QueryRow(ctx, `SELECT coalesce(sum(share), 0) FROM cluster_shares WHERE node = 'a'`).Scan(&share)
		held, use := a.Limiter().Held("fn")
		return err == nil && share == 0 && held == 0 && use == 1 && len(a.Members()) == 1
	})
	// It takes share again, counting what still runs.
	r2, ok, err := a.Limiter().TryAcquire(ctx, "fn", 5)
	if !ok || err != nil {
		t.Fatal(ok, err)
	}
	var share int
	if err := a.pool.QueryRow(ctx, `SELECT share FROM cluster_shares WHERE node = 'a'`).Scan(&share); err != nil || share < 2 {
		t.Fatalf("share after registering again = %d, %v; want at least the 2 running", share, err)
	}
	rel()
	r2()
}

// TestOwner: every node names the same owner for a key; keys spread over
// the nodes; a node leaving moves only the keys it owned.
func TestOwner(t *testing.T) {
	url := testkit.Postgres(t)
	nodes := []*member{join(t, url, "a"), join(t, url, "b"), join(t, url, "c")}
	ctx := context.Background()
	for _, n := range nodes {
		if err := n.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
	}
	owners := map[string]string{}
	ranks := map[string][]string{}
	per := map[string]int{}
	for i := range 300 {
		key := fmt.Sprintf("arn:aws:lambda:us-east-1:000000000000:function:f%d:1", i)
		o, self := nodes[0].Owner(key)
		for _, n := range nodes[1:] {
			if o2, self2 := n.Owner(key); o2.ID != o.ID || self2 != (o.ID == n.ID()) {
				t.Fatalf("%s: %s says %s, %s says %s", key, nodes[0].ID(), o.ID, n.ID(), o2.ID)
			}
		}
		rank := nodes[0].Rank(key)
		if len(rank) != 3 || rank[0].ID != o.ID || rank[1].ID == rank[2].ID || rank[1].ID == o.ID || rank[2].ID == o.ID {
			t.Fatalf("%s: rank %v, owner %s", key, ids(rank), o.ID)
		}
		ranks[key] = ids(rank)
		if self != (o.ID == "a") {
			t.Fatalf("self = %v for owner %s on a", self, o.ID)
		}
		owners[key] = o.ID
		per[o.ID]++
	}
	for _, n := range nodes {
		if per[n.ID()] < 50 {
			t.Fatalf("keys per node: %v", per)
		}
	}
	if err := nodes[2].Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := nodes[0].Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	for key, was := range owners {
		o, _ := nodes[0].Owner(key)
		if was != "c" && o.ID != was {
			t.Fatalf("%s moved from %s to %s when c left", key, was, o.ID)
		}
		if o.ID == "c" {
			t.Fatalf("%s still owned by c", key)
		}
		// The others keep their order: c's keys go to the next in rank.
		want := slices.DeleteFunc(slices.Clone(ranks[key]), func(id string) bool { return id == "c" })
		if got := ids(nodes[0].Rank(key)); !slices.Equal(got, want) {
			t.Fatalf("%s: rank %v after c left, want %v", key, got, want)
		}
	}
}
