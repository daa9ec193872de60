package durable

import (
	"context"
	"encoding/hex"
	"strings"

	"github.com/lambdad/lambdad/internal/store"
)

// Keys of the durable buckets hold execution ids (UUIDs) many times over:
// about 15 keys per execution. idKeys stores each UUID segment of such a
// key ("/"-separated) as its 16 bytes behind a 0 byte, 17 bytes instead of
// 36, and gives callers back the text form: the rest of the package sees
// only text keys. Byte order is kept (hex digits sort as their values), so
// scans by time, by function and by prefix run as before. A segment that
// itself begins with byte 0 or 1 (an operation id could) is escaped with a
// leading 1.
type idKeys struct{ st store.Store }

// keyed wraps st so that durable keys are stored compactly.
func keyed(st store.Store) store.Store { return idKeys{st} }

const (
	idMark   = 0
	idEscape = 1
	idLen    = 36
)

func (k idKeys) View(ctx context.Context, fn func(store.Tx) error) error {
	return k.st.View(ctx, func(tx store.Tx) error { return fn(idTx{tx}) })
}

func (k idKeys) Update(ctx context.Context, fn func(store.Tx) error) error {
	return k.st.Update(ctx, func(tx store.Tx) error { return fn(idTx{tx}) })
}

// Batch groups commits when the store does; otherwise it is Update.
func (k idKeys) Batch(ctx context.Context, fn func(store.Tx) error) error {
	if b, ok := k.st.(store.Batcher); ok {
		return b.Batch(ctx, func(tx store.Tx) error { return fn(idTx{tx}) })
	}
	return k.Update(ctx, fn)
}

func (k idKeys) Close() error { return k.st.Close() }

type idTx struct{ tx store.Tx }

func durableBucket(b string) bool { return strings.HasPrefix(b, "durable-") }

func (t idTx) Get(b, key string) []byte {
	if durableBucket(b) {
		key = packKey(key)
	}
	return t.tx.Get(b, key)
}

func (t idTx) Put(b, key string, val []byte) error {
	if durableBucket(b) {
		key = packKey(key)
	}
	return t.tx.Put(b, key, val)
}

func (t idTx) Delete(b, key string) error {
	if durableBucket(b) {
		key = packKey(key)
	}
	return t.tx.Delete(b, key)
}

func (t idTx) Scan(b, prefix, after string, fn func(string, []byte) bool) error {
	if !durableBucket(b) {
		return t.tx.Scan(b, prefix, after, fn)
	}
	if after != "" {
		after = packKey(after)
	}
	return t.tx.Scan(b, packKey(prefix), after, func(key string, val []byte) bool {
		return fn(unpackKey(key), val)
	})
}

func (t idTx) Count(b, prefix string) int {
	if durableBucket(b) {
		prefix = packKey(prefix)
	}
	return t.tx.Count(b, prefix)
}

// packKey stores key's UUID segments as idMark and their 16 bytes.
func packKey(key string) string {
	var out []byte
	for i, seg := range strings.Split(key, "/") {
		if i > 0 {
			out = append(out, '/')
		}
		switch {
		case isUUID(seg):
			out = append(out, idMark)
			h := strings.ReplaceAll(seg, "-", "")
			out, _ = hex.AppendDecode(out, []byte(h)) // cannot fail: isUUID checked it
		case seg != "" && (seg[0] == idMark || seg[0] == idEscape):
			out = append(append(out, idEscape), seg...)
		default:
			out = append(out, seg...)
		}
	}
	return string(out)
}

// unpackKey reverses packKey.
func unpackKey(key string) string {
	var out []byte
	for start := true; key != ""; {
		switch {
		case start && key[0] == idMark && len(key) >= 17:
			h := hex.EncodeToString([]byte(key[1:17]))
			out = append(out, h[:8]+"-"+h[8:12]+"-"+h[12:16]+"-"+h[16:20]+"-"+h[20:]...)
			key, start = key[17:], false
			continue
		case start && key[0] == idEscape:
			key = key[1:]
		}
		c := key[0]
		out = append(out, c)
		key, start = key[1:], c == '/'
	}
	return string(out)
}

// isUUID says s is a UUID in its canonical, lower-case text form.
func isUUID(s string) bool {
	if len(s) != idLen {
		return false
	}
	for i := range len(s) {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
				return false
			}
		}
	}
	return true
}
