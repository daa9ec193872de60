package main

import (
	"strings"
	"testing"
	"time"

	"github.com/lambdad/lambdad/internal/cluster"
)

// TestClusterSettings checks --cluster, --advertise and --heartbeat (and
// their variables): a postgres:// URL, an http(s) address, an advertised
// address derivable from --listen, a heartbeat of 100ms at least.
func TestClusterSettings(t *testing.T) {
	cfg, _, err := parseSettings(nil, lookupIn(nil))
	if err != nil || cfg.Cluster.URL != "" || cfg.Cluster.Heartbeat != cluster.DefaultHeartbeat {
		t.Fatalf("defaults: %+v %v", cfg.Cluster, err)
	}
	env := map[string]string{"LAMBDAD_CLUSTER": "postgres://u:p@db:5432/lambdad", "LAMBDAD_HEARTBEAT": "500ms", "LAMBDAD_LISTEN": "10.0.0.5:9001"}
	cfg, _, err = parseSettings(nil, lookupIn(env))
	if err != nil || cfg.Cluster.URL != env["LAMBDAD_CLUSTER"] || cfg.Cluster.Heartbeat != 500*time.Millisecond ||
		!strings.HasPrefix(cfg.Cluster.Version, "lambdad ") {
		t.Fatalf("from the environment: %+v %v", cfg.Cluster, err)
	}
	cfg, _, err = parseSettings([]string{"--listen", "0.0.0.0:9001", "--advertise", "http://node1.internal:9001"}, lookupIn(env))
	if err != nil || cfg.Cluster.Advertise != "http://node1.internal:9001" {
		t.Fatalf("--advertise: %+v %v", cfg.Cluster, err)
	}
	for _, bad := range [][]string{
		{"--listen", "0.0.0.0:9001"},             // nobody can reach 0.0.0.0
		{"--listen", ":9001"},                    // nor every interface unnamed
		{"--advertise", "node1:9001"},            // not a URL
		{"--advertise", "ftp://node1:9001"},      // not http
		{"--advertise", "http://node1:9001/api"}, // a path
		{"--cluster", "mysql://db/lambdad"},
		{"--heartbeat", "10ms"},
	} {
		if _, _, err := parseSettings(bad, lookupIn(env)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, _, err := parseSettings([]string{"--advertise", "http://node1:9001"}, lookupIn(nil)); err == nil {
		t.Error("--advertise without --cluster accepted")
	}
}
