// Package store persists lambdad's metadata. The control plane sees only the
// small Store/Tx interfaces, so another engine (PostgreSQL) can replace the
// embedded one without touching the rules.
package store

import (
	"context"
)

// Store runs transactions over named buckets of ordered keys.
type Store interface {
	// View runs fn in a read-only transaction.
	View(ctx context.Context, fn func(Tx) error) error
	// Update runs fn in a read-write transaction, committed durably (fsynced)
	// before Update returns nil; an error from fn rolls everything back.
	Update(ctx context.Context, fn func(Tx) error) error
	Close() error
}

// Batcher is a Store with group commit (Bolt.Batch): Update's contract,
// except that fn may run more than once.
type Batcher interface {
	Batch(ctx context.Context, fn func(Tx) error) error
}

// Tx is one transaction. Values returned by Get are valid only inside it.
type Tx interface {
	Get(bucket, key string) []byte
	Put(bucket, key string, val []byte) error
	Delete(bucket, key string) error
	// Scan visits keys with prefix in order, starting after `after` (or at
	// the first key when after is ""), until fn returns false.
	Scan(bucket, prefix, after string, fn func(key string, val []byte) bool) error
	// Count counts keys with prefix.
	Count(bucket, prefix string) int
}
