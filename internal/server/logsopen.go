package server

import (
	"context"
	"path/filepath"
	"time"

	"github.com/lambdad/lambdad/internal/logs"
	"github.com/lambdad/lambdad/internal/store"
)

// openLogs opens the functions' log store: PostgreSQL's when the metadata
// store is PostgreSQL, so every node of a cluster reads every node's logs;
// else the data directory's.
func (s *Server) openLogs() (logs.Logs, error) {
	cfg := s.cfg
	if pg, ok := s.store.(*store.Postgres); ok {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return logs.OpenPG(ctx, logs.PGConfig{Pool: pg.Pool(), Logger: s.log,
			Retention: cfg.LogRetention, MaxStreamBytes: cfg.LogStreamBytes, MaxGroupBytes: cfg.LogGroupBytes})
	}
	st, err := logs.Open(logs.Config{Dir: filepath.Join(cfg.DataDir, "logs"), Logger: s.log,
		Retention: cfg.LogRetention, MaxStreamBytes: cfg.LogStreamBytes, MaxGroupBytes: cfg.LogGroupBytes})
	if err != nil {
		return nil, err
	}
	return logs.Files(st), nil
}
