package server

import (
	"log/slog"

	"github.com/lambdad/lambdad/internal/fncreds"
	"github.com/lambdad/lambdad/internal/store"
)

// functionCredentials is the registry of the keys issued to environments.
// On a shared store a node publishes its keys there, so a function's call
// that reaches another node (a load balancer, a shared --public-url) is
// accepted; the embedded store's node keeps them in memory alone.
func functionCredentials(cfg Config, st store.Store, secret []byte, log *slog.Logger) (*fncreds.Registry, error) {
	if cfg.Store == "" {
		return fncreds.New(), nil
	}
	return fncreds.NewShared(fncreds.SharedConfig{Store: st, Node: cfg.NodeID, Key: secret, Logger: log})
}
