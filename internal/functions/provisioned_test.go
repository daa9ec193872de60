package functions

import (
	"testing"

	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/spec"
)

// TestProvisionedAccountLimits: a function without reserved concurrency
// provisions out of the account's unreserved concurrency, which the
// reservations of other functions and the provisioned concurrency of
// unreserved ones have already taken from, keeping AWS's minimum of 100.
func TestProvisionedAccountLimits(t *testing.T) {
	f := newFixture(t)
	// setAside is what b's on-demand invokes cannot use of the account.
	setAside := func(want int32) {
		t.Helper()
		snap, err := f.s.Resolve(f.ctx, f.ref("b", ""))
		if err != nil {
			t.Fatal(err)
		}
		if snap.Reserved == nil && snap.SetAside != want {
			t.Errorf("set aside for b: %d, want %d", snap.SetAside, want)
		}
	}
	for _, n := range []string{"a", "b", "c"} {
		f.create(n)
		f.settle()
		if _, err := f.s.Publish(f.ctx, f.ref(n, ""), nil, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.s.PutConcurrency(f.ctx, f.ref("c", ""), 300); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.PutProvisioned(f.ctx, f.ref("a", "1"), 400); err != nil {
		t.Fatal(err)
	}
	// 1000 - 300 reserved (c) - 400 provisioned (a) = 300 unreserved.
	setAside(700)
	_, err := f.s.PutProvisioned(f.ctx, f.ref("b", "1"), 301)
	if !isFault(err, fault.InvalidParameter, "Specified ConcurrentExecutions for function is greater than account's unreserved concurrency [300].") {
		t.Errorf("301 of 300: %v", err)
	}
	_, err = f.s.PutProvisioned(f.ctx, f.ref("b", "1"), 201)
	if !isFault(err, fault.InvalidParameter, "Specified ConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [100].") {
		t.Errorf("201 of 300: %v", err)
	}
	if _, err := f.s.PutProvisioned(f.ctx, f.ref("b", "1"), 200); err != nil {
		t.Errorf("200 of 300: %v", err)
	}
	setAside(900)
	// Reserving for b counts a's provisioned concurrency against the
	// account too: 1000 - 300 (c) - 400 (a) leaves 300, 100 of it kept.
	_, err = f.s.PutConcurrency(f.ctx, f.ref("b", ""), 201)
	if !isFault(err, fault.InvalidParameter, "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [100].") {
		t.Errorf("reserving 201 of 300: %v", err)
	}
	if _, err := f.s.PutConcurrency(f.ctx, f.ref("b", ""), 200); err != nil {
		t.Errorf("reserving 200 of 300: %v", err)
	}
	if snap, err := f.s.Resolve(f.ctx, f.ref("b", "")); err != nil || snap.Reserved == nil || snap.SetAside != 0 {
		t.Errorf("b with a reservation: %v, %v: its invokes count against the reservation only", snap, err)
	}
	if err := f.s.DeleteConcurrency(f.ctx, f.ref("b", "")); err != nil {
		t.Fatal(err)
	}
	setAside(900)
	// Replacing a's config does not count its old value.
	if _, err := f.s.PutProvisioned(f.ctx, f.ref("a", "1"), 400); err != nil {
		t.Errorf("putting a's 400 again: %v", err)
	}
	// c provisions out of its own reservation.
	_, err = f.s.PutProvisioned(f.ctx, f.ref("c", "1"), 301)
	if !isFault(err, fault.InvalidParameter, "Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution for function") {
		t.Errorf("301 of c's 300 reserved: %v", err)
	}
	if _, err := f.s.PutProvisioned(f.ctx, f.ref("c", "1"), 300); err != nil {
		t.Errorf("300 of c's 300 reserved: %v", err)
	}
	// Deleting the function deletes its configs.
	if err := f.s.Delete(f.ctx, f.ref("a", "")); err != nil {
		t.Fatal(err)
	}
	if fns, err := f.s.ProvisionedFunctions(f.ctx); err != nil || len(fns) != 2 || fns[0].Name != "b" || fns[1].Name != "c" {
		t.Errorf("ProvisionedFunctions after deleting a = %v, %v; want b and c", fns, err)
	}
	// c's reservation (its provisioned concurrency inside it) and b's own
	// provisioned concurrency.
	setAside(500)
	if err := f.s.Delete(f.ctx, f.ref("c", "")); err != nil {
		t.Fatal(err)
	}
	setAside(200)
	if err := f.s.DeleteProvisioned(f.ctx, f.ref("b", "1")); err != nil {
		t.Fatal(err)
	}
	setAside(0)
}

// TestProvisionedAliasOfLatest: an alias of $LATEST cannot be provisioned,
// as $LATEST cannot.
func TestProvisionedAliasOfLatest(t *testing.T) {
	f := newFixture(t)
	f.create("fn")
	f.settle()
	if _, err := f.s.CreateAlias(f.ctx, f.ref("fn", ""), &spec.CreateAliasRequest{Name: str("dev"), FunctionVersion: str(Latest)}); err != nil {
		t.Fatal(err)
	}
	_, err := f.s.PutProvisioned(f.ctx, f.ref("fn", "dev"), 1)
	if !isFault(err, fault.InvalidParameter, "Provisioned Concurrency Configs cannot be applied to unpublished function versions.") {
		t.Errorf("alias of $LATEST: %v", err)
	}
}
