package invoke

import (
	"testing"

	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/functions"
	"github.com/lambdad/lambdad/internal/spec"
)

func TestCheckTenant(t *testing.T) {
	mode := spec.TenantIsolationModePERTENANT
	isolated := &functions.Snapshot{Config: spec.FunctionConfiguration{TenancyConfig: &spec.TenancyConfig{TenantIsolationMode: &mode}}}
	plain := &functions.Snapshot{}
	for _, tc := range []struct {
		snap   *functions.Snapshot
		tenant string
		ok     bool
		run    string
	}{
		{isolated, "a", true, "a"},
		{isolated, "", false, ""},
		{plain, "", true, ""},
		{plain, "a", false, ""},
	} {
		err := checkTenant(tc.snap, tc.tenant)
		if tc.ok != (err == nil) {
			t.Errorf("isolated %v, tenant %q: %v", tc.snap == isolated, tc.tenant, err)
		}
		if f, ok := fault.As(err); err != nil && (!ok || f.Kind != fault.InvalidParameter || f.Message != tenantMismatch) {
			t.Errorf("error %v, want InvalidParameter %q", err, tenantMismatch)
		}
		if got := runTenant(tc.snap, tc.tenant); tc.ok && got != tc.run {
			t.Errorf("runTenant = %q, want %q", got, tc.run)
		}
	}
}

func TestDurableTenancy(t *testing.T) {
	mode := spec.TenantIsolationModePERTENANT
	tenancy := &spec.TenancyConfig{TenantIsolationMode: &mode}
	durableCfg := &spec.DurableConfig{}
	for _, tc := range []struct {
		cfg     spec.FunctionConfiguration
		refused bool
	}{
		{spec.FunctionConfiguration{TenancyConfig: tenancy, DurableConfig: durableCfg}, true},
		{spec.FunctionConfiguration{DurableConfig: durableCfg}, false},
		{spec.FunctionConfiguration{TenancyConfig: tenancy}, false},
	} {
		err := durableTenancy(&functions.Snapshot{Config: tc.cfg})
		if (err != nil) != tc.refused || err != nil && !fault.Is(err, fault.NotImplemented) {
			t.Errorf("tenancy %v durable %v: %v", tc.cfg.TenancyConfig != nil, tc.cfg.DurableConfig != nil, err)
		}
	}
}
