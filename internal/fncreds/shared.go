package fncreds

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/lambdad/lambdad/internal/store"
)

// Bucket holds, in a store several nodes share, the keys each node issued,
// so a function's call verifies on whichever node it reaches.
const Bucket = "fncreds"

// Defaults of SharedConfig.
const (
	// DefaultTTL is how long a published key stays valid without renewal:
	// how long the keys of a node that died stay usable at most.
	DefaultTTL = 3 * time.Minute
	// DefaultCacheTTL is how long a node trusts another node's key it read
	// from the store: how late, at most, it learns of the key's release.
	DefaultCacheTTL = 5 * time.Second
)

// storeTimeout bounds a store round trip made where no caller's context
// reaches (Issue, release, renewal).
const storeTimeout = 5 * time.Second

// maxCache bounds the other nodes' keys a node caches; past it the cache
// starts over.
const maxCache = 10000

// SharedConfig configures a registry whose keys are valid on every node of
// a shared store.
type SharedConfig struct {
	Store store.Store
	// Node is the issuing node's id, stored with its keys: a node trusts
	// only its own memory for its own keys, so a key it released is
	// refused there at once.
	Node string
	// Key (the nodes' shared secret, at least 32 bytes) encrypts the
	// secrets and session tokens at rest.
	Key []byte
	// TTL: DefaultTTL when 0. Keys are renewed every TTL/3 while their
	// environment lives.
	TTL time.Duration
	// CacheTTL: DefaultCacheTTL when 0.
	CacheTTL time.Duration
	Logger   *slog.Logger
}

// record is a key as stored. Verifying a SigV4 signature takes the secret
// itself (the signing key derives from it), so it is stored, sealed with
// the nodes' shared key, with the session token; the key id is the
// additional data, so a sealed box cannot be moved to another key.
type record struct {
	Node     string `json:"node"`
	Account  string `json:"account"`
	Region   string `json:"region"`
	Function string `json:"function"`
	// Expires is Unix milliseconds on the issuing node's clock; the TTL is
	// minutes, so clocks kept by NTP agree well enough.
	Expires int64  `json:"expires"`
	Sealed  []byte `json:"sealed"`
}

type cached struct {
	e       Entry
	until   time.Time
	expires time.Time
}

type shared struct {
	cfg  SharedConfig
	r    *Registry
	aead cipher.AEAD
	log  *slog.Logger

	// storeMu orders renewals and withdrawals: a renewal cannot put back a
	// key whose deletion was already sent.
	storeMu sync.Mutex

	cacheMu sync.Mutex
	cache   map[string]cached

	stop context.CancelFunc
	// closeMu guards closed against withdrawals starting as Close waits.
	closeMu sync.Mutex
	closed  bool
	wg      sync.WaitGroup
}

