// Package fncreds issues each execution environment credentials of its own:
// an access key, secret and session token that lambdad accepts only for that
// function's account and region, and only until the environment stops.
package fncreds

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"strconv"
	"sync"
)

// KeyPrefix starts every issued access key id, as it starts AWS's temporary
// keys: an issued key is never 12 digits, so it can never be read as an account.
const KeyPrefix = "ASIA"

// KeyLen is the length of an issued access key id (ASIA + 16 base32 characters).
const KeyLen = 20

// Creds are what an environment gets as AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN.
type Creds struct {
	AccessKeyID, SecretAccessKey, SessionToken string
}

// Entry is what an issued key stands for.
type Entry struct {
	Secret, SessionToken string
	Account, Region      string
	// Function is the ARN of the function the key was issued to.
	Function string
}

// Registry holds the live keys. The zero value is not usable: use New or
// NewShared.
type Registry struct {
	mu   sync.RWMutex
	keys map[string]Entry
	// shared, when set, publishes this node's keys in a store other nodes
	// read (shared.go).
	shared *shared
}

// New makes an empty registry.
func New() *Registry { return &Registry{keys: map[string]Entry{}} }

// Issue makes a new key for function (an ARN) of account in region. release
// revokes it; it is idempotent.
func (r *Registry) Issue(account, region, function string) (Creds, func()) {
	var secret [30]byte
	var token [48]byte
	rand.Read(secret[:])
	rand.Read(token[:])
	c := Creds{
		SecretAccessKey: base64.StdEncoding.EncodeToString(secret[:]),
		SessionToken:    base64.StdEncoding.EncodeToString(token[:]),
	}
	e := Entry{Secret: c.SecretAccessKey, SessionToken: c.SessionToken, Account: account, Region: region, Function: function}
	r.mu.Lock()
	for {
		c.AccessKeyID = newKeyID(account)
		if _, taken := r.keys[c.AccessKeyID]; !taken {
			break
		}
	}
	r.keys[c.AccessKeyID] = e
	r.mu.Unlock()
	if r.shared != nil {
		r.shared.publish(c.AccessKeyID, e)
	}
	var once sync.Once
	return c, func() { once.Do(func() { r.Revoke(c.AccessKeyID) }) }
}

// newKeyID makes a key id that carries account as AWS's key ids do (bits 7
// to 46 of the first 6 bytes of the base32 text after the prefix), so tools
// that read the account from a key, such as LocalStack behind
// --aws-endpoint-url, place a function's calls in its own account. The
// other bits are random.
func newKeyID(account string) string {
	var b [10]byte
	rand.Read(b[:])
	if n, err := strconv.ParseUint(account, 10, 64); err == nil && n < 1<<40 {
		v := n<<7 | uint64(b[5]&0x7f)
		for i := 5; i >= 0; i-- {
			b[i] = byte(v)
			v >>= 8
		}
	}
	return KeyPrefix + base32.StdEncoding.EncodeToString(b[:])
}

// Revoke forgets key: requests signed with it are refused from now on.
func (r *Registry) Revoke(key string) {
	r.mu.Lock()
	_, had := r.keys[key]
	delete(r.keys, key)
	r.mu.Unlock()
	if had && r.shared != nil {
		r.shared.withdraw(key)
	}
}

// Lookup finds a live key. Keys of another shape are not looked up.
func (r *Registry) Lookup(key string) (Entry, bool) {
	if len(key) != KeyLen || key[:len(KeyPrefix)] != KeyPrefix {
		return Entry{}, false
	}
	r.mu.RLock()
	e, ok := r.keys[key]
	r.mu.RUnlock()
	if !ok && r.shared != nil {
		if e, ok := r.shared.cached(key); ok {
			return e, true
		}
		ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
		defer cancel()
		return r.shared.lookup(ctx, key)
	}
	return e, ok
}

// LookupContext is Lookup, with ctx bounding the shared store's read.
func (r *Registry) LookupContext(ctx context.Context, key string) (Entry, bool) {
	if r.shared == nil {
		return r.Lookup(key)
	}
	if len(key) != KeyLen || key[:len(KeyPrefix)] != KeyPrefix {
		return Entry{}, false
	}
	r.mu.RLock()
	e, ok := r.keys[key]
	r.mu.RUnlock()
	if ok {
		return e, true
	}
	return r.shared.lookup(ctx, key)
}

// Len is the number of live keys this registry issued.
func (r *Registry) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.keys)
}
