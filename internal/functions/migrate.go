package functions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/lambdad/lambdad/internal/store"
)

// migrations[n] upgrades a store from schema n to n+1, inside Migrate's
// transaction.
var migrations = [SchemaVersion]func(tx store.Tx) (int, error){
	0: migrateV0,
	1: migrateV1,
}

// Migrate brings the store's records to SchemaVersion, in one transaction,
// before anything reads them. An up-to-date store is not written to; a store
// written by a newer lambdad is refused, since this one would misread it.
func Migrate(ctx context.Context, st store.Store, log *slog.Logger) error {
	var from int
	err := st.View(ctx, func(tx store.Tx) error {
		var err error
		from, err = schemaOf(tx.Get(bMeta, metaKeySchema))
		return err
	})
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if from > SchemaVersion {
		return fmt.Errorf("store: the data directory has schema version %d, newer than this lambdad's %d: it was written by a newer lambdad; run that one (or a newer one)", from, SchemaVersion)
	}
	if from == SchemaVersion {
		return nil
	}
	start := time.Now()
	var n int
	err = st.Update(ctx, func(tx store.Tx) error {
		// Read again: another node may have upgraded it meanwhile, and
		// the transaction must see what it upgrades (it may run again).
		n = 0
		v, err := schemaOf(tx.Get(bMeta, metaKeySchema))
		if err != nil {
			return err
		}
		for ; v < SchemaVersion; v++ {
			k, err := migrations[v](tx)
			if err != nil {
				return fmt.Errorf("upgrade schema %d to %d: %w", v, v+1, err)
			}
			n += k
		}
		return tx.Put(bMeta, metaKeySchema, []byte(strconv.Itoa(SchemaVersion)))
	})
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if n > 0 && log != nil {
		log.Info("store upgraded", "from", from, "to", SchemaVersion, "records", n, "took", time.Since(start))
	}
	return nil
}

// rewrite replaces every value of bucket with conv's; values are copied out
// first, since a bbolt value is not valid after the bucket changes.
func rewrite(tx store.Tx, bucket string, conv func(key string, raw []byte) ([]byte, error)) (int, error) {
	type kv struct {
		k string
		v []byte
	}
	var all []kv
	tx.Scan(bucket, "", "", func(k string, v []byte) bool {
		all = append(all, kv{k, append([]byte(nil), v...)})
		return true
	})
	for _, e := range all {
		out, err := conv(e.k, e.v)
		if err != nil {
			return 0, fmt.Errorf("%s %s: %w", bucket, e.k, err)
		}
		if err := tx.Put(bucket, e.k, out); err != nil {
			return 0, err
		}
	}
	return len(all), nil
}

// errNotV0: v0 always stored FunctionName; a record without it was written
// by a later schema (its meta key lost), and reading it as v0 would lose data.
var errNotV0 = errors.New("not a schema 0 record: the store's schema version is missing")

// migrateV0 stores function configurations and URL CORS settings in
// lambdad's own form instead of spec's JSON. Every other bucket is the same
// in v0 and v1.
func migrateV0(tx store.Tx) (int, error) {
	n, err := rewrite(tx, bFunctions, func(_ string, raw []byte) ([]byte, error) {
		var r v0Function
		if err := json.Unmarshal(raw, &r); err != nil {
			return nil, err
		}
		if r.Latest.Config.FunctionName == nil {
			return nil, errNotV0
		}
		s := storedFunction{Latest: r.Latest.v1(), Tags: r.Tags, LastVersion: r.LastVersion, Reserved: r.Reserved}
		if p := r.LastPublish; p != nil {
			mark := *p
			// The digest of $LATEST when it was last published: when $LATEST
			// is still the same, the v1 digest says so, so publishing again
			// without a change still returns that version.
			if old, err := r.Latest.digest(); err == nil && old == p.Digest {
				mark.Digest = s.Latest.digest()
			}
			s.LastPublish = &mark
		}
		return json.Marshal(s)
	})
	if err != nil {
		return 0, err
	}
	m, err := rewrite(tx, bVersions, func(_ string, raw []byte) ([]byte, error) {
		var v v0Version
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, err
		}
		if v.Config.FunctionName == nil {
			return nil, errNotV0
		}
		return json.Marshal(v.v1())
	})
	if err != nil {
		return 0, err
	}
	u, err := rewrite(tx, bURLs, func(_ string, raw []byte) ([]byte, error) {
		var c v0URL
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, err
		}
		s := storedURL{ID: c.ID, AuthType: c.AuthType, InvokeMode: c.InvokeMode, Created: c.Created, Modified: c.Modified}
		if x := c.Cors; x != nil {
			s.Cors = &storedCors{AllowCredentials: x.AllowCredentials, AllowHeaders: x.AllowHeaders, AllowMethods: x.AllowMethods,
				AllowOrigins: x.AllowOrigins, ExposeHeaders: x.ExposeHeaders, MaxAgeSeconds: x.MaxAge}
		}
		return json.Marshal(s)
	})
	return n + m + u, err
}

// migrateV1 indexes reservations (bucket reservations), which v1 kept only
// in function records: the data plane reads an account's from the index.
func migrateV1(tx store.Tx) (int, error) {
	type res struct {
		k string
		n int32
	}
	var all []res
	var bad error
	tx.Scan(bFunctions, "", "", func(k string, raw []byte) bool {
		var rec record
		if err := decodeRecord(raw, &rec); err != nil {
			bad = fmt.Errorf("%s %s: %w", bFunctions, k, err)
			return false
		}
		if rec.Reserved != nil {
			all = append(all, res{k, *rec.Reserved})
		}
		return true
	})
	if bad != nil {
		return 0, bad
	}
	for _, r := range all {
		if err := putReservation(tx, r.k, r.n); err != nil {
			return 0, err
		}
	}
	return len(all), nil
}
