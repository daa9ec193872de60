package sandbox

import (
	"slices"
	"testing"
)

// TestRetireScope: retiring a function's version leaves its other versions
// ("12" when retiring "1") and other functions ("f1" when retiring "f")
// alone, and a Key retires only itself, not its hot-reload states.
func TestRetireScope(t *testing.T) {
	const f, f1 = "arn:aws:lambda:us-east-1:000000000000:function:f", "arn:aws:lambda:us-east-1:000000000000:function:f1"
	keys := []Key{
		{FunctionARN: f, Version: "$LATEST", Revision: "r1"},
		{FunctionARN: f, Version: "$LATEST", Revision: "r1", CodeState: "abc"},
		{FunctionARN: f, Version: "1", Revision: "r2"},
		{FunctionARN: f, Version: "12", Revision: "r3"},
		{FunctionARN: f1, Version: "1", Revision: "r4"},
	}
	live := func(m *Manager) []Key {
		var out []Key
		for _, k := range keys {
			if _, ok := m.pools.Load(k); ok {
				out = append(out, k)
			}
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		retire func(*Manager)
		want   []Key
	}{
		{"version", func(m *Manager) { m.Retire(f, "1") }, []Key{keys[0], keys[1], keys[3], keys[4]}},
		{"function", func(m *Manager) { m.Retire(f, "") }, []Key{keys[4]}},
		{"key", func(m *Manager) { m.RetireKey(keys[0]) }, []Key{keys[1], keys[2], keys[3], keys[4]}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &Manager{}
			pools := make([]*pool, len(keys))
			for i, k := range keys {
				pools[i] = m.pool(k)
			}
			tc.retire(m)
			if got := live(m); !slices.Equal(got, tc.want) {
				t.Errorf("live pools %v, want %v", got, tc.want)
			}
			for i, k := range keys {
				if pools[i].retired != !slices.Contains(tc.want, k) {
					t.Errorf("%v retired = %v", k, pools[i].retired)
				}
			}
		})
	}
}
