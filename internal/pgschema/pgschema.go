// Package pgschema creates and migrates lambdad's tables in PostgreSQL.
//
// Each component (the metadata store, cluster membership, …) owns an ordered
// list of steps; the schema records how many of them ran, per component, in
// lambdad_schema. Migrate holds a session advisory lock while it works, so
// nodes that start at once apply each step exactly once, and a node of an
// older lambdad refuses a schema that a newer one moved past.
package pgschema

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// lockKey is the advisory lock every lambdad node takes to migrate: the
// bytes of "lambdad!" read as a big-endian int64, unlikely to collide with an
// application sharing the database.
const lockKey int64 = 0x6c616d6264616421

// Connect opens a pool for url and checks that the server answers.
func Connect(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %s: %w", cfg.ConnConfig.Host, err)
	}
	return pool, nil
}

// Migrate applies the steps of component that have not run yet, each in a
// transaction of its own together with the record of it.
func Migrate(ctx context.Context, pool *pgxpool.Pool, component string, steps []string) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", lockKey); err != nil {
		return fmt.Errorf("postgres: lock the schema: %w", err)
	}
	defer func() {
		// A fresh context: the unlock must happen even when ctx ended, or
		// the pooled session would keep the lock.
		_, _ = conn.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", lockKey)
	}()
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS lambdad_schema (
		component text PRIMARY KEY,
		version integer NOT NULL)`); err != nil {
		return fmt.Errorf("postgres: create lambdad_schema: %w", err)
	}
	var have int
	err = conn.QueryRow(ctx, "SELECT version FROM lambdad_schema WHERE component = $1", component).Scan(&have)
	if errors.Is(err, pgx.ErrNoRows) {
		have = 0
	} else if err != nil {
		return fmt.Errorf("postgres: read the %s schema version: %w", component, err)
	}
	if have > len(steps) {
		return fmt.Errorf("postgres: the %s schema is at version %d, newer than this lambdad knows (%d): upgrade lambdad", component, have, len(steps))
	}
	for v := have; v < len(steps); v++ {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, steps[v]); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO lambdad_schema (component, version) VALUES ($1, $2)
				ON CONFLICT (component) DO UPDATE SET version = EXCLUDED.version`, component, v+1)
			return err
		})
		if err != nil {
			return fmt.Errorf("postgres: %s schema step %d: %w", component, v+1, err)
		}
	}
	return nil
}
