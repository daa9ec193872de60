//go:build linux

package sandbox

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lambdad/lambdad/internal/testkit"
)

func isolatedManager(t *testing.T) (*Manager, string) {
	t.Helper()
	needPython(t)
	m, hidden := newTestManager(t, "auto")
	requireConfinement(t, m)
	return m, hidden
}

// requireConfinement skips a confinement test only where lambdad cannot
// confine at all (not root). As root, as in CI, every part must be in
// effect: a test that skipped there would prove nothing.
func requireConfinement(t *testing.T, m *Manager) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("confinement needs root")
	}
	switch {
	case !m.Isolated():
		t.Fatal("running as root but environments are not isolated (see the warnings above)")
	case m.iso.cg == nil:
		t.Fatal("running as root but environments get no cgroups (see the warnings above)")
	case m.iso.tmp == nil:
		t.Fatal("running as root but /tmp disks are unavailable (see the warnings above)")
	case !m.iso.peerCheck:
		t.Fatal("running as root but the Runtime API peer check is off (see the warnings above)")
	}
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
		{"hidden dir absent", map[string]any{"op": "ls", "path": hidden},
			func(v map[string]any) bool { return v["err"] == "FileNotFoundError" }},
		{"work dir absent", map[string]any{"op": "ls", "path": m.cfg.WorkDir},
			func(v map[string]any) bool { return v["err"] == "FileNotFoundError" }},
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
		{"/tmp owned by the environment's user", map[string]any{"op": "stat", "path": "/tmp"},
			func(v map[string]any) bool { u, _ := v["uid"].(float64); return u >= envUIDBase }},
		{"/etc read-only", map[string]any{"op": "write", "path": "/etc/hosts"},
			func(v map[string]any) bool { return v["err"] == "OSError" || v["err"] == "PermissionError" }},
		{"no /etc/shadow", map[string]any{"op": "read", "path": "/etc/shadow"},
			func(v map[string]any) bool { return v["err"] == "FileNotFoundError" }},
		{"passwd names the environment's user", map[string]any{"op": "read", "path": "/etc/passwd"},
			func(v map[string]any) bool {
				s, _ := v["data"].(string)
				return regexp.MustCompile(`(?m)^sbx_user1051:x:20\d{8}:20\d{8}:`).MatchString(s) && !strings.Contains(s, "nologin\nnobody")
			}},
		{"resolver config present", map[string]any{"op": "read", "path": "/etc/resolv.conf"},
			func(v map[string]any) bool { return v["err"] == nil }},
		{"unprivileged user", map[string]any{"op": "id"},
			func(v map[string]any) bool {
				u, _ := v["uid"].(float64)
				g, _ := v["groups"].([]any)
				return u >= envUIDBase && u < envUIDBase+envUIDBlocks*envUIDBlockSize && v["euid"] == u && v["gid"] == u && len(g) == 0
			}},
		{"PID 1", map[string]any{"op": "pid"},
			func(v map[string]any) bool { return v["pid"] == 1.0 }},
		{"no open-file limit above 1024", map[string]any{"op": "nofile"},
			func(v map[string]any) bool { return v["nofile"] == 1024.0 }},
		{"no capabilities", map[string]any{"op": "read", "path": "/proc/self/status"},
			func(v map[string]any) bool {
				s, _ := v["data"].(string)
				for _, f := range []string{"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"} {
					if !regexp.MustCompile(`(?m)^` + f + `:\s+0+$`).MatchString(s) {
						return false
					}
				}
				return regexp.MustCompile(`(?m)^NoNewPrivs:\s+1$`).MatchString(s)
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := invoke(t, m, fn, tc.ev)
			if r.FunctionError != "" {
				t.Fatalf("%s", r.Payload)
			}
			if v := testkit.DecodeJSON[map[string]any](t, r.Payload); !tc.ok(v) {
				t.Errorf("%v -> %v", tc.ev, v)
			}
		})
	}
}

