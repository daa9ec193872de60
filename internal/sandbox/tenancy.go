package sandbox

import (
	"errors"
	"sync/atomic"
)

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

// ErrTenantEnvLimit: a tenant needed a new environment while its function
// had Invocation.TenantEnvLimit environments of tenants already.
var ErrTenantEnvLimit = errors.New("sandbox: the function's tenant environments are at their limit")

// admitTenantEnv refuses a new environment for inv's tenant when the
// function's tenants have their limit of environments, active or idle.
// Racing cold starts may pass the limit by as many as race; it is AWS's
// bound on a scale lambdad does not reach, not a precise quota.
func (m *Manager) admitTenantEnv(p *pool, inv Invocation) error {
	if p.key.Tenant == "" || inv.TenantEnvLimit <= 0 {
		return nil
	}
	if m.tenantEnvCount(p.key.FunctionARN).Load() >= int64(inv.TenantEnvLimit) {
		return ErrTenantEnvLimit
	}
	return nil
}

func (m *Manager) tenantEnvCount(functionARN string) *atomic.Int64 {
	if c, ok := m.tenantEnvs.Load(functionARN); ok {
		return c.(*atomic.Int64)
	}
	c, _ := m.tenantEnvs.LoadOrStore(functionARN, new(atomic.Int64))
	return c.(*atomic.Int64)
}

// TenantEnvs is how many environments of tenants functionARN has.
func (m *Manager) TenantEnvs(functionARN string) int {
	if c, ok := m.tenantEnvs.Load(functionARN); ok {
		return int(c.(*atomic.Int64).Load())
	}
	return 0
}

// envMade and envGone count an environment in its pool and, for a
// tenant's, in its function's tenant environments.
func (m *Manager) envMade(e *env) {
	if e.pool == nil {
		return
	}
	e.pool.mu.Lock()
	e.pool.live++
	e.pool.mu.Unlock()
	if t := e.pool.key; t.Tenant != "" {
		m.tenantEnvCount(t.FunctionARN).Add(1)
	}
}

func (m *Manager) envGone(e *env) {
	if e.pool == nil {
		return
	}
	e.pool.mu.Lock()
	e.pool.live--
	e.pool.mu.Unlock()
	if t := e.pool.key; t.Tenant != "" {
		m.tenantEnvCount(t.FunctionARN).Add(-1)
	}
}

// dropTenantPools forgets the pools of tenants that have no environment
// left, so that tenants come and go without their pools piling up. A pool
// dropped while an invoke is about to start an environment in it is
// retired: that environment stops after its invocation, and the tenant's
// next invoke makes a new pool.
func (m *Manager) dropTenantPools() {
	if !m.hasTenants.Load() {
		return
	}
	m.pools.Range(func(k, v any) bool {
		key, p := k.(Key), v.(*pool)
		if key.Tenant == "" {
			return true
		}
		p.mu.Lock()
		empty := p.live == 0 && len(p.idle) == 0 && !p.retired
		if empty {
			p.retired = true
		}
		p.mu.Unlock()
		if empty {
			m.pools.CompareAndDelete(key, p)
		}
		return true
	})
}
