package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/lambdad/lambdad/internal/server"
	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

type health struct {
	Status string
	Node   struct{ ID, Address, Version string }
	Peers  []struct{ ID, Address string }
}

func getHealth(t *testing.T, base string) (health, string) {
	t.Helper()
	resp, err := http.Get(base + "/_lambdad/health")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var h health
	if resp.StatusCode != 200 || json.Unmarshal(b, &h) != nil {
		t.Fatalf("health: %d %s", resp.StatusCode, b)
	}
	return h, string(b)
}

// TestClusterHealth: three lambdads on one PostgreSQL each report
// themselves (with the address they listen at) and the two others; one
// that shuts down leaves the others' peers. A lone lambdad's health is
// what it was.
func TestClusterHealth(t *testing.T) {
	url := testkit.Postgres(t)
	var ds []*servertest.Daemon
	for _, id := range []string{"n1", "n2", "n3"} {
		ds = append(ds, servertest.StartLambdad(t, t.TempDir(), func(c *server.Config) {
			c.Cluster = server.ClusterConfig{URL: url, NodeID: id, Heartbeat: 100 * time.Millisecond, Version: "lambdad test"}
		}))
	}
	peerIDs := func(h health) []string {
		var s []string
		for _, p := range h.Peers {
			s = append(s, p.ID)
		}
		slices.Sort(s)
		return s
	}
	want := map[string][]string{"n1": {"n2", "n3"}, "n2": {"n1", "n3"}, "n3": {"n1", "n2"}}
	for i, d := range ds {
		id := []string{"n1", "n2", "n3"}[i]
		deadline := time.Now().Add(5 * time.Second)
		for {
			h, raw := getHealth(t, d.URL)
			if h.Status != "ok" || h.Node.ID != id || h.Node.Address != d.URL || h.Node.Version != "lambdad test" {
				t.Fatalf("%s: %s", id, raw)
			}
			if slices.Equal(peerIDs(h), want[id]) {
				for _, p := range h.Peers {
					if p.Address != ds[p.ID[1]-'1'].URL {
						t.Fatalf("%s's peer %s at %s", id, p.ID, p.Address)
					}
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %s", id, raw)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	ds[2].Stop()
	deadline := time.Now().Add(5 * time.Second)
	for {
		h, raw := getHealth(t, ds[0].URL)
		if slices.Equal(peerIDs(h), []string{"n2"}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("n3 stopped: %s", raw)
		}
		time.Sleep(20 * time.Millisecond)
	}

	lone := servertest.StartLambdad(t, t.TempDir(), nil)
	if _, raw := getHealth(t, lone.URL); raw != `{"status":"ok"}` {
		t.Fatalf("a lone lambdad's health: %s", raw)
	}
}
