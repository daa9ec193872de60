package sandbox

import (
	"context"
	"path/filepath"
	"regexp"
	"testing"
)

func isolatedManager(t *testing.T) (*Manager, string) {
	t.Helper()
	needPython(t)
	m, hidden := newTestManager(t, "auto")
	if !m.Isolated() {
		t.Skip("kernel does not allow namespaces here (see warning above); isolation not tested")
	}
	return m, hidden
}

func TestIsolationFilesystem(t *testing.T) {
	m, hidden := isolatedManager(t)
	fn := pyFunction()
	tests := []struct {
		name string
		ev   map[string]any
		ok   func(v map[string]any) bool
	}{
		{"hidden dir content unreadable", map[string]any{"op": "read", "path": filepath.Join(hidden, "secret.txt")},
			func(v map[string]any) bool { return v["err"] == "FileNotFoundError" }},
		{"hidden dir is empty", map[string]any{"op": "ls", "path": hidden},
			func(v map[string]any) bool { n, _ := v["names"].([]any); return v["err"] == nil && len(n) == 0 }},
		{"work dir hidden", map[string]any{"op": "ls", "path": m.cfg.WorkDir},
			func(v map[string]any) bool { n, _ := v["names"].([]any); return len(n) == 0 }},
		{"other code invisible", map[string]any{"op": "read", "path": filepath.Join(fixtures.goHandler, "bootstrap")},
			func(v map[string]any) bool { return v["err"] == "FileNotFoundError" }},
		{"code visible at /var/task", map[string]any{"op": "ls", "path": "/var/task"},
			func(v map[string]any) bool { n, _ := v["names"].([]any); return len(n) == 1 && n[0] == "pyruntime.py" }},
		{"/var/task read-only", map[string]any{"op": "write", "path": "/var/task/new.txt"},
			func(v map[string]any) bool { return v["err"] == "OSError" }},
		{"system dirs read-only", map[string]any{"op": "write", "path": "/usr/evil.txt"},
			func(v map[string]any) bool { return v["err"] == "OSError" }},
		{"/tmp writable", map[string]any{"op": "write", "path": "/tmp/ok.txt"},
			func(v map[string]any) bool { return v["err"] == "" }},
		{"PID 1", map[string]any{"op": "pid"},
			func(v map[string]any) bool { return v["pid"] == 1.0 }},
		{"no open-file limit above 1024", map[string]any{"op": "nofile"},
			func(v map[string]any) bool { return v["nofile"] == 1024.0 }},
		{"no capabilities", map[string]any{"op": "read", "path": "/proc/self/status"},
			func(v map[string]any) bool {
				s, _ := v["data"].(string)
				return regexp.MustCompile(`(?m)^CapEff:\s+0+$`).MatchString(s) && regexp.MustCompile(`(?m)^CapBnd:\s+0+$`).MatchString(s)
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := invoke(t, m, fn, tc.ev)
			if r.FunctionError != "" {
				t.Fatalf("%s", r.Payload)
			}
			if v := decode(t, r.Payload); !tc.ok(v) {
				t.Errorf("%v -> %v", tc.ev, v)
			}
		})
	}
}

func TestIsolationTmpSizeCap(t *testing.T) {
	m, _ := isolatedManager(t)
	fn := pyFunction(func(f *Function) { f.EphemeralStorageMB = 8 })
	v := decode(t, invoke(t, m, fn, map[string]any{"op": "fill", "mb": 20}).Payload)
	if v["err"] != "OSError" || v["mb"].(float64) > 8 {
		t.Fatalf("wrote past an 8 MB /tmp: %v", v)
	}
}

func TestIsolationMemoryLimit(t *testing.T) {
	m, _ := isolatedManager(t)
	if m.iso.cg == nil {
		t.Skip("no cgroups here")
	}
	fn := pyFunction(func(f *Function) { f.MemoryMB = 128 })
	r := invoke(t, m, fn, map[string]any{"op": "alloc", "mb": 16})
	if r.FunctionError != "" || r.MaxMemoryUsedMB < 16 || r.MaxMemoryUsedMB > 128 {
		t.Fatalf("small allocation: %q %s, max used %d MB", r.FunctionError, r.Payload, r.MaxMemoryUsedMB)
	}
	inv := newInv(map[string]any{"op": "alloc", "mb": 400})
	r, err := m.Invoke(context.Background(), fn, inv)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"errorType":"Runtime.ExitError","errorMessage":"RequestId: ` + inv.RequestID + ` Error: Runtime exited with error: signal: killed"}`
	if r.FunctionError != "Unhandled" || string(r.Payload) != want {
		t.Fatalf("over the limit: %q %s", r.FunctionError, r.Payload)
	}
}

func TestIsolationPidsLimit(t *testing.T) {
	m, _ := isolatedManager(t)
	if m.iso.cg == nil {
		t.Skip("no cgroups here")
	}
	// Enough memory that only the pids limit can stop the forks.
	fn := pyFunction(func(f *Function) { f.MemoryMB = 4096 })
	r := invoke(t, m, fn, map[string]any{"op": "fork", "n": 1100})
	v := decode(t, r.Payload)
	if v["err"] == "" || v["forked"].(float64) >= 1024 {
		t.Fatalf("forked past pids.max: %v", v)
	}
}
