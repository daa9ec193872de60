package main

import (
	"fmt"
	"net/url"

	"github.com/lambdad/lambdad/internal/server"
)

// checkCluster refuses cluster settings that cannot work, at start.
func checkCluster(cfg *server.Config) error {
	c := &cfg.Cluster
	if c.URL == "" {
		// A node on a shared store is a member of its cluster.
		c.URL = cfg.Store
	}
	if c.URL == "" {
		if c.Advertise != "" {
			return fmt.Errorf("--advertise (LAMBDAD_ADVERTISE) without --cluster: a lone node has nobody to advertise to")
		}
		return nil
	}
	u, err := url.Parse(c.URL)
	if err != nil || u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return fmt.Errorf("--cluster (LAMBDAD_CLUSTER): want a postgres:// URL")
	}
	if c.Advertise != "" {
		u, err := url.Parse(c.Advertise)
		if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.Path != "" && u.Path != "/" {
			return fmt.Errorf("--advertise (LAMBDAD_ADVERTISE) %q: want http://HOST:PORT", c.Advertise)
		}
	} else if _, err := server.AdvertiseFor(cfg.Listen); err != nil {
		return fmt.Errorf("--cluster: %w", err)
	}
	c.Version = versionLine()
	return nil
}
