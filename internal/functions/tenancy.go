package functions

import (
	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/spec"
	"github.com/lambdad/lambdad/internal/store"
)

// Tenant isolation (TenancyConfig {TenantIsolationMode: PER_TENANT}) is set
// when a function is created and never changes: UpdateFunctionConfiguration's
// model has no TenancyConfig, so a request carrying one is read as AWS reads
// it, without it. Such a function cannot have SnapStart, provisioned
// concurrency or function URLs, and API Gateway is its only event source
// (AWS's guide and CDK's TenancyConfig); lambdad has no event source
// mappings yet, so there is nothing else to refuse.

// TenantIsolated reports whether c is a tenant-isolated function's
// configuration (any version of it: tenancy is the function's).
func TenantIsolated(c *spec.FunctionConfiguration) bool {
	t := c.TenancyConfig
	return t != nil && t.TenantIsolationMode != nil && *t.TenantIsolationMode == spec.TenantIsolationModePERTENANT
}

// Features a tenant-isolated function cannot have.
const (
	FeatureSnapStart              = "SnapStart"
	FeatureProvisionedConcurrency = "Provisioned concurrency"
	FeatureFunctionURL            = "Function URLs"
)

// RefuseTenantIsolated refuses feature for a tenant-isolated function with
// InvalidParameterValueException; nil for any other. Operations that add
// one of the features (PutProvisionedConcurrencyConfig too) call it on the
// function's configuration inside their transaction, e.g.
// RefuseTenantIsolated(&rec.Latest.Config, FeatureProvisionedConcurrency).
//
// [?] AWS documents the incompatibility, not its error: the type is the
// one AWS uses for invalid combinations, the message is ours.
func RefuseTenantIsolated(c *spec.FunctionConfiguration, feature string) error {
	if !TenantIsolated(c) {
		return nil
	}
	return fault.InvalidParameterf("%s is not supported for functions with tenant isolation mode enabled.", feature)
}

// checkCreateTenancy refuses a CreateFunction request combining tenant
// isolation with SnapStart. TenantIsolationMode's values are checked
// against the model by the API.
func checkCreateTenancy(in *spec.CreateFunctionRequest) error {
	c := spec.FunctionConfiguration{TenancyConfig: in.TenancyConfig}
	if snapStartOn(in.SnapStart) {
		return RefuseTenantIsolated(&c, FeatureSnapStart)
	}
	return nil
}

// snapStartOn: SnapStart ApplyOn "None" (or nothing) turns it off, and is
// allowed anywhere.
func snapStartOn(s *spec.SnapStart) bool {
	return s != nil && s.ApplyOn != nil && *s.ApplyOn != "None"
}

// refuseURLTenancy refuses a function URL for a tenant-isolated function.
func (s *Service) refuseURLTenancy(tx store.Tx, ref Ref) error {
	rec, err := s.load(tx, ref)
	if err != nil || rec == nil {
		return err
	}
	return RefuseTenantIsolated(&rec.Latest.Config, FeatureFunctionURL)
}
