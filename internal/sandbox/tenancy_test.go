package sandbox

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/lambdad/lambdad/internal/testkit"
)

// TestTenantEnvironments: a tenant's invocations run in environments of
// that tenant only, warm within it; JSON platform records name the tenant;
// retiring the function's key retires every tenant's environments.
func TestTenantEnvironments(t *testing.T) {
	needGo(t)
	modes(t, func(t *testing.T, iso string) {
		m, _ := newTestManager(t, iso)
		fn := goFunction(func(f *Function) { f.LogFormat = "JSON" })
		call := func(tenant string) (map[string]any, Result) {
			t.Helper()
			inv := newInv(map[string]string{"op": "counter"})
			inv.Tenant = tenant
			res, err := m.Invoke(t.Context(), fn, inv)
			if err != nil {
				t.Fatal(err)
			}
			return testkit.DecodeJSON[map[string]any](t, res.Payload), res
		}
		a1, res := call("a")
		b1, _ := call("b")
		a2, _ := call("a")
		if a1["pid"] != a2["pid"] || a2["counter"].(float64) != a1["counter"].(float64)+1 {
			t.Errorf("tenant a not reused warm: %v then %v", a1, a2)
		}
		if a1["pid"] == b1["pid"] && iso == "off" { // isolated pids are per namespace
			t.Errorf("tenants a and b share process %v", a1["pid"])
		}
		if s := m.Stats(); s.Total != 2 || s.Idle != 2 {
			t.Errorf("stats %+v, want 2 environments, one per tenant", s)
		}
		for _, rec := range []string{`"type":"platform.start"`, `"type":"platform.report"`} {
			found := false
			for line := range bytes.Lines(res.Log) {
				if bytes.Contains(line, []byte(rec)) {
					found = bytes.Contains(line, []byte(`"tenantId":"a"`))
				}
			}
			if !found {
				t.Errorf("no tenantId in %s:\n%s", rec, res.Log)
			}
		}
		m.RetireKey(fn.Key)
		testkit.Eventually(t, 5*time.Second, "tenants' environments outlived RetireKey", func() bool { return m.Stats().Total == 0 })
	})
}

// TestRetireKeyTenants: RetireKey of a version's key retires its tenants'
// pools, not another revision's; a tenant's own key retires only itself.
func TestRetireKeyTenants(t *testing.T) {
	const f = "arn:aws:lambda:us-east-1:000000000000:function:f"
	base := Key{FunctionARN: f, Version: "$LATEST", Revision: "r1"}
	other := Key{FunctionARN: f, Version: "$LATEST", Revision: "r2"}
	m := &Manager{}
	a, b, o := m.pool(tenantKey(base, "a")), m.pool(tenantKey(base, "b")), m.pool(tenantKey(other, "a"))
	m.RetireKey(tenantKey(base, "b"))
	if a.retired || !b.retired || o.retired {
		t.Fatalf("tenant key retired a=%v b=%v other=%v", a.retired, b.retired, o.retired)
	}
	m.RetireKey(base)
	if !a.retired || o.retired {
		t.Fatalf("version key retired a=%v other=%v", a.retired, o.retired)
	}
}

// TestTenantEnvLimit: a new tenant's first invoke is refused once the
// function's tenants have TenantEnvLimit environments; tenants that have
// one go on warm, and an environment gone makes room. Tenants' pools are
// forgotten once their environments are.
func TestTenantEnvLimit(t *testing.T) {
	needGo(t)
	m, _ := newTestManager(t, "off", func(c *Config) { c.IdleTimeout = 200 * time.Millisecond })
	fn := goFunction()
	call := func(tenant string) error {
		inv := newInv(map[string]string{"op": "counter"})
		inv.Tenant, inv.TenantEnvLimit = tenant, 2
		_, err := m.Invoke(t.Context(), fn, inv)
		return err
	}
	for _, tenant := range []string{"a", "b", "a"} {
		if err := call(tenant); err != nil {
			t.Fatalf("tenant %s: %v", tenant, err)
		}
	}
	if err := call("c"); !errors.Is(err, ErrTenantEnvLimit) {
		t.Fatalf("a third tenant's environment: %v, want ErrTenantEnvLimit", err)
	}
	if n := m.TenantEnvs(fn.Key.FunctionARN); n != 2 {
		t.Fatalf("TenantEnvs = %d, want 2", n)
	}
	// Idle environments stop after IdleTimeout; their pools go with them.
	testkit.Eventually(t, 5*time.Second, "idle tenants' environments and pools stay", func() bool {
		pools := 0
		m.pools.Range(func(any, any) bool { pools++; return true })
		return m.TenantEnvs(fn.Key.FunctionARN) == 0 && pools == 0
	})
	if err := call("c"); err != nil {
		t.Fatalf("tenant c once the others are gone: %v", err)
	}
}