func TestIsolationTmpSizeCap(t *testing.T) {
	m, _ := isolatedManager(t)
	fn := pyFunction(func(f *Function) { f.EphemeralStorageMB = 8 })
	v := testkit.DecodeJSON[map[string]any](t, invoke(t, m, fn, map[string]any{"op": "fill", "mb": 20}).Payload)
	if v["err"] != "OSError" || v["mb"].(float64) > 8 {
		t.Fatalf("wrote past an 8 MB /tmp: %v", v)
	}
}

func TestIsolationMemoryLimit(t *testing.T) {
	m, _ := isolatedManager(t)
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
	// Enough memory that only the pids limit can stop the forks.
	fn := pyFunction(func(f *Function) { f.MemoryMB = 4096 })
	r := invoke(t, m, fn, map[string]any{"op": "fork", "n": 1100})
	v := testkit.DecodeJSON[map[string]any](t, r.Payload)
	if v["err"] == "" || v["forked"].(float64) >= 1024 {
		t.Fatalf("forked past pids.max: %v", v)
	}
}

// TestIsolationRootAllowList checks that the environment's root holds the
// allow-listed entries and nothing else of the host.
func TestIsolationRootAllowList(t *testing.T) {
	m, _ := isolatedManager(t)
	fn := pyFunction()
	want := []string{"dev", "etc", "opt", "proc", "tmp", "usr", "var"}
	for _, d := range []string{"bin", "sbin", "lib", "lib32", "lib64", "libx32"} {
		if _, err := os.Lstat("/" + d); err == nil {
			want = append(want, d)
		}
	}
	for _, d := range fn.HostDirs { // the interpreter's prefix, e.g. /root/.pyenv/...
		if top := strings.Split(d, "/")[1]; top != "usr" && !slices.Contains(want, top) {
			want = append(want, top)
		}
	}
	slices.Sort(want)
	v := testkit.DecodeJSON[map[string]any](t, invoke(t, m, fn, map[string]any{"op": "ls", "path": "/"}).Payload)
	var got []string
	for _, n := range v["names"].([]any) {
		got = append(got, n.(string))
	}
	if !slices.Equal(got, want) {
		t.Errorf("/ holds %v, want %v", got, want)
	}
	for _, d := range fn.HostDirs {
		if strings.HasPrefix(d, "/usr/") {
			continue
		}
		// The prefix is there; its parents cannot be listed (/root).
		if v := testkit.DecodeJSON[map[string]any](t, invoke(t, m, fn, map[string]any{"op": "ls", "path": d}).Payload); v["err"] != nil {
			t.Errorf("interpreter prefix %s: %v", d, v)
		}
		parent := "/" + strings.Split(d, "/")[1]
		if v := testkit.DecodeJSON[map[string]any](t, invoke(t, m, fn, map[string]any{"op": "ls", "path": parent}).Payload); v["err"] != "PermissionError" {
			t.Errorf("ls %s (parent of the interpreter's prefix) = %v, want PermissionError", parent, v)
		}
	}
	v = testkit.DecodeJSON[map[string]any](t, invoke(t, m, fn, map[string]any{"op": "ls", "path": "/etc"}).Payload)
	for _, n := range v["names"].([]any) {
		if n == "shadow" || n == "gshadow" || n == "sudoers" || n == "machine-id" {
			t.Errorf("/etc shows %s", n)
		}
	}
}

