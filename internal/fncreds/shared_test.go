package fncreds

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/lambdad/lambdad/internal/store"
	"github.com/lambdad/lambdad/internal/testkit"
)

var testKey = bytes.Repeat([]byte{7}, 32)

// twoNodes opens two connections to one fresh PostgreSQL database, as two
// nodes would.
func twoNodes(t *testing.T) (a, b store.Store) {
	t.Helper()
	url := testkit.Postgres(t)
	open := func() store.Store {
		st, err := store.OpenPostgres(context.Background(), url, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	return open(), open()
}

func sharedReg(t *testing.T, st store.Store, node string, ttl, cache time.Duration) *Registry {
	t.Helper()
	r, err := NewShared(SharedConfig{Store: st, Node: node, Key: testKey, TTL: ttl, CacheTTL: cache})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

func stored(t *testing.T, st store.Store, key string) []byte {
	t.Helper()
	var v []byte
	if err := st.View(context.Background(), func(tx store.Tx) error {
		v = append([]byte(nil), tx.Get(Bucket, key)...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return v
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting: " + what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSharedIssueVerifyRelease(t *testing.T) {
	sa, sb := twoNodes(t)
	a := sharedReg(t, sa, "node-a", time.Minute, time.Hour)
	b := sharedReg(t, sb, "node-b", time.Minute, time.Hour)
	fn := "arn:aws:lambda:eu-west-1:111111111111:function:f"
	c, release := a.Issue("111111111111", "eu-west-1", fn)
	// Issue has committed the key: node B verifies it at once.
	e, ok := b.LookupContext(context.Background(), c.AccessKeyID)
	if !ok || e.Secret != c.SecretAccessKey || e.SessionToken != c.SessionToken || e.Account != "111111111111" || e.Region != "eu-west-1" || e.Function != fn {
		t.Fatalf("node B: %+v %v", e, ok)
	}
	if b.Len() != 0 {
		t.Error("node B counts another node's key as its own")
	}
	// Neither the secret nor the token is stored in the clear.
	raw := stored(t, sa, c.AccessKeyID)
	if len(raw) == 0 || bytes.Contains(raw, []byte(c.SecretAccessKey)) || bytes.Contains(raw, []byte(c.SessionToken)) {
		t.Errorf("stored record %s", raw)
	}
	// A forged key of the right shape, and a real key with a forged
	// sealed box, are refused.
	forged := KeyPrefix + "AAAAAAAAAAAAAAAA"
	if _, ok := b.Lookup(forged); ok {
		t.Error("a forged key was accepted")
	}
	var rec record
	if err := json.Unmarshal(raw, &rec); err != nil {
		t.Fatal(err)
	}
	other, rel2 := a.Issue("111111111111", "eu-west-1", fn)
	defer rel2()
	moved, _ := json.Marshal(rec) // c's sealed box under other's id
	if err := sa.Update(context.Background(), func(tx store.Tx) error { return tx.Put(Bucket, other.AccessKeyID, moved) }); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.Lookup(other.AccessKeyID); ok {
		t.Error("a sealed box moved to another key opened")
	}

	// A node that never cached the key refuses it once it is released.
	c2, release2 := a.Issue("222222222222", "us-east-1", "g")
	release2()
	waitFor(t, "the released key leaves the store", func() bool { return len(stored(t, sa, c2.AccessKeyID)) == 0 })
	if _, ok := b.Lookup(c2.AccessKeyID); ok {
		t.Error("node B accepted a released key")
	}
	// The issuing node refuses its own released key at once, whatever the
	// store still says.
	release()
	if _, ok := a.Lookup(c.AccessKeyID); ok {
		t.Error("node A accepted the key it released")
	}
	waitFor(t, "the released key leaves the store", func() bool { return len(stored(t, sa, c.AccessKeyID)) == 0 })
}

func TestSharedCacheBoundsRevocation(t *testing.T) {
	sa, sb := twoNodes(t)
	a := sharedReg(t, sa, "node-a", time.Minute, time.Hour)
	b := sharedReg(t, sb, "node-b", time.Minute, 300*time.Millisecond)
	c, release := a.Issue("111111111111", "eu-west-1", "f")
	if _, ok := b.Lookup(c.AccessKeyID); !ok {
		t.Fatal("node B refused a live key")
	}
	release()
	waitFor(t, "the released key leaves the store", func() bool { return len(stored(t, sa, c.AccessKeyID)) == 0 })
	// B cached it; it refuses once the cache entry is older than CacheTTL.
	waitFor(t, "node B refuses the released key", func() bool { _, ok := b.Lookup(c.AccessKeyID); return !ok })
}

func TestSharedExpiry(t *testing.T) {
	sa, sb := twoNodes(t)
	const ttl = 600 * time.Millisecond
	a := sharedReg(t, sa, "node-a", ttl, 50*time.Millisecond)
	b := sharedReg(t, sb, "node-b", ttl, 50*time.Millisecond)
	c, release := a.Issue("111111111111", "eu-west-1", "f")
	defer release()
	// While node A lives, it renews its key past the TTL.
	time.Sleep(2 * ttl)
	if _, ok := b.Lookup(c.AccessKeyID); !ok {
		t.Fatal("a renewed key expired")
	}
	// Node A stops renewing, as a dead node would: the key expires on B,
	// and B's sweep deletes it.
	a.Close()
	waitFor(t, "the key of a dead node expires", func() bool { _, ok := b.Lookup(c.AccessKeyID); return !ok })
	waitFor(t, "node B sweeps the expired key", func() bool { return len(stored(t, sb, c.AccessKeyID)) == 0 })
}

// BenchmarkIssueShared is what publishing adds to a cold start: Issue with
// its committed write to PostgreSQL, against BenchmarkIssue's memory alone
// (releases, which delete in the background, are left out of the time).
func BenchmarkIssueShared(b *testing.B) {
	st, err := store.OpenPostgres(context.Background(), testkit.Postgres(b), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	r, err := NewShared(SharedConfig{Store: st, Node: "bench", Key: testKey})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	var releases []func()
	b.ReportAllocs()
	for b.Loop() {
		_, release := r.Issue("111111111111", "us-east-1", "f")
		releases = append(releases, release)
	}
	b.StopTimer()
	for _, release := range releases {
		release()
	}
}

func BenchmarkIssue(b *testing.B) {
	r := New()
	b.ReportAllocs()
	for b.Loop() {
		_, release := r.Issue("111111111111", "us-east-1", "f")
		release()
	}
}

// BenchmarkLookupShared is another node's key, found in the cache.
func BenchmarkLookupShared(b *testing.B) {
	url := testkit.Postgres(b)
	open := func() store.Store {
		st, err := store.OpenPostgres(context.Background(), url, nil)
		if err != nil {
			b.Fatal(err)
		}
		return st
	}
	sa, sb := open(), open()
	defer sa.Close()
	defer sb.Close()
	ra, _ := NewShared(SharedConfig{Store: sa, Node: "a", Key: testKey})
	rb, _ := NewShared(SharedConfig{Store: sb, Node: "b", Key: testKey})
	defer ra.Close()
	defer rb.Close()
	c, _ := ra.Issue("111111111111", "us-east-1", "f")
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := rb.Lookup(c.AccessKeyID); !ok {
			b.Fatal("missing")
		}
	}
}
