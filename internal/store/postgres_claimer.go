package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Claim is Claimer's: the selection is FOR UPDATE SKIP LOCKED, in a READ
// COMMITTED transaction, the level at which SKIP LOCKED splits a queue
// among nodes without serialization failures (fn must not run twice, so a
// claim is never retried). fn's writes to the rows it was handed are safe:
// the transaction holds their locks until it ends.
func (p *Postgres) Claim(ctx context.Context, bucket, prefix, upTo string, limit int, fn func(Tx, string, []byte) (bool, error)) error {
	if limit <= 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	conn, err := p.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	defer conn.Release()
	tx := &pgTx{ctx: ctx, c: conn.Conn(), write: true, claim: true}
	q := `SELECT key, val FROM lambdad_kv WHERE bucket = $1 AND key >= $2`
	args := []any{bucket, []byte(prefix)}
	if end := claimEnd(prefix, upTo); end != "" {
		q += ` AND key < $3`
		args = append(args, []byte(end))
	}
	q += fmt.Sprintf(` ORDER BY key LIMIT %d FOR UPDATE SKIP LOCKED`, limit)
	type row struct {
		k string
		v []byte
	}
	var sel []row
	tx.send(q, args, func(rows pgx.Rows) error {
		for rows.Next() {
			var k, v []byte
			if err := rows.Scan(&k, &v); err != nil {
				return err
			}
			sel = append(sel, row{string(k), v})
		}
		return nil
	})
	var ferr error
	for _, r := range sel {
		if tx.err != nil {
			break
		}
		more, err := fn(tx, r.k, r.v)
		if err != nil {
			ferr = err
			break
		}
		if !more {
			break
		}
	}
	if tx.err == nil && ferr == nil {
		tx.commit(p.node)
	}
	if tx.err != nil || ferr != nil {
		if tx.begun {
			tx.rollback()
		}
		if tx.err != nil {
			return tx.err
		}
		return ferr
	}
	return nil
}
