package store

import (
	"context"
)

// Claimer is a Store that several processes may share (PostgreSQL), which
// lets them split work among themselves: each claims the due records of a
// queue without waiting for, or seeing, the records another is claiming.
// Work that must happen once (Event invokes, durable timers, pollers) is
// leased by rewriting its record in the claim's transaction.
//
// Claim runs one read-write transaction, committed as Update's is. In it,
// it selects up to limit keys of bucket that have prefix and sort before
// upTo ("" for no bound), in key order, locking each selected record until
// the transaction ends and skipping the records another transaction holds
// locked (written or claimed, not yet committed). Then it calls fn with
// each selected key and its value, in order, until fn returns false; fn may
// read and write anything through tx, the selected keys included. An error
// from fn rolls the whole transaction back and Claim returns it.
//
// The selection is made before fn runs: keys that fn (or anyone) writes
// into the range meanwhile are not visited, and a selected key that fn
// deleted or moved is not revisited. Keys compare as byte strings, as
// everywhere in Store.
//
// A PostgreSQL implementation is, in the transaction it commits:
//
//	SELECT key, val FROM kv
//	 WHERE bucket = $1 AND key >= $prefix
//	   AND key < $end  -- the lesser of upTo and prefixEnd(prefix), if any
//	 ORDER BY key
//	 LIMIT $limit
//	 FOR UPDATE SKIP LOCKED
//
// on a table whose key column sorts bytewise (COLLATE "C"), then fn on the
// rows. Writes that fn makes to a selected row do not wait (it holds the
// row's lock); to another row they lock as Update's do.
// The PostgreSQL store (postgres_claimer.go) runs it in READ COMMITTED, never retrying fn.
//
// Embedded stores (Bolt, Memory) are used by one process, whose writers
// are serialized: there Claim is Update over a scan, and nothing is ever
// skipped.
type Claimer interface {
	Claim(ctx context.Context, bucket, prefix, upTo string, limit int, fn func(tx Tx, key string, val []byte) (bool, error)) error
}

// Claim is s's Claim, or, for a Store that is not a Claimer, the same in an
// Update: right only when s serializes its writers, as the embedded stores
// do, which is why a shared store must be a Claimer.
func Claim(ctx context.Context, s Store, bucket, prefix, upTo string, limit int, fn func(tx Tx, key string, val []byte) (bool, error)) error {
	if c, ok := s.(Claimer); ok {
		return c.Claim(ctx, bucket, prefix, upTo, limit, fn)
	}
	return s.Update(ctx, func(tx Tx) error { return claimIn(tx, bucket, prefix, upTo, limit, fn) })
}

// claimIn selects the keys first (a cursor must not see fn's writes), then
// hands them to fn.
func claimIn(tx Tx, bucket, prefix, upTo string, limit int, fn func(Tx, string, []byte) (bool, error)) error {
	if limit <= 0 {
		return nil
	}
	type kv struct {
		k string
		v []byte
	}
	var sel []kv
	err := tx.Scan(bucket, prefix, "", func(k string, v []byte) bool {
		if upTo != "" && k >= upTo {
			return false
		}
		// A copy: fn's writes may move what the cursor pointed at.
		sel = append(sel, kv{k, append([]byte(nil), v...)})
		return len(sel) < limit
	})
	if err != nil {
		return err
	}
	for _, x := range sel {
		more, err := fn(tx, x.k, x.v)
		if err != nil {
			return err
		}
		if !more {
			break
		}
	}
	return nil
}

// Claim is Update over the selected keys: one process, serialized writers.
func (b *Bolt) Claim(ctx context.Context, bucket, prefix, upTo string, limit int, fn func(Tx, string, []byte) (bool, error)) error {
	return b.Update(ctx, func(tx Tx) error { return claimIn(tx, bucket, prefix, upTo, limit, fn) })
}

// Claim is Update over the selected keys: one process, serialized writers.
func (m *Memory) Claim(ctx context.Context, bucket, prefix, upTo string, limit int, fn func(Tx, string, []byte) (bool, error)) error {
	return m.Update(ctx, func(tx Tx) error { return claimIn(tx, bucket, prefix, upTo, limit, fn) })
}

// prefixEnd is the least string greater than every string with prefix
// ("" when there is none: prefix is empty or all 0xff bytes).
func prefixEnd(prefix string) string {
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1])
		}
	}
	return ""
}

// claimEnd is the exclusive upper bound of a claim: the lesser of upTo
// and prefix's end, "" when neither bounds it.
func claimEnd(prefix, upTo string) string {
	end := prefixEnd(prefix)
	if upTo != "" && (end == "" || upTo < end) {
		end = upTo
	}
	return end
}
