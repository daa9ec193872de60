package server

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lambdad/lambdad/internal/functions"
	"github.com/lambdad/lambdad/internal/logs"
	"github.com/lambdad/lambdad/internal/store"
)

// IsPostgresURL reports whether a --store value names PostgreSQL.
func IsPostgresURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// openStore opens the metadata store cfg.Store names: PostgreSQL, shared by
// every node pointed at it, or (by default) bbolt in the data directory.
// It returns the key that signs code links with it, which every node of a
// shared store must agree on.
func openStore(cfg Config, log *slog.Logger) (store.Store, []byte, error) {
	if cfg.Store == "" {
		st, err := store.OpenBolt(filepath.Join(cfg.DataDir, "metadata.db"))
		if err != nil {
			return nil, nil, err
		}
		secret, err := loadSecret(filepath.Join(cfg.DataDir, "secret"))
		if err != nil {
			st.Close()
			return nil, nil, err
		}
		return st, secret, nil
	}
	if !IsPostgresURL(cfg.Store) {
		return nil, nil, fmt.Errorf("--store %q: want a postgres:// URL, or nothing for the data directory's own store", cfg.Store)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := store.OpenPostgres(ctx, cfg.Store, log)
	if err != nil {
		return nil, nil, fmt.Errorf("--store: %w", err)
	}
	secret, err := sharedSecret(ctx, st)
	if err != nil {
		st.Close()
		return nil, nil, fmt.Errorf("--store: %w", err)
	}
	return st, secret, nil
}

// bLambdad holds lambdad's own settings in a shared store.
const bLambdad = "lambdad"

// sharedSecret reads the code-link key from the store, making it if no node
// did yet: the transaction makes the first node's key everyone's.
func sharedSecret(ctx context.Context, st store.Store) ([]byte, error) {
	var secret []byte
	err := st.Update(ctx, func(tx store.Tx) error {
		if b := tx.Get(bLambdad, "secret"); len(b) == 32 {
			secret = append([]byte(nil), b...)
			return nil
		}
		secret = make([]byte, 32)
		rand.Read(secret)
		return tx.Put(bLambdad, "secret", secret)
	})
	return secret, err
}

// MigrateStore copies the bbolt store of the data directory dataDir into the
// PostgreSQL store at url, with the data directory's code-link key, so
// links handed out before still work, and then the data directory's
// function logs into PostgreSQL's log tables. A target with records or log
// groups is refused unless replace. It returns what it copied.
func MigrateStore(ctx context.Context, dataDir, url string, replace bool, log *slog.Logger) (Migrated, error) {
	var m Migrated
	path := filepath.Join(dataDir, "metadata.db")
	if _, err := os.Stat(path); err != nil {
		return m, fmt.Errorf("--from: %w", err)
	}
	if !IsPostgresURL(url) {
		return m, fmt.Errorf("--to %q: want a postgres:// URL", url)
	}
	b, err := store.OpenBolt(path)
	if err != nil {
		return m, err
	}
	defer b.Close()
	p, err := store.OpenPostgres(ctx, url, log)
	if err != nil {
		return m, fmt.Errorf("--to: %w", err)
	}
	defer p.Close()
	// Function logs, when the data directory has any, are refused before
	// anything is copied, as records are.
	logDir := filepath.Join(dataDir, "logs")
	_, statErr := os.Stat(logDir)
	hasLogs := statErr == nil
	if hasLogs && !replace {
		empty, err := logs.PGLogsEmpty(ctx, p.Pool())
		if err != nil {
			return m, err
		}
		if !empty {
			return m, logs.ErrPGNotEmpty
		}
	}
	m.Records, err = store.CopyToPostgres(ctx, b, p, replace)
	if err != nil {
		return m, err
	}
	if secret, err := os.ReadFile(filepath.Join(dataDir, "secret")); err == nil && len(secret) == 32 {
		err := p.Update(ctx, func(tx store.Tx) error { return tx.Put(bLambdad, "secret", secret) })
		if err != nil {
			return m, err
		}
	}
	if !hasLogs {
		return m, nil
	}
	// No bounds: the copy must not delete what it copies.
	ls, err := logs.Open(logs.Config{Dir: logDir, MaxStreamBytes: math.MaxInt64, Logger: log})
	if err != nil {
		return m, fmt.Errorf("--from logs: %w", err)
	}
	defer ls.Close(context.WithoutCancel(ctx))
	m.LogGroups, m.LogEvents, err = logs.CopyToPG(ctx, ls, p.Pool(), replace)
	return m, err
}

// Migrated is what MigrateStore copied.
type Migrated struct {
	Records              int // the metadata store's
	LogGroups, LogEvents int // function logs
}

// watchStore drops this node's caches of what other nodes sharing the
// store change.
func watchStore(st store.Store, fs *functions.Service) {
	if w, ok := st.(store.Watcher); ok {
		w.Watch(fs.StoreChanged)
	}
}
