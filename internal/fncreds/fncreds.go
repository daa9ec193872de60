// Package fncreds issues each execution environment credentials of its own:
// an access key, secret and session token that lambdad accepts only for that
// function's account and region, and only until the environment stops.
package fncreds

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
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

// Registry holds the live keys. The zero value is not usable: use New.
type Registry struct {
	mu   sync.RWMutex
	keys map[string]Entry
}

// New makes an empty registry.
func New() *Registry { return &Registry{keys: map[string]Entry{}} }

// Issue makes a new key for function (an ARN) of account in region. release
// revokes it; it is idempotent.
func (r *Registry) Issue(account, region, function string) (Creds, func()) {
	var id [10]byte
	var secret [30]byte
	var token [48]byte
	rand.Read(id[:])
	rand.Read(secret[:])
	rand.Read(token[:])
	c := Creds{
		AccessKeyID:     KeyPrefix + base32.StdEncoding.EncodeToString(id[:]),
		SecretAccessKey: base64.StdEncoding.EncodeToString(secret[:]),
		SessionToken:    base64.StdEncoding.EncodeToString(token[:]),
	}
	r.mu.Lock()
	r.keys[c.AccessKeyID] = Entry{Secret: c.SecretAccessKey, SessionToken: c.SessionToken, Account: account, Region: region, Function: function}
	r.mu.Unlock()
	var once sync.Once
	return c, func() { once.Do(func() { r.Revoke(c.AccessKeyID) }) }
}

// Revoke forgets key: requests signed with it are refused from now on.
func (r *Registry) Revoke(key string) {
	r.mu.Lock()
	delete(r.keys, key)
	r.mu.Unlock()
}

// Lookup finds a live key. Keys of another shape are not looked up.
func (r *Registry) Lookup(key string) (Entry, bool) {
	if len(key) != KeyLen || key[:len(KeyPrefix)] != KeyPrefix {
		return Entry{}, false
	}
	r.mu.RLock()
	e, ok := r.keys[key]
	r.mu.RUnlock()
	return e, ok
}

// Len is the number of live keys.
func (r *Registry) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.keys)
}
