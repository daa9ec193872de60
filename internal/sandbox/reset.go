package sandbox

// RetireAll retires every pool (POST /_lambdad/reset): idle environments
// stop now, busy ones when their invocation ends, and every function's next
// invoke starts cold.
func (m *Manager) RetireAll() {
	m.pools.Range(func(k, v any) bool {
		m.retire(k.(Key), v.(*pool))
		return true
	})
}
