package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Bolt is the embedded store: a single bbolt file, crash-safe (copy-on-write
// B+tree, fsync on commit), pure Go.
type Bolt struct {
	db *bolt.DB
	// group holds the Batch calls waiting for the commit in flight.
	group struct {
		sync.Mutex
		queue   []*batchCall
		leading bool
	}
}

type batchCall struct {
	fn   func(Tx) error
	done chan error
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

// Batch is Update with group commit: the calls that arrive while a commit
// is in flight are committed together after it, in one transaction and one
// fsync, so concurrent writers are not bounded by one fsync each. Each
// call is still all or nothing: when one fn fails, the transaction is
// rolled back, that call answers its error, and the others run again
// without it. So fn may run more than once, and must keep its effects in
// tx (and reset what it returns at its start). A lone call commits at once,
// without waiting for company.
func (b *Bolt) Batch(ctx context.Context, fn func(Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c := &batchCall{fn: fn, done: make(chan error, 1)}
	g := &b.group
	g.Lock()
	g.queue = append(g.queue, c)
	lead := !g.leading
	g.leading = true
	g.Unlock()
	if lead {
		// The first caller commits groups until none waits; later ones
		// wait for its commit of theirs.
		for {
			g.Lock()
			calls := g.queue
			g.queue = nil
			if len(calls) == 0 {
				g.leading = false
				g.Unlock()
				break
			}
			g.Unlock()
			b.commitGroup(calls)
		}
	}
	return <-c.done
}

func (b *Bolt) commitGroup(calls []*batchCall) {
	for len(calls) > 0 {
		failed, ferr := -1, error(nil)
		err := b.db.Update(func(t *bolt.Tx) error {
			for i, c := range calls {
				if err := c.fn(boltTx{t}); err != nil {
					failed, ferr = i, err
					return err
				}
			}
			return nil
		})
		if failed < 0 {
			for _, c := range calls {
				c.done <- err // nil, or the commit's own failure
			}
			return
		}
		calls[failed].done <- ferr
		calls = append(calls[:failed:failed], calls[failed+1:]...)
	}
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