// TestIsolationHidesDataInsideHostDirs: lambdad's data inside a dir that
// environments see (an interpreter's prefix here) stays hidden.
func TestIsolationHidesDataInsideHostDirs(t *testing.T) {
	needPython(t)
	prefix := visibleTempDir(t)
	if err := os.Chmod(prefix, 0o755); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(prefix, "data")
	for _, d := range []string{data, filepath.Join(prefix, "lib")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(data, "metadata.db"), []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	m, _ := newTestManager(t, "auto", func(c *Config) { c.HideDirs = append(c.HideDirs, data) })
	requireConfinement(t, m)
	fn := pyFunction(func(f *Function) { f.HostDirs = append(slices.Clone(f.HostDirs), prefix) })
	if v := testkit.DecodeJSON[map[string]any](t, invoke(t, m, fn, map[string]any{"op": "ls", "path": prefix}).Payload); !slices.Equal(v["names"].([]any), []any{"data", "lib"}) {
		t.Fatalf("ls prefix: %v", v)
	}
	if v := testkit.DecodeJSON[map[string]any](t, invoke(t, m, fn, map[string]any{"op": "ls", "path": data}).Payload); v["err"] != nil || len(v["names"].([]any)) != 0 {
		t.Errorf("hidden data dir: %v", v)
	}
}

// TestIsolationUsersDiffer: two live environments run as different users,
// and /dev/shm is bounded.
func TestIsolationUsersDiffer(t *testing.T) {
	m, _ := isolatedManager(t)
	mut := func(f *Function) { f.MemoryMB = 256; f.EphemeralStorageMB = 100 }
	a := testkit.DecodeJSON[map[string]any](t, invoke(t, m, pyFunction(mut), map[string]any{"op": "id"}).Payload)["uid"]
	fn := pyFunction(mut)
	b := testkit.DecodeJSON[map[string]any](t, invoke(t, m, fn, map[string]any{"op": "id"}).Payload)["uid"]
	if a == b || m.Stats().Total != 2 {
		t.Errorf("two live environments: uids %v and %v (%+v)", a, b, m.Stats())
	}
	v := testkit.DecodeJSON[map[string]any](t, invoke(t, m, fn, map[string]any{"op": "statvfs", "path": "/dev/shm"}).Payload)
	if v["mb"].(float64) != 100 {
		t.Errorf("/dev/shm is %v MB, want min(EphemeralStorage 100, Memory/2 128) = 100", v["mb"])
	}
}

// TestRuntimeAPIOwnUserOnly attacks an environment's Runtime API from the
// test process (root), from another uid, and from another environment:
// each connection is closed before anything is read.
func TestRuntimeAPIOwnUserOnly(t *testing.T) {
	m, _ := isolatedManager(t)
	if !m.iso.peerCheck {
		t.Fatal("the Runtime API peer check is off on this kernel")
	}
	victim := pyFunction()
	api := testkit.DecodeJSON[map[string]any](t, invoke(t, m, victim, map[string]any{"op": "env"}).Payload)["AWS_LAMBDA_RUNTIME_API"].(string)
	c := &http.Client{Timeout: 2 * time.Second}
	// Refused means closed at once, not left waiting for an invocation.
	resp, err := c.Get("http://" + api + "/2018-06-01/runtime/invocation/next")
	if err == nil {
		resp.Body.Close()
		t.Errorf("root's GET /next answered %s", resp.Status)
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Errorf("root's GET /next was accepted and waited: %v", err)
	}
	v := testkit.DecodeJSON[map[string]any](t, invoke(t, m, pyFunction(), map[string]any{"op": "steal", "api": api}).Payload)
	if !slices.Contains([]any{"RemoteDisconnected", "ConnectionResetError", "BrokenPipeError"}, v["err"]) {
		t.Errorf("another environment's GET /next: %v", v)
	}
	// The victim still works: its own runtime's connection was accepted.
	if v := testkit.DecodeJSON[map[string]any](t, invoke(t, m, victim, map[string]any{"op": "pid"}).Payload); v["pid"] != 1.0 {
		t.Errorf("victim after the attacks: %v", v)
	}
}

// TestIsolationIPC: a System V shared memory segment one environment makes
// is not found by another (nor by the host), and goes when it stops.
func TestIsolationIPC(t *testing.T) {
	m, _ := isolatedManager(t)
	key := 0x1a3bd00 + int(time.Now().UnixNano()%1000)
	v := testkit.DecodeJSON[map[string]any](t, invoke(t, m, pyFunction(), map[string]any{"op": "shmget", "key": key, "create": true}).Payload)
	if v["id"].(float64) < 0 {
		t.Fatalf("create: %v", v)
	}
	v = testkit.DecodeJSON[map[string]any](t, invoke(t, m, pyFunction(), map[string]any{"op": "shmget", "key": key}).Payload)
	if v["id"].(float64) >= 0 || v["errno"] != 2.0 { // ENOENT
		t.Errorf("another environment found the segment: %v", v)
	}
}
