package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Bolt is the embedded store: a single bbolt file, crash-safe (copy-on-write
// B+tree, fsync on commit), pure Go.
type Bolt struct {
	db *bolt.DB
}

// OpenBolt opens (or creates) the store file at path.
func OpenBolt(path string) (*Bolt, error) {
	// bbolt locks the file: a second lambdad on the same data directory
	// waits briefly, then says so instead of sharing it.
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("open store %s: it is locked: another lambdad is using this data directory", path)
	}
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return &Bolt{db: db}, nil
}

func (b *Bolt) View(ctx context.Context, fn func(Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return b.db.View(func(t *bolt.Tx) error { return fn(boltTx{t}) })
}

func (b *Bolt) Update(ctx context.Context, fn func(Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return b.db.Update(func(t *bolt.Tx) error { return fn(boltTx{t}) })
}

func (b *Bolt) Close() error { return b.db.Close() }

type boltTx struct{ t *bolt.Tx }

func (x boltTx) Get(bucket, key string) []byte {
	bk := x.t.Bucket([]byte(bucket))
	if bk == nil {
		return nil
	}
	return bk.Get([]byte(key))
}

func (x boltTx) Put(bucket, key string, val []byte) error {
	bk, err := x.t.CreateBucketIfNotExists([]byte(bucket))
	if err != nil {
		return err
	}
	return bk.Put([]byte(key), val)
}

func (x boltTx) Delete(bucket, key string) error {
	bk := x.t.Bucket([]byte(bucket))
	if bk == nil {
		return nil
	}
	return bk.Delete([]byte(key))
}

func (x boltTx) Scan(bucket, prefix, after string, fn func(string, []byte) bool) error {
	bk := x.t.Bucket([]byte(bucket))
	if bk == nil {
		return nil
	}
	c := bk.Cursor()
	p := []byte(prefix)
	var k, v []byte
	if after != "" && after >= prefix {
		k, v = c.Seek([]byte(after))
		if k != nil && string(k) == after {
			k, v = c.Next()
		}
	} else {
		k, v = c.Seek(p)
	}
	for ; k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
		if !fn(string(k), v) {
			break
		}
	}
	return nil
}

func (x boltTx) Count(bucket, prefix string) int {
	n := 0
	x.Scan(bucket, prefix, "", func(string, []byte) bool { n++; return true })
	return n
}
