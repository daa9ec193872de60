package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	bolt "go.etcd.io/bbolt"
)

// ErrNotEmpty is CopyToPostgres refusing a target that holds records.
var ErrNotEmpty = errors.New("the PostgreSQL store is not empty")

// CopyToPostgres copies every key of every bucket of b into p, in one
// transaction: the target ends up with all of them or none. A target that
// holds records already is refused, unless replace, when its records are
// deleted first (in the same transaction). It returns how many keys it
// copied.
func CopyToPostgres(ctx context.Context, b *Bolt, p *Postgres, replace bool) (int, error) {
	tx, err := p.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.Serializable})
	if err != nil {
		return 0, fmt.Errorf("postgres: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var busy bool
	if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM lambdad_kv)").Scan(&busy); err != nil {
		return 0, fmt.Errorf("postgres: %w", err)
	}
	if busy {
		if !replace {
			return 0, ErrNotEmpty
		}
		if _, err := tx.Exec(ctx, "DELETE FROM lambdad_kv"); err != nil {
			return 0, fmt.Errorf("postgres: %w", err)
		}
	}
	var buckets []string
	n := int64(0)
	err = b.db.View(func(bt *bolt.Tx) error {
		return bt.ForEach(func(name []byte, bk *bolt.Bucket) error {
			buckets = append(buckets, string(name))
			var rows [][]any
			err := bk.ForEach(func(k, v []byte) error {
				if v == nil {
					return fmt.Errorf("bucket %s: %q is a nested bucket, which lambdad does not write", name, k)
				}
				rows = append(rows, []any{string(name), k, v})
				return nil
			})
			if err != nil {
				return err
			}
			// COPY streams the rows: one round trip per bucket, not per key.
			// pgx encodes them during the call, while bbolt's pages are
			// still mapped.
			c, err := tx.CopyFrom(ctx, pgx.Identifier{"lambdad_kv"}, []string{"bucket", "key", "val"}, pgx.CopyFromRows(rows))
			n += c
			return err
		})
	})
	if err != nil {
		return 0, fmt.Errorf("copy: %w", err)
	}
	if len(buckets) > 0 {
		if _, err := tx.Exec(ctx, "SELECT pg_notify($1, $2)", changesChannel, p.node+"|"+strings.Join(buckets, ",")); err != nil {
			return 0, fmt.Errorf("postgres: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("postgres: %w", err)
	}
	return int(n), nil
}
