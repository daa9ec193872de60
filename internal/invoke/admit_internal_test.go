package invoke

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/functions"
)

// TestAdmitPools: a function without a reservation runs out of the
// account's limit less what is set aside (reservations, and provisioned
// concurrency outside them); a reserved function counts against its
// reservation only, so it runs even when the unreserved pool is full, and
// its runs leave that pool alone.
func TestAdmitPools(t *testing.T) {
	ctx := context.Background()
	s := &Service{cfg: Config{AccountLimit: 5}}
	var adm LocalAdmission
	acct := adm.Counter(AccountScope("000000000000", "us-east-1"))
	att := func(fn string) *attachment { return &attachment{fn: adm.Counter(FunctionScope(fn)), acct: acct} }
	plain, other := att("plain"), att("other")
	two := int32(2)
	reservedSnap := &functions.Snapshot{FunctionARN: "reserved", Reserved: &two}
	reserved := att("reserved")
	// The account: 5, of which 3 set aside (the reservation of 2 and a
	// provisioned 1 elsewhere): 2 for on-demand invokes of the rest.
	unreserved := &functions.Snapshot{FunctionARN: "plain", SetAside: 3}
	reason := func(err error) string {
		if f, ok := fault.As(err); ok {
			return f.Reason
		}
		return ""
	}
	var rels []func()
	for range 2 {
		relFn, relAcct, err := s.admit(ctx, unreserved, plain)
		if err != nil {
			t.Fatal(err)
		}
		rels = append(rels, relFn, relAcct)
	}
	if _, _, err := s.admit(ctx, &functions.Snapshot{FunctionARN: "other", SetAside: 3}, other); reason(err) != fault.ReasonAccountConcurrency {
		t.Fatalf("a third unreserved invoke with 2 free: %v, want the account's throttle", err)
	}
	for range 2 {
		relFn, relAcct, err := s.admit(ctx, reservedSnap, reserved)
		if err != nil {
			t.Fatalf("the reserved function with the pool full: %v", err)
		}
		rels = append(rels, relFn, relAcct)
	}
	if _, _, err := s.admit(ctx, reservedSnap, reserved); reason(err) != fault.ReasonReservedConcurrency {
		t.Fatalf("a third invoke of a reservation of 2: %v, want the reservation's throttle", err)
	}
	if n := acct.(*localCounter).n.Load(); n != 2 {
		t.Fatalf("the pool counts %d, want the 2 unreserved runs only", n)
	}
	for _, r := range rels {
		r()
	}
	if n := acct.(*localCounter).n.Load(); n != 0 {
		t.Fatalf("the pool counts %d after every run ended", n)
	}
	// Provisioned concurrency of a reserved function comes out of its
	// reservation.
	one := new(atomic.Int32)
	one.Store(1)
	s.prov.totals.Store("reserved", one)
	relFn, _, err := s.admit(ctx, reservedSnap, reserved)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.admit(ctx, reservedSnap, reserved); reason(err) != fault.ReasonReservedConcurrency {
		t.Fatalf("on demand past a reservation of 2 with 1 provisioned: %v", err)
	}
	relFn()
}
