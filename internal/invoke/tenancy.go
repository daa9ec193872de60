package invoke

import (
	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/functions"
)

// Tenant isolation (TenancyConfig PER_TENANT): every invoke of such a
// function names its tenant, and runs in an environment of that tenant only
// (sandbox.Key.Tenant); any other function refuses a tenant.

// tenantMismatch is AWS's answer to an invoke whose tenant does not fit
// the function: documented (Lambda guide, "Troubleshooting tenant
// isolation") as InvalidParameterValueException with this text, for both
// a missing tenant and a tenant given to a function without isolation.
// [?] The wire message is not confirmed against a recorded response.
const tenantMismatch = "Tenant ID configuration not specified or passed to a function when tenant isolation is not enabled."

// checkTenant refuses a missing tenant for a tenant-isolated function and
// a tenant for any other. The tenant's shape (1-256 characters of
// [a-zA-Z0-9._:/=+\-@ ]) was checked against the model by the API.
func checkTenant(snap *functions.Snapshot, tenant string) error {
	if functions.TenantIsolated(&snap.Config) != (tenant != "") {
		return fault.InvalidParameterf(tenantMismatch)
	}
	return nil
}

// runTenant is the tenant whose environments run an invocation: the
// invoke's for a tenant-isolated function, none for any other (an event
// queued before its function was created again without isolation runs in
// the shared pool).
func runTenant(snap *functions.Snapshot, tenant string) string {
	if !functions.TenantIsolated(&snap.Config) {
		return ""
	}
	return tenant
}

// tenantEnvLimit is how many environments a tenant-isolated function's
// tenants may have, active or idle: AWS allows 2,500 for every 1,000
// concurrent executions of the function (its reserved concurrency, else
// the account's limit).
func (s *Service) tenantEnvLimit(snap *functions.Snapshot) int {
	if !functions.TenantIsolated(&snap.Config) {
		return 0
	}
	conc := s.cfg.AccountLimit
	if snap.Reserved != nil {
		conc = *snap.Reserved
	}
	return max(int(conc)*5/2, 1)
}

// tenantEnvThrottle is AWS's answer when a tenant needs a new environment
// beyond that limit: TooManyRequestsException "Rate exceeded" (the guide's
// "Troubleshooting tenant isolation"). [?] No Reason is documented for it.
func tenantEnvThrottle(err error) error {
	f := fault.TooManyRequestsf("", "Rate exceeded")
	f.Err = err
	return f
}

// durableTenancy refuses durable executions of a tenant-isolated function:
// an execution's later invocations would need its tenant, which durable
// executions do not keep yet, and must not run in a pool shared by tenants.
func durableTenancy(snap *functions.Snapshot) error {
	if snap.Config.DurableConfig != nil && functions.TenantIsolated(&snap.Config) {
		return fault.Unsupported("Durable execution of a tenant-isolated function")
	}
	return nil
}
