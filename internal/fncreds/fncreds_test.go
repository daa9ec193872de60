package fncreds

import (
	"encoding/base32"
	"regexp"
	"testing"
)

func TestIssueLookupRevoke(t *testing.T) {
	r := New()
	c, release := r.Issue("111111111111", "eu-west-1", "arn:aws:lambda:eu-west-1:111111111111:function:f")
	if !regexp.MustCompile(`^ASIA[A-Z2-7]{16}$`).MatchString(c.AccessKeyID) {
		t.Errorf("key id %q is not shaped like an AWS temporary key", c.AccessKeyID)
	}
	if len(c.SecretAccessKey) != 40 || c.SessionToken == "" {
		t.Errorf("secret %q token %q", c.SecretAccessKey, c.SessionToken)
	}
	// The account reads back from the key id as from AWS's.
	raw, err := base32.StdEncoding.DecodeString(c.AccessKeyID[4:])
	if err != nil {
		t.Fatal(err)
	}
	var v uint64
	for _, x := range raw[:6] {
		v = v<<8 | uint64(x)
	}
	if got := (v & 0x7fffffffff80) >> 7; got != 111111111111 {
		t.Errorf("the key id carries account %d", got)
	}
	e, ok := r.Lookup(c.AccessKeyID)
	if !ok || e.Secret != c.SecretAccessKey || e.SessionToken != c.SessionToken || e.Account != "111111111111" || e.Region != "eu-west-1" || e.Function == "" {
		t.Fatalf("lookup: %+v %v", e, ok)
	}
	other, release2 := r.Issue("111111111111", "eu-west-1", "f")
	if other.AccessKeyID == c.AccessKeyID || other.SecretAccessKey == c.SecretAccessKey {
		t.Error("two environments got the same credentials")
	}
	release()
	release()
	if _, ok := r.Lookup(c.AccessKeyID); ok {
		t.Error("a released key is still live")
	}
	if _, ok := r.Lookup(other.AccessKeyID); !ok {
		t.Error("releasing one key revoked another")
	}
	release2()
	if r.Len() != 0 {
		t.Errorf("%d keys left", r.Len())
	}
	if _, ok := r.Lookup("123456789012"); ok {
		t.Error("a 12-digit key was found")
	}
}

func BenchmarkLookup(b *testing.B) {
	r := New()
	c, _ := r.Issue("111111111111", "us-east-1", "f")
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := r.Lookup(c.AccessKeyID); !ok {
			b.Fatal("missing")
		}
	}
}
