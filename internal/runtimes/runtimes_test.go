package runtimes

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

func TestKnown(t *testing.T) {
	t.Parallel()
	c := newCatalog(t)
	for rt, want := range map[string]bool{
		"provided": true, "provided.al2": true, "provided.al2023": true,
		"python3.9": true, "python3.12": true, "python3.14": true,
		"nodejs18.x": true, "nodejs20.x": true, "nodejs24.x": true,
		"python3.8": false, "python3.15": false, "python3.012": false, "python2.7": false,
		"nodejs16.x": false, "nodejs25.x": false, "nodejs20": false,
		"java21": false, "ruby3.3": false, "dotnet8": false, "go1.x": false, "": false, "provided.al3": false,
	} {
		if got := c.Known(rt); got != want {
			t.Errorf("Known(%q) = %v, want %v", rt, got, want)
		}
	}
}

func TestUnavailableRuntimes(t *testing.T) {
	t.Parallel()
	c := newCatalog(t)
	for rt, msg := range map[string]string{
		"java21":     "Runtime java21 is not supported by lambdad: no java launcher",
		"java8.al2":  "Runtime java8.al2 is not supported by lambdad: no java launcher",
		"ruby3.3":    "Runtime ruby3.3 is not supported by lambdad: no ruby launcher",
		"dotnet8":    "Runtime dotnet8 is not supported by lambdad: no dotnet launcher",
		"go1.x":      "Runtime go1.x is not supported by lambdad: no go1.x launcher (use provided.al2023 with a bootstrap binary)",
		"python2.7":  "Runtime python2.7 is not supported by lambdad: no launcher for python2.7",
		"nodejs16.x": "Runtime nodejs16.x is not supported by lambdad: no launcher for nodejs16.x",
	} {
		_, err := c.Launch(rt, "index.handler", t.TempDir(), nil)
		var ue *UnavailableError
		if !errors.As(err, &ue) || ue.Runtime != rt || err.Error() != msg {
			t.Errorf("Launch(%s) error = %v, want %q", rt, err, msg)
		}
	}
}

func TestProvidedBootstrapLookup(t *testing.T) {
	t.Parallel()
	c := newCatalog(t)
	withBoot := writeFiles(t, map[string]string{"bootstrap": "#!/bin/sh\n"})
	empty := writeFiles(t, map[string]string{"readme.txt": "no bootstrap here"})
	dirNamedBootstrap := writeFiles(t, map[string]string{"bootstrap/file": "a directory is not a bootstrap"})
	tests := []struct {
		name   string
		code   string
		layers []string
		want   string // Command[0], "" for an error
	}{
		{"code root", withBoot, nil, "{TASK_ROOT}/bootstrap"},
		{"code wins over layer", withBoot, []string{withBoot}, "{TASK_ROOT}/bootstrap"},
		{"first layer", empty, []string{withBoot, empty}, "{OPT}/bootstrap"},
		{"later layer", empty, []string{empty, dirNamedBootstrap, withBoot}, "{OPT}/bootstrap"},
		{"none", empty, []string{empty}, ""},
		{"directory named bootstrap", dirNamedBootstrap, nil, ""},
	}
	for _, tc := range tests {
		for _, rt := range []string{"provided", "provided.al2", "provided.al2023"} {
			l, err := c.Launch(rt, "ignored", tc.code, tc.layers)
			if tc.want == "" {
				var ue *UnavailableError
				if !errors.As(err, &ue) || err.Error() != rt+": no bootstrap file in the code or in any layer" {
					t.Errorf("%s/%s: error %v", tc.name, rt, err)
				}
				continue
			}
			if err != nil || !slices.Equal(l.Command, []string{tc.want}) || l.RuntimeDir != "" || len(l.Env) != 0 {
				t.Errorf("%s/%s: %+v, %v", tc.name, rt, l, err)
			}
		}
	}
}

// TestProvidedRuns starts a custom runtime (a Python script as bootstrap)
// found in a layer, through the same placeholders a sandbox replaces.
func TestProvidedRuns(t *testing.T) {
	t.Parallel()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found")
	}
	c := newCatalog(t)
	layer := writeFiles(t, map[string]string{"bootstrap": "#!" + py + `
import http.client, json, os
conn = http.client.HTTPConnection(os.environ["AWS_LAMBDA_RUNTIME_API"])
while True:
    conn.request("GET", "/2018-06-01/runtime/invocation/next")
    r = conn.getresponse()
    event = json.loads(r.read())
    rid = r.getheader("Lambda-Runtime-Aws-Request-Id")
    body = json.dumps({"handler": os.environ["_HANDLER"], "event": event, "exec_env": os.environ.get("AWS_EXECUTION_ENV")})
    conn.request("POST", "/2018-06-01/runtime/invocation/%s/response" % rid, body)
    conn.getresponse().read()
`})
	code := writeFiles(t, map[string]string{"function.sh": "echo unused"})
	e := start(t, c, "provided.al2023", "function.handler", code, startOpts{layers: []string{layer}})
	_, p := e.invoke(`{"x":1}`)
	jsonEqual(t, p.body, `{"handler":"function.handler","event":{"x":1},"exec_env":null}`)
}

