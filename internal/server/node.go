package server

import (
	"fmt"
	"os"
	"regexp"
	"time"

	"github.com/lambdad/lambdad/internal/invoke"
)

// maxLeaseTime bounds --lease-time: a restarted node looks that far ahead
// for the leases of its earlier run (invoke's releaseOwn).
const maxLeaseTime = time.Hour

var nodeIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// nodeDefaults fills in the node id (the host's name and a random suffix:
// unique per start, so that two nodes on one host never share one) and the
// lease time, and refuses bad ones.
func nodeDefaults(cfg *Config) error {
	if cfg.NodeID == "" {
		host, err := os.Hostname()
		if err != nil || !nodeIDPattern.MatchString(host) {
			host = "node"
		}
		cfg.NodeID = host[:min(len(host), 48)] + "-" + invoke.RandomNodeID()[len("node-"):]
	}
	if !nodeIDPattern.MatchString(cfg.NodeID) {
		return fmt.Errorf("--node-id %q: letters, digits, '.', '_' and '-' only, at most 64", cfg.NodeID)
	}
	// One name per node, in its leases and in the cluster's membership;
	// and a node on a shared store is a member of its cluster, so that
	// its concurrency is counted with the other nodes'.
	if cfg.Cluster.NodeID == "" {
		cfg.Cluster.NodeID = cfg.NodeID
	}
	if cfg.Cluster.URL == "" && cfg.Store != "" {
		cfg.Cluster.URL = cfg.Store
	}
	if cfg.LeaseTime == 0 {
		cfg.LeaseTime = invoke.DefaultLeaseTime
	}
	if cfg.LeaseTime < 10*time.Millisecond || cfg.LeaseTime > maxLeaseTime {
		return fmt.Errorf("--lease-time %s: not within [10ms, %s]", cfg.LeaseTime, maxLeaseTime)
	}
	return nil
}

// sharedLease is the lease time of work leased only when nodes share the
// store (durable invocations, destination deliveries): 0 on a store of
// this node's own.
func sharedLease(cfg Config) time.Duration {
	if cfg.Store == "" {
		return 0
	}
	return cfg.LeaseTime
}
