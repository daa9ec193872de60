package functions

import (
	"testing"

	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/spec"
)

func TestTenancyRules(t *testing.T) {
	isolated := &spec.FunctionConfiguration{TenancyConfig: &spec.TenancyConfig{TenantIsolationMode: str(spec.TenantIsolationModePERTENANT)}}
	plain := &spec.FunctionConfiguration{}
	if !TenantIsolated(isolated) || TenantIsolated(plain) || TenantIsolated(&spec.FunctionConfiguration{TenancyConfig: &spec.TenancyConfig{}}) {
		t.Fatal("TenantIsolated misreads TenancyConfig")
	}
	for _, feature := range []string{FeatureSnapStart, FeatureProvisionedConcurrency, FeatureFunctionURL} {
		if err := RefuseTenantIsolated(plain, feature); err != nil {
			t.Errorf("%s refused without isolation: %v", feature, err)
		}
		err := RefuseTenantIsolated(isolated, feature)
		if f, ok := fault.As(err); !ok || f.Kind != fault.InvalidParameter || f.Message != feature+" is not supported for functions with tenant isolation mode enabled." {
			t.Errorf("%s with isolation: %v", feature, err)
		}
	}
	for _, tc := range []struct {
		tenancy *spec.TenancyConfig
		applyOn string
		refused bool
	}{
		{isolated.TenancyConfig, "PublishedVersions", true},
		{isolated.TenancyConfig, "None", false},
		{isolated.TenancyConfig, "", false},
		{nil, "PublishedVersions", false},
	} {
		in := &spec.CreateFunctionRequest{TenancyConfig: tc.tenancy}
		if tc.applyOn != "" {
			in.SnapStart = &spec.SnapStart{ApplyOn: str(tc.applyOn)}
		}
		if err := checkCreateTenancy(in); (err != nil) != tc.refused {
			t.Errorf("tenancy %v, SnapStart %q: %v", tc.tenancy != nil, tc.applyOn, err)
		}
	}
}
