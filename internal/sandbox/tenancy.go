package sandbox

// Tenant isolation: a tenant-isolated function's environments are pooled
// per (Key, tenant), so an environment serves one tenant for its whole life
// and warm reuse happens within a tenant only. Confinement between tenants
// is the one between any two environments (own user, PID and mount
// namespaces, /tmp, and a Runtime API only its user may reach).

// tenantKey is the pool key of fn's environments for tenant.
func tenantKey(k Key, tenant string) Key {
	k.Tenant = tenant
	return k
}

// retireTenants retires the pools of every tenant of key (key without a
// tenant); RetireKey calls it, so retiring a version's key retires all its
// tenants' environments.
func (m *Manager) retireTenants(key Key) {
	if key.Tenant != "" || !m.hasTenants.Load() {
		return
	}
	m.pools.Range(func(k, v any) bool {
		if t := k.(Key); t.Tenant != "" && tenantKey(t, "") == key {
			m.retire(t, v.(*pool))
		}
		return true
	})
}

// appendTenantField adds a JSON platform record's "tenantId" (AWS adds it to
// platform.start and platform.report of tenant-isolated functions; text
// lines carry no tenant).
func appendTenantField(b []byte, tenant string) []byte {
	if tenant == "" {
		return b
	}
	b = append(b, `,"tenantId":`...)
	return appendJSONString(b, tenant)
}

// tenant is the one tenant e serves ("" when its function is not
// tenant-isolated, or for an environment made outside a pool).
func (e *env) tenant() string {
	if e.pool == nil {
		return ""
	}
	return e.pool.key.Tenant
}
