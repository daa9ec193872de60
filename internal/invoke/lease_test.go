package invoke_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lambdad/lambdad/internal/api/apitest"
	"github.com/lambdad/lambdad/internal/invoke"
	"github.com/lambdad/lambdad/internal/sandbox"
	"github.com/lambdad/lambdad/internal/store"
	"github.com/lambdad/lambdad/internal/testkit"
)

// marker appends the event's name to a file, one line per run, after a
// short sleep, so that runs overlap a node's crash.
const marker = `import time
def handler(event, context):
    time.sleep(event.get("sleep", 0))
    with open(event["out"], "a") as f:
        f.write(event["name"] + "\n")
    return "ok"
`

// node starts another data plane over env's store, as a second lambdad of
// a cluster would: its own sandbox, node id and context.
func node(t *testing.T, env *apitest.Env, ctx context.Context, id string, lease time.Duration) *invoke.Service {
	t.Helper()
	return nodeLogging(t, env, ctx, id, lease, nil)
}

func nodeLogging(t *testing.T, env *apitest.Env, ctx context.Context, id string, lease time.Duration, log *slog.Logger) *invoke.Service {
	t.Helper()
	sb, err := sandbox.NewManager(sandbox.Config{WorkDir: filepath.Join(t.TempDir(), "sandbox"), IdleTimeout: time.Minute, Isolation: "off"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close(context.Background()) })
	inv, err := invoke.New(ctx, invoke.Config{Functions: env.OwnFunctions(), Blobs: env.Blobs, Sandbox: sb, Runtimes: env.Runtimes, Store: env.Store,
		RetryBase: 50 * time.Millisecond, ThrottleBase: 50 * time.Millisecond, NodeID: id, LeaseTime: lease, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(inv.Close)
	inv.SetLambdaEndpoint(env.URL)
	return inv
}

// runs counts the lines of out by event name.
func runs(t *testing.T, out string) map[string]int {
	b, err := os.ReadFile(out)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, l := range strings.Fields(string(b)) {
		n[l]++
	}
	return n
}

// leased lists the queued events' owners, by event id.
func leased(t *testing.T, st store.Store) map[string]string {
	own := map[string]string{}
	for id, l := range leases(t, st) {
		own[id] = l.Owner
	}
	return own
}

type lease struct {
	Owner      string
	LeaseUntil time.Time
}

// leases are the queued events' leases, by event id.
func leases(t *testing.T, st store.Store) map[string]lease {
	out := map[string]lease{}
	err := st.View(context.Background(), func(tx store.Tx) error {
		return tx.Scan("events", "", "", func(_ string, raw []byte) bool {
			var e struct {
				ID string
				lease
			}
			if json.Unmarshal(raw, &e) == nil && e.Owner != "" {
				out[e.ID] = e.lease
			}
			return true
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestEventLeasesTwoNodes: two nodes share one store and its Event queue.
// Both run its events, none twice; when one crashes, the other takes its
// leased events over once the leases run out, and every event runs once,
// but for those the dead node was running, which may have run before it
// could record so.
func TestEventLeasesTwoNodes(t *testing.T) {
	const lease = 400 * time.Millisecond
	ctxA, crashA := context.WithCancel(context.Background())
	defer crashA()
	env := apitest.New(t, apitest.Options{Ctx: ctxA, NodeID: "a", LeaseTime: lease, Shared: true})
	env.Python(t, "marker", marker)
	ctxB, stopB := context.WithCancel(context.Background())
	defer stopB()
	b := node(t, env, ctxB, "b", lease)

	out := filepath.Join(t.TempDir(), "runs")
	const n = 50
	ids := map[string]string{} // request id -> event name
	for i := range n {
		name := fmt.Sprintf("e%02d", i)
		payload, _ := json.Marshal(map[string]any{"out": out, "name": name, "sleep": 0.05})
		id := fmt.Sprintf("aaaaaaaa-0000-4000-8000-%012d", i)
		ids[id] = name
		// Queued through both nodes, as a load balancer would.
		via := env.Invoke
		if i%2 == 1 {
			via = b
		}
		if _, err := via.Invoke(context.Background(), apitest.Ref("marker", ""), payload, invoke.Options{Type: invoke.Event, RequestID: id}); err != nil {
			t.Fatal(err)
		}
	}
	// Crash a once some events ran, while it holds leases.
	owners := map[string]bool{}
	testkit.Eventually(t, 30*time.Second, "node a never held a lease after 10 runs", func() bool {
		for _, o := range leased(t, env.Store) {
			owners[o] = true
		}
		done := 0
		for _, c := range runs(t, out) {
			done += c
		}
		return done >= 10 && owners["a"] && slicesHasValue(leased(t, env.Store), "a")
	})
	crashA()
	env.Invoke.Close() // waits for a's workers, which record nothing once crashed
	window := map[string]bool{}
	for id, o := range leased(t, env.Store) {
		if o == "a" {
			window[ids[id]] = true
		}
	}
	crashed := time.Now()
	testkit.Eventually(t, 30*time.Second, "not every event ran after the crash", func() bool {
		for _, o := range leased(t, env.Store) {
			owners[o] = true
		}
		return len(runs(t, out)) == n && queued(t, env.Store) == 0
	})
	took := time.Since(crashed)
	time.Sleep(2 * lease) // a duplicate would show by now
	if !owners["b"] {
		t.Error("node b never held a lease")
	}
	got := runs(t, out)
	for _, name := range ids {
		switch c := got[name]; {
		case c == 1:
		case c == 2 && window[name]:
			t.Logf("%s ran twice: node a was running it when it crashed", name)
		default:
			t.Errorf("%s ran %d times (in the crash window: %v)", name, c, window[name])
		}
	}
	t.Logf("node a held %d leases when it crashed; the rest ran %s after", len(window), took.Round(time.Millisecond))
	if len(window) == 0 {
		t.Error("node a held no lease at its crash: the takeover went untested")
	}
}

// TestEventLeasesRestartReleasesOwn: a node that restarts under its id
// runs the events its earlier run had leased at once, without waiting for
// those leases to run out.
func TestEventLeasesRestartReleasesOwn(t *testing.T) {
	const lease = time.Hour
	ctxA, crashA := context.WithCancel(context.Background())
	defer crashA()
	env := apitest.New(t, apitest.Options{Ctx: ctxA, NodeID: "a", LeaseTime: lease, Shared: true})
	env.Python(t, "marker", marker)
	out := filepath.Join(t.TempDir(), "runs")
	payload, _ := json.Marshal(map[string]any{"out": out, "name": "slow", "sleep": 30})
	if _, err := env.Invoke.Invoke(context.Background(), apitest.Ref("marker", ""), payload, invoke.Options{Type: invoke.Event}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "the event was never leased", func() bool { return len(leased(t, env.Store)) == 1 })
	crashA()
	env.Invoke.Close()
	before := leases(t, env.Store)
	if len(before) != 1 {
		t.Fatalf("after the crash, leases %v", before)
	}
	// Another node waits for the hour-long lease; the same node does not.
	ctxB, stopB := context.WithCancel(context.Background())
	defer stopB()
	node(t, env, ctxB, "b", lease)
	time.Sleep(200 * time.Millisecond)
	if own := leased(t, env.Store); len(own) != 1 || slicesHasValue(own, "b") {
		t.Fatalf("node b took a live lease: %v", own)
	}
	ctxA2, stopA2 := context.WithCancel(context.Background())
	defer stopA2()
	node(t, env, ctxA2, "a", lease)
	// Released, the event is due: either node leases it anew.
	testkit.Eventually(t, 10*time.Second, "the restarted node did not release its earlier lease", func() bool {
		now := leases(t, env.Store)
		for id, l := range now {
			return !l.LeaseUntil.Equal(before[id].LeaseUntil)
		}
		return false
	})
}

func slicesHasValue(m map[string]string, v string) bool {
	for _, x := range m {
		if x == v {
			return true
		}
	}
	return false
}

// queued counts the events in the queue.
func queued(t *testing.T, st store.Store) int {
	n := 0
	st.View(context.Background(), func(tx store.Tx) error { n = tx.Count("events", ""); return nil })
	return n
}

// syncBuffer is a log's output, read while the log is written.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestEventLeaseLostWhileRunning: when another node takes an event over
// while its run goes on (here: its record is rewritten as another node's
// claim would), the run's node says so in its log and leaves the event to
// its new holder, which alone may end or retry it.
func TestEventLeaseLostWhileRunning(t *testing.T) {
	const lease = 300 * time.Millisecond
	ctxA, crashA := context.WithCancel(context.Background())
	env := apitest.New(t, apitest.Options{Ctx: ctxA, NodeID: "a", LeaseTime: lease, Shared: true})
	env.Python(t, "marker", marker)
	crashA() // node a takes no part
	env.Invoke.Close()
	var logged syncBuffer
	ctxB, stopB := context.WithCancel(context.Background())
	defer stopB()
	b := nodeLogging(t, env, ctxB, "b", lease, slog.New(slog.NewTextHandler(&logged, nil)))
	out := filepath.Join(t.TempDir(), "runs")
	payload, _ := json.Marshal(map[string]any{"out": out, "name": "slow", "sleep": 1})
	const id = "bbbbbbbb-0000-4000-8000-000000000001"
	if _, err := b.Invoke(context.Background(), apitest.Ref("marker", ""), payload, invoke.Options{Type: invoke.Event, RequestID: id}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "node b never leased the event", func() bool { return leased(t, env.Store)[id] == "b" })
	steal := time.Now().Add(time.Hour)
	err := env.Store.Update(context.Background(), func(tx store.Tx) error {
		var key string
		var rec map[string]any
		tx.Scan("events", "", "", func(k string, raw []byte) bool {
			key = k
			return json.Unmarshal(raw, &rec) != nil
		})
		if rec == nil {
			return fmt.Errorf("no event to steal")
		}
		rec["owner"], rec["leaseUntil"] = "x", steal
		raw, _ := json.Marshal(rec)
		if err := tx.Delete("events", key); err != nil {
			return err
		}
		return tx.Put("events", fmt.Sprintf("%020d/%s", steal.UnixNano(), id), raw)
	})
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 20*time.Second, "node b did not log the lease it lost", func() bool {
		return strings.Contains(logged.String(), "event ran past its lease")
	})
	if runs(t, out)["slow"] != 1 {
		t.Errorf("runs: %v", runs(t, out))
	}
	if own := leased(t, env.Store); own[id] != "x" {
		t.Errorf("node b touched the event it lost: leases %v", own)
	}
}

// TestEventLeasesCleanStopHandsOver: a node stopped cleanly (Close, with
// its context alive) gives its leases up, and another node runs the event
// its stop interrupted at once, not after the lease time.
func TestEventLeasesCleanStopHandsOver(t *testing.T) {
	const lease = time.Hour
	env := apitest.New(t, apitest.Options{NodeID: "a", LeaseTime: lease, Shared: true})
	env.Python(t, "marker", marker)
	out := filepath.Join(t.TempDir(), "runs")
	payload, _ := json.Marshal(map[string]any{"out": out, "name": "slow", "sleep": 2})
	if _, err := env.Invoke.Invoke(context.Background(), apitest.Ref("marker", ""), payload, invoke.Options{Type: invoke.Event}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "node a never leased the event", func() bool { return slicesHasValue(leased(t, env.Store), "a") })
	env.Invoke.Close()
	if own := leased(t, env.Store); len(own) != 0 || queued(t, env.Store) != 1 {
		t.Fatalf("after a clean stop: leases %v, %d queued", own, queued(t, env.Store))
	}
	ctxB, stopB := context.WithCancel(context.Background())
	defer stopB()
	node(t, env, ctxB, "b", lease)
	testkit.Eventually(t, 20*time.Second, "node b did not run the event node a gave up", func() bool {
		return runs(t, out)["slow"] >= 1 && queued(t, env.Store) == 0
	})
}
