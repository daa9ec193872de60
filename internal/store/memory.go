package store

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
)

// Memory is a Store held in memory, for tests of the code above the store:
// ordered like Bolt, with transactions that see a consistent state and
// commit whole or not at all. Writers are serialized; readers share.
type Memory struct {
	mu      sync.RWMutex
	buckets map[string]*memBucket
}

// memBucket keeps its keys sorted, so that Scan is in key order.
type memBucket struct {
	keys []string
	vals map[string][]byte
}

// NewMemory makes an empty in-memory store.
func NewMemory() *Memory { return &Memory{buckets: map[string]*memBucket{}} }

func (m *Memory) View(ctx context.Context, fn func(Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	return fn(&memTx{buckets: m.buckets})
}

// Update runs fn on a copy of the state, which replaces it only when fn
// succeeds: a failed transaction leaves nothing behind.
func (m *Memory) Update(ctx context.Context, fn func(Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	tx := &memTx{buckets: make(map[string]*memBucket, len(m.buckets)), writable: true}
	for name, b := range m.buckets {
		tx.buckets[name] = &memBucket{keys: slices.Clone(b.keys), vals: cloneVals(b.vals)}
	}
	if err := fn(tx); err != nil {
		return err
	}
	m.buckets = tx.buckets
	return nil
}

func (m *Memory) Close() error { return nil }

func cloneVals(v map[string][]byte) map[string][]byte {
	out := make(map[string][]byte, len(v))
	for k, x := range v {
		out[k] = x // values are never changed in place: Put stores a copy
	}
	return out
}

type memTx struct {
	buckets  map[string]*memBucket
	writable bool
}

func (t *memTx) Get(bucket, key string) []byte {
	b := t.buckets[bucket]
	if b == nil {
		return nil
	}
	return b.vals[key]
}

func (t *memTx) Put(bucket, key string, val []byte) error {
	if !t.writable {
		return errReadOnly
	}
	b := t.buckets[bucket]
	if b == nil {
		b = &memBucket{vals: map[string][]byte{}}
		t.buckets[bucket] = b
	}
	if _, ok := b.vals[key]; !ok {
		i, _ := slices.BinarySearch(b.keys, key)
		b.keys = slices.Insert(b.keys, i, key)
	}
	// Like bbolt, a stored value is never nil: an empty one reads as empty.
	b.vals[key] = append([]byte{}, val...)
	return nil
}

func (t *memTx) Delete(bucket, key string) error {
	if !t.writable {
		return errReadOnly
	}
	b := t.buckets[bucket]
	if b == nil {
		return nil
	}
	if _, ok := b.vals[key]; !ok {
		return nil
	}
	delete(b.vals, key)
	i, _ := slices.BinarySearch(b.keys, key)
	b.keys = slices.Delete(b.keys, i, i+1)
	return nil
}

func (t *memTx) Scan(bucket, prefix, after string, fn func(string, []byte) bool) error {
	b := t.buckets[bucket]
	if b == nil {
		return nil
	}
	// fn may write to the bucket: iterate over the keys as they were.
	keys := b.keys
	var i int
	if after != "" && after >= prefix {
		var found bool
		i, found = slices.BinarySearch(keys, after)
		if found {
			i++
		}
	} else {
		i, _ = slices.BinarySearch(keys, prefix)
	}
	keys = slices.Clone(keys[i:])
	for _, k := range keys {
		if !strings.HasPrefix(k, prefix) {
			break
		}
		v, ok := b.vals[k]
		if !ok {
			continue // deleted by fn meanwhile
		}
		if !fn(k, v) {
			break
		}
	}
	return nil
}

func (t *memTx) Count(bucket, prefix string) int {
	n := 0
	t.Scan(bucket, prefix, "", func(string, []byte) bool { n++; return true })
	return n
}

var errReadOnly = errors.New("store: write in a read-only transaction")
