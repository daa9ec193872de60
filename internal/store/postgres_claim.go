package store

import (
	"context"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// ClaimRowsPG is the selection of a PostgreSQL store's Claim (see
// Claimer), kept apart from the store itself so that it needs nothing of
// it but its table. It assumes the store keeps each bucket's records as
// rows of
//
//	table (bucket text, key text COLLATE "C", val bytea NOT NULL,
//	       PRIMARY KEY (bucket, key))
//
// (COLLATE "C": keys compare bytewise, as Store's do). In tx, it selects
// up to limit rows of bucket whose key has prefix and sorts before upTo
// ("" for no bound), in key order, locking them FOR UPDATE and skipping the
// rows other transactions hold. The store's Claim is then: begin tx, call
// ClaimRowsPG, call fn with each row through the store's Tx on the same
// tx, commit (roll back when fn fails). It must not retry fn on a
// serialization failure: fn's callers count on one call per claimed key.
func ClaimRowsPG(ctx context.Context, tx pgx.Tx, table, bucket, prefix, upTo string, limit int) (keys []string, vals [][]byte, err error) {
	if limit <= 0 {
		return nil, nil, nil
	}
	// The prefix's end bounds the index range; it is not always text
	// (…\x7f's end is \x80), and then only upTo does. $3 = '' stands for
	// "no bound": no key sorts below the empty string.
	end := claimEnd(prefix, upTo)
	if !utf8.ValidString(end) {
		end = upTo
	}
	sql := `SELECT key, val FROM ` + pgx.Identifier{table}.Sanitize() + `
		WHERE bucket = $1 AND key >= $2 AND starts_with(key, $2) AND ($3 = '' OR key < $3)
		ORDER BY key LIMIT $4
		FOR UPDATE SKIP LOCKED`
	rows, err := tx.Query(ctx, sql, bucket, prefix, end, limit)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var v []byte
		if err := rows.Scan(&k, &v); err != nil {
			return nil, nil, err
		}
		keys, vals = append(keys, k), append(vals, v)
	}
	return keys, vals, rows.Err()
}
