package capacity

import (
	"context"
	"testing"
	"time"

	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/store"
)

// users is a fixed answer to "how many functions use this provider?".
type users map[string]int

func (u users) CapacityProviderUsers(_ store.Tx, _, _, arn string) int { return u[arn] }

func newService(t *testing.T, now *time.Time, u Users) *Service {
	t.Helper()
	return New(Config{Store: store.NewMemory(), Transition: time.Second, Now: func() time.Time { return *now }, Users: u})
}

func TestStatesAndDelete(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := Ref{Account: "123456789012", Region: "us-east-1", Name: "p"}
	u := users{}
	s := newService(t, &now, u)
	p, err := s.Create(ctx, r, Provider{SubnetIDs: []string{"s"}})
	if err != nil || p.State != Pending || p.ARN != "arn:aws:lambda:us-east-1:123456789012:capacity-provider:p" || p.Scaling.ScalingMode != "Auto" {
		t.Fatalf("Create = %v %+v", err, p)
	}
	if g, _ := s.Get(ctx, r); g.State != Pending {
		t.Fatalf("before the transition: %s", g.State)
	}
	now = now.Add(time.Second)
	if g, _ := s.Get(ctx, r); g.State != Active {
		t.Fatalf("after the transition: %s", g.State)
	}
	u[p.ARN] = 2
	if _, err := s.Delete(ctx, r); !fault.Is(err, fault.Conflict) || err.(*fault.Error).Message != "The capacity provider is currently in use by 2 functions. To delete this capacity provider, first remove its association with "+p.ARN+"." {
		t.Fatalf("delete in use: %v", err)
	}
	if _, err := s.Get(ctx, r); err != nil {
		t.Fatalf("a refused delete removed it: %v", err)
	}
	u[p.ARN] = 0
	d, err := s.Delete(ctx, r)
	if err != nil || d.State != Deleting {
		t.Fatalf("Delete = %v %+v", err, d)
	}
	if _, err := s.Get(ctx, r); !fault.Is(err, fault.NotFound) {
		t.Fatalf("after delete: %v", err)
	}
}

func TestListFiltersAndPages(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := newService(t, &now, nil)
	for _, n := range []string{"a", "b", "c"} {
		if _, err := s.Create(ctx, Ref{Account: "123456789012", Region: "us-east-1", Name: n}, Provider{}); err != nil {
			t.Fatal(err)
		}
	}
	// Another region's providers are not listed.
	if _, err := s.Create(ctx, Ref{Account: "123456789012", Region: "eu-west-1", Name: "z"}, Provider{}); err != nil {
		t.Fatal(err)
	}
	two := int32(2)
	items, next, err := s.List(ctx, "123456789012", "us-east-1", "", nil, &two)
	if err != nil || len(items) != 2 || next == nil {
		t.Fatalf("page 1 = %v %d %v", err, len(items), next)
	}
	items, next, err = s.List(ctx, "123456789012", "us-east-1", "", next, &two)
	if err != nil || len(items) != 1 || next != nil || items[0].ARN != "arn:aws:lambda:us-east-1:123456789012:capacity-provider:c" {
		t.Fatalf("page 2 = %v %+v %v", err, items, next)
	}
	if items, _, _ := s.List(ctx, "123456789012", "us-east-1", Active, nil, nil); len(items) != 0 {
		t.Fatalf("Active before the transition: %d", len(items))
	}
	bad := "!!"
	if _, _, err := s.List(ctx, "123456789012", "us-east-1", "", &bad, nil); !fault.Is(err, fault.InvalidParameter) {
		t.Fatalf("bad marker: %v", err)
	}
}

func TestParseName(t *testing.T) {
	r, err := ParseName("123456789012", "us-east-1", "arn:aws:lambda:us-east-1:123456789012:capacity-provider:x")
	if err != nil || r != (Ref{Account: "123456789012", Region: "us-east-1", Name: "x"}) {
		t.Fatalf("ParseName(arn) = %+v %v", r, err)
	}
	if r, _ := ParseName("123456789012", "us-east-1", "x"); r.ARN() != "arn:aws:lambda:us-east-1:123456789012:capacity-provider:x" {
		t.Fatalf("ParseName(name) = %+v", r)
	}
	// Another account's provider is not the caller's to read.
	if _, err := ParseName("123456789012", "us-east-1", "arn:aws:lambda:us-east-1:210987654321:capacity-provider:x"); !fault.Is(err, fault.AccessDenied) {
		t.Fatalf("another account: %v", err)
	}
	if _, err := ParseName("123456789012", "us-east-1", "arn:aws:lambda:eu-west-1:123456789012:capacity-provider:x"); !fault.Is(err, fault.NotFound) {
		t.Fatalf("another region: %v", err)
	}
}