// NewShared makes a registry that publishes its keys in cfg.Store and
// accepts the keys other nodes published there. It renews its own keys and
// sweeps expired ones in the background until Close.
func NewShared(cfg SharedConfig) (*Registry, error) {
	if cfg.Store == nil || cfg.Node == "" {
		return nil, errors.New("fncreds: a shared registry needs a store and a node id")
	}
	if len(cfg.Key) < 32 {
		return nil, errors.New("fncreds: the shared key must be at least 32 bytes")
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = DefaultCacheTTL
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	// A key of its own for this use, derived from the shared secret.
	m := hmac.New(sha256.New, cfg.Key)
	m.Write([]byte("lambdad fncreds v1"))
	block, err := aes.NewCipher(m.Sum(nil))
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	r := New()
	sh := &shared{cfg: cfg, r: r, aead: aead, log: cfg.Logger, cache: map[string]cached{}}
	r.shared = sh
	ctx, stop := context.WithCancel(context.Background())
	sh.stop = stop
	sh.wg.Add(1)
	go sh.loop(ctx)
	return r, nil
}

// Close stops renewing and waits for withdrawals under way. Keys still live,
// or released after Close, expire in the store after their TTL. A registry
// of New has nothing to close.
func (r *Registry) Close() {
	if r.shared == nil {
		return
	}
	sh := r.shared
	sh.closeMu.Lock()
	sh.closed = true
	sh.closeMu.Unlock()
	sh.stop()
	sh.wg.Wait()
}

func (sh *shared) seal(key string, e Entry, now time.Time) ([]byte, error) {
	nonce := make([]byte, sh.aead.NonceSize(), sh.aead.NonceSize()+len(e.Secret)+len(e.SessionToken)+1+sh.aead.Overhead())
	rand.Read(nonce)
	sealed := sh.aead.Seal(nonce, nonce, []byte(e.Secret+"\n"+e.SessionToken), []byte(key))
	return json.Marshal(record{Node: sh.cfg.Node, Account: e.Account, Region: e.Region, Function: e.Function,
		Expires: now.Add(sh.cfg.TTL).UnixMilli(), Sealed: sealed})
}

func (sh *shared) open(key string, rec record) (Entry, error) {
	n := sh.aead.NonceSize()
	if len(rec.Sealed) < n {
		return Entry{}, errors.New("fncreds: stored key too short")
	}
	plain, err := sh.aead.Open(nil, rec.Sealed[:n], rec.Sealed[n:], []byte(key))
	if err != nil {
		return Entry{}, fmt.Errorf("fncreds: stored key: %w", err)
	}
	secret, token, ok := strings.Cut(string(plain), "\n")
	if !ok {
		return Entry{}, errors.New("fncreds: stored key malformed")
	}
	return Entry{Secret: secret, SessionToken: token, Account: rec.Account, Region: rec.Region, Function: rec.Function}, nil
}

// publish stores a key as it is issued, before the environment starts: its
// code may call through another node from its first line (init), so the
// write must be committed first. It costs one store round trip (see
// BenchmarkIssueShared). A failed write leaves the key valid on this node
// only until the next renewal stores it.
func (sh *shared) publish(key string, e Entry) {
	b, err := sh.seal(key, e, time.Now())
	if err != nil {
		sh.log.Warn("fncreds: seal", "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if err := sh.cfg.Store.Update(ctx, func(tx store.Tx) error { return tx.Put(Bucket, key, b) }); err != nil {
		sh.log.Warn("fncreds: publish a function's key; other nodes refuse it until the next renewal", "err", err)
	}
}

// withdraw deletes a released key from the store, in the background: the
// environment is gone, and this node refuses the key already.
func (sh *shared) withdraw(key string) {
	sh.closeMu.Lock()
	defer sh.closeMu.Unlock()
	if sh.closed {
		return // the key expires in the store
	}
	sh.wg.Add(1)
	go func() {
		defer sh.wg.Done()
		sh.storeMu.Lock()
		defer sh.storeMu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
		defer cancel()
		if err := sh.cfg.Store.Update(ctx, func(tx store.Tx) error { return tx.Delete(Bucket, key) }); err != nil {
			sh.log.Warn("fncreds: withdraw a released key; it expires in the store instead", "err", err)
		}
	}()
}

// cached finds another node's key in the cache.
func (sh *shared) cached(key string) (Entry, bool) {
	now := time.Now()
	sh.cacheMu.Lock()
	c, ok := sh.cache[key]
	sh.cacheMu.Unlock()
	if ok && now.Before(c.until) && now.Before(c.expires) {
		return c.e, true
	}
	return Entry{}, false
}

// lookup finds another node's key: in the cache, or in the store.
func (sh *shared) lookup(ctx context.Context, key string) (Entry, bool) {
	if e, ok := sh.cached(key); ok {
		return e, true
	}
	now := time.Now()
	var rec record
	found := false
	err := sh.cfg.Store.View(ctx, func(tx store.Tx) error {
		b := tx.Get(Bucket, key)
		if b == nil {
			return nil
		}
		found = true
		return json.Unmarshal(b, &rec)
	})
	if err != nil {
		sh.log.Warn("fncreds: look up a key in the store", "err", err)
		return Entry{}, false
	}
	// This node's own keys are valid while in its memory only.
	if !found || rec.Node == sh.cfg.Node {
		return Entry{}, false
	}
	expires := time.UnixMilli(rec.Expires)
	if !now.Before(expires) {
		return Entry{}, false
	}
	e, err := sh.open(key, rec)
	if err != nil {
		sh.log.Warn("fncreds: a stored key does not open", "err", err)
		return Entry{}, false
	}
	sh.cacheMu.Lock()
	if len(sh.cache) >= maxCache {
		clear(sh.cache)
	}
	sh.cache[key] = cached{e: e, until: now.Add(sh.cfg.CacheTTL), expires: expires}
	sh.cacheMu.Unlock()
	return e, true
}

func (sh *shared) loop(ctx context.Context) {
	defer sh.wg.Done()
	t := time.NewTicker(sh.cfg.TTL / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		sh.renew(ctx)
		sh.sweep(ctx)
		sh.pruneCache()
	}
}

// renew stores this node's live keys again with a new expiry, in one
// transaction; it also stores any whose publish failed.
func (sh *shared) renew(ctx context.Context) {
	sh.storeMu.Lock()
	defer sh.storeMu.Unlock()
	sh.r.mu.RLock()
	live := make(map[string]Entry, len(sh.r.keys))
	for k, e := range sh.r.keys {
		live[k] = e
	}
	sh.r.mu.RUnlock()
	if len(live) == 0 {
		return
	}
	now := time.Now()
	vals := make(map[string][]byte, len(live))
	for k, e := range live {
		b, err := sh.seal(k, e, now)
		if err != nil {
			sh.log.Warn("fncreds: seal", "err", err)
			return
		}
		vals[k] = b
	}
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	err := sh.cfg.Store.Update(ctx, func(tx store.Tx) error {
		for k, b := range vals {
			if err := tx.Put(Bucket, k, b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		sh.log.Warn("fncreds: renew this node's keys", "keys", len(vals), "err", err)
	}
}

// sweep deletes expired keys, whichever node issued them: those of a node
// that died, or whose withdrawal failed. It reads in a snapshot and deletes
// by key, checking each again, so it does not conflict with issues.
func (sh *shared) sweep(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	now := time.Now().UnixMilli()
	var expired []string
	err := sh.cfg.Store.View(ctx, func(tx store.Tx) error {
		return tx.Scan(Bucket, "", "", func(k string, v []byte) bool {
			var rec record
			if json.Unmarshal(v, &rec) != nil || rec.Expires <= now {
				expired = append(expired, k)
			}
			return true
		})
	})
	if err != nil || len(expired) == 0 {
		if err != nil {
			sh.log.Warn("fncreds: sweep expired keys", "err", err)
		}
		return
	}
	err = sh.cfg.Store.Update(ctx, func(tx store.Tx) error {
		for _, k := range expired {
			var rec record
			if v := tx.Get(Bucket, k); v != nil && (json.Unmarshal(v, &rec) != nil || rec.Expires <= now) {
				if err := tx.Delete(Bucket, k); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		sh.log.Warn("fncreds: sweep expired keys", "err", err)
	}
}

func (sh *shared) pruneCache() {
	now := time.Now()
	sh.cacheMu.Lock()
	for k, c := range sh.cache {
		if !now.Before(c.until) {
			delete(sh.cache, k)
		}
	}
	sh.cacheMu.Unlock()
}