// countingLogger returns a logger and a function counting WARN records so far.
func countingLogger() (*slog.Logger, func() int) {
	var buf syncBuffer
	l := slog.New(slog.NewTextHandler(&buf, nil))
	return l, func() int { return strings.Count(buf.String(), "level=WARN") }
}

// TestInterpreterSelection changes PATH, so it cannot run in parallel.
func TestInterpreterSelection(t *testing.T) {
	// The real binary behind python3, which may be a version manager's shim
	// that stops working once PATH changes.
	out, err := exec.Command("python3", "-c", "import sys; print(sys.executable)").Output()
	if err != nil {
		t.Skip("python3 does not run:", err)
	}
	realPy := strings.TrimSpace(string(out))
	v, _, err := pythonProbe(t.Context(), realPy)
	if err != nil {
		t.Skip("python3 does not run:", err)
	}
	if _, ok := pythonVersion(fmt.Sprintf("python%d.%d", v[0], v[1])); !ok {
		t.Skipf("python3 is %d.%d, which lambdad does not run", v[0], v[1])
	}
	realNode, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not found")
	}
	nv, _, err := nodeProbe(t.Context(), realNode)
	if err != nil {
		t.Skip("node does not run:", err)
	}

	bin := t.TempDir()
	link := func(name, target string) {
		if err := os.Symlink(target, filepath.Join(bin, name)); err != nil {
			t.Fatal(err)
		}
	}
	// The interpreter's own versioned name, a broken shim for python3.12
	// (unless that is the real version), and fallbacks under other names.
	own := fmt.Sprintf("python%d.%d", v[0], v[1])
	link(own, realPy)
	link("fallbackpy", realPy)
	link("mynode", realNode)
	other := "python3.12"
	if own == other {
		other = "python3.13"
	}
	if err := os.WriteFile(filepath.Join(bin, other), []byte("#!/bin/sh\necho 'shim: not installed' >&2\nexit 127\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin)
	t.Setenv("HOME", t.TempDir()) // no pyenv, asdf, uv or nvm
	for _, v := range []string{"PYENV_ROOT", "ASDF_DATA_DIR", "UV_PYTHON_INSTALL_DIR", "XDG_DATA_HOME", "NVM_DIR"} {
		t.Setenv(v, "")
	}

	logger, warnings := countingLogger()
	c, err := New(Config{Dir: t.TempDir(), Python: "fallbackpy", Node: "mynode", Fallback: true, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	check := func(rt, wantBin string, wantWarnings int) Launch {
		t.Helper()
		l, err := c.Launch(rt, "app.handler", t.TempDir(), nil)
		if err != nil {
			t.Fatalf("Launch(%s): %v", rt, err)
		}
		// The interpreter's own binary is launched, not the link to it.
		got, _ := filepath.EvalSymlinks(l.Command[0])
		want, _ := filepath.EvalSymlinks(filepath.Join(bin, wantBin))
		if got != want {
			t.Errorf("Launch(%s) runs %s, want %s", rt, l.Command[0], filepath.Join(bin, wantBin))
		}
		if got := warnings(); got != wantWarnings {
			t.Errorf("after Launch(%s): %d warnings, want %d", rt, got, wantWarnings)
		}
		return l
	}
	l := check(own, own, 0)
	if !slices.Contains(l.Env, "AWS_EXECUTION_ENV=AWS_Lambda_"+own) || l.RuntimeDir == "" {
		t.Errorf("python launch %+v", l)
	}
	check(other, "fallbackpy", 1) // the broken shim is skipped
	check(other, "fallbackpy", 1) // one warning per runtime id
	missing := "python3.14"
	if own == missing {
		missing = "python3.9"
	}
	check(missing, "fallbackpy", 2)
	check(missing, "fallbackpy", 2)

	sameMajor := fmt.Sprintf("nodejs%d.x", nv[0])
	otherMajor := "nodejs22.x"
	if nv[0] == 22 {
		otherMajor = "nodejs20.x"
	}
	if _, ok := nodeVersion(sameMajor); ok {
		l = check(sameMajor, "mynode", 2)
		if !slices.Contains(l.Env, "AWS_EXECUTION_ENV=AWS_Lambda_"+sameMajor) {
			t.Errorf("node launch %+v", l)
		}
	}
	check(otherMajor, "mynode", 3)
	check(otherMajor, "mynode", 3)

	// Nothing usable at all.
	c2, err := New(Config{Dir: t.TempDir(), Python: "nopython", Node: "nonode", Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	_, full, _ := pythonProbe(t.Context(), realPy)
	minor := strings.TrimPrefix(other, "python3.")
	for rt, msg := range map[string]string{
		// Without Fallback, the version found is named, not run.
		other: fmt.Sprintf("Runtime %s is not supported by lambdad: no CPython 3.%s found; install it with `uv python install 3.%s` or `pyenv install 3.%s`, or start lambdad with --runtime-fallback to run it on python %s",
			other, minor, minor, minor, full),
		"nodejs20.x": "Runtime nodejs20.x is not supported by lambdad: no Node.js 20 found; install it with `lambdad runtimes install nodejs20.x`",
	} {
		_, err := c2.Launch(rt, "app.handler", t.TempDir(), nil)
		var ue *UnavailableError
		if !errors.As(err, &ue) || err.Error() != msg {
			t.Errorf("Launch(%s) = %v, want %q", rt, err, msg)
		}
	}
}

func TestMaterialiseIdempotent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c1, err := New(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	c2, err := New(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if c1.pythonDir != c2.pythonDir || c1.nodeDir != c2.nodeDir || c1.pythonDir == c1.nodeDir {
		t.Errorf("dirs differ: %s %s / %s %s", c1.pythonDir, c2.pythonDir, c1.nodeDir, c2.nodeDir)
	}
	for d, src := range map[string]string{c1.pythonDir: "assets/python", c1.nodeDir: "assets/node"} {
		entries, _ := fs.ReadDir(assets, src)
		for _, e := range entries {
			want, _ := fs.ReadFile(assets, src+"/"+e.Name())
			got, err := os.ReadFile(filepath.Join(d, e.Name()))
			if err != nil || string(got) != string(want) {
				t.Errorf("%s/%s differs from the embedded file (%v)", d, e.Name(), err)
			}
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("runtime dir holds %v, want just the two bootstrap dirs", names)
	}
	if _, err := New(Config{}); err == nil {
		t.Error("New without Dir succeeded")
	}
}

// TestPrepare checks that Prepare's work leaves the interpreters probed and
// the Python runtime compiled before any launch, and that Close stops it.
func TestPrepare(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("no python3")
	}
	c, err := New(Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	c.prepare()
	c.mu.Lock()
	py, node := c.probes["python3"], c.probes["node"]
	c.mu.Unlock()
	if py == nil || node == nil {
		t.Fatalf("not probed: python3 %v, node %v", py, node)
	}
	if py.err == nil {
		pyc, _ := filepath.Glob(filepath.Join(c.pythonDir, "__pycache__", "lambdad_runtime.*.pyc"))
		if len(pyc) == 0 {
			t.Error("the Python runtime was not compiled")
		}
	}
	c.Close()

	// Closed at once: the work stops and Close returns.
	c2, err := New(Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	c2.Prepare()
	c2.Close()
}

// TestLargeEvents sends a 5 MB event through each bundled runtime twice
// (a warm runtime reuses its connection) and gets it back whole.
func TestLargeEvents(t *testing.T) {
	t.Parallel()
	c := newCatalog(t)
	big := strings.Repeat("lambdad ", 5<<20/8)
	event := `{"big":"` + big + `"}`
	for _, tc := range []struct{ runtime, handler, file, src string }{
		{"python3.12", "app.handler", "app.py", pyApp},
		{"nodejs20.x", "index.handler", "index.js", nodeCJS},
	} {
		t.Run(tc.runtime, func(t *testing.T) {
			t.Parallel()
			e := start(t, c, tc.runtime, tc.handler, writeFiles(t, map[string]string{tc.file: tc.src}), startOpts{})
			for i := 1; i <= 2; i++ {
				_, p := e.invoke(event)
				var got struct {
					Event struct{ Big string } `json:"event"`
					Count int                  `json:"count"`
				}
				if p.kind != "response" || json.Unmarshal([]byte(p.body), &got) != nil || got.Event.Big != big || got.Count != i {
					t.Fatalf("invoke %d: %s, %d bytes back", i, p.kind, len(p.body))
				}
			}
		})
	}
}

// TestRuntimeFilesReadableByAll: isolated environments read the runtime as
// users of their own, so its files are readable by all whatever lambdad's
// umask. Not parallel: the umask is the process's.
func TestRuntimeFilesReadableByAll(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	c, err := New(Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{c.pythonDir, c.nodeDir} {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			if want := fs.FileMode(0o644); d.IsDir() {
				want = 0o755
				if fi.Mode().Perm() != want {
					t.Errorf("%s: %v, want %v", p, fi.Mode().Perm(), want)
				}
			} else if fi.Mode().Perm() != want {
				t.Errorf("%s: %v, want %v", p, fi.Mode().Perm(), want)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestLaunchHostDirs: Python and Node launches name the interpreter's
// install prefix, which isolated environments must see.
func TestLaunchHostDirs(t *testing.T) {
	t.Parallel()
	c := newCatalog(t)
	for _, rt := range []string{"python3.12", "nodejs20.x"} {
		l, err := c.Launch(rt, "index.handler", t.TempDir(), nil)
		if err != nil {
			t.Logf("%s: %v", rt, err)
			continue
		}
		if !slices.ContainsFunc(l.HostDirs, func(d string) bool { return filepath.IsAbs(d) && strings.HasPrefix(l.Command[0], d+"/") }) {
			t.Errorf("%s: HostDirs %v do not hold the interpreter %s", rt, l.HostDirs, l.Command[0])
		}
	}
	l, err := c.Launch("provided.al2023", "x", writeFiles(t, map[string]string{"bootstrap": "#!/bin/sh\n"}), nil)
	if err == nil && len(l.HostDirs) != 0 {
		t.Errorf("provided: HostDirs %v", l.HostDirs)
	}
}

// fakeNode writes <dir>/<name>/bin/node, a stand-in that reports version
// and its own path as node would; exit 127 for version "" (a broken shim).
func fakeNode(t *testing.T, dir, name, version string) string {
	t.Helper()
	bin := filepath.Join(dir, name, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\necho 'shim: not installed' >&2\nexit 127\n"
	if version != "" {
		script = "#!/bin/sh\ncase \"$1\" in\n--version) echo v" + version + " ;;\n-p) echo \"$0\" ;;\n*) exit 1 ;;\nesac\n"
	}
	path := filepath.Join(bin, "node")
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestNodeVersionSelection checks that nodejsN.x runs with the first of
// Config.Nodes whose major version is N, skipping binaries that do not run,
// and falls back to Config.Node (warning once when its major differs).
func TestNodeVersionSelection(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	broken := fakeNode(t, dir, "broken", "")
	n24 := fakeNode(t, dir, "n24", "24.1.0")
	n22 := fakeNode(t, dir, "n22", "22.3.1")
	n22b := fakeNode(t, dir, "n22b", "22.9.0")
	n20 := fakeNode(t, dir, "n20", "20.20.2")

	logger, warnings := countingLogger()
	env := fakeEnv(map[string]string{"HOME": t.TempDir(), "PATH": dir})
	c, err := New(Config{Dir: t.TempDir(), Node: n20, Nodes: []string{broken, n24, n22, n22b}, Fallback: true, Getenv: env, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, tc := range []struct {
		runtime, want string
		warnings      int
	}{
		{"nodejs22.x", n22, 0}, // the first 22 after the broken one, not n22b
		{"nodejs24.x", n24, 0},
		{"nodejs20.x", n20, 0}, // none listed: --node, which is 20
		{"nodejs18.x", n20, 1}, // no 18: the nearest (Fallback), which it says
		{"nodejs18.x", n20, 1}, // once per runtime
	} {
		l, err := c.Launch(tc.runtime, "index.handler", t.TempDir(), nil)
		if err != nil {
			t.Fatalf("Launch(%s): %v", tc.runtime, err)
		}
		if l.Command[0] != tc.want {
			t.Errorf("Launch(%s) runs %s, want %s", tc.runtime, l.Command[0], tc.want)
		}
		// Isolated environments see the binary's install prefix.
		if prefix := filepath.Dir(filepath.Dir(tc.want)); !slices.Contains(l.HostDirs, prefix) {
			t.Errorf("Launch(%s).HostDirs = %v, want %s among them", tc.runtime, l.HostDirs, prefix)
		}
		if !slices.Contains(l.Env, "AWS_EXECUTION_ENV=AWS_Lambda_"+tc.runtime) {
			t.Errorf("Launch(%s).Env = %v", tc.runtime, l.Env)
		}
		if got := warnings(); got != tc.warnings {
			t.Errorf("after Launch(%s): %d warnings, want %d", tc.runtime, got, tc.warnings)
		}
	}
	// Prepare says at start that a configured binary does not run.
	c.prepare()
	if got := warnings(); got != 2 {
		t.Errorf("after prepare: %d warnings, want 2 (the broken binary)", got)
	}

	// With no Nodes and Fallback, nodejs22.x runs on --node's 20 and says so.
	c2, err := New(Config{Dir: t.TempDir(), Node: n20, Fallback: true, Getenv: env})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if l, err := c2.Launch("nodejs22.x", "index.handler", t.TempDir(), nil); err != nil || l.Command[0] != n20 || l.Fallback != "node 20.20.2 (fallback for nodejs22.x)" {
		t.Errorf("without Nodes, Launch(nodejs22.x) = %v %q, %v; want %s", l.Command, l.Fallback, err, n20)
	}
}
