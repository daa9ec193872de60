package runtimes

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fakeEnv is a Config.Getenv that sees only vars.
func fakeEnv(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// fakePython writes an executable at path that prints version whatever it
// is asked: enough for discovery, which asks an interpreter its version
// (and where it lives, which it then cannot say, so path itself is used).
func fakePython(t *testing.T, path, version string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("#!/bin/sh\necho "+version+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestDiscoverPython checks where pythonX.Y is looked for and in which
// order: lambdad's installs, PATH, --python, pyenv, asdf, uv; the newest
// patch release of a manager first; shims that do not run are passed over.
func TestDiscoverPython(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	dir := t.TempDir()
	bin := t.TempDir()
	// PATH: a working python3.10 and a pyenv-style shim for 3.9 that fails.
	py310 := fakePython(t, filepath.Join(bin, "python3.10"), "3.10.4")
	if err := os.WriteFile(filepath.Join(bin, "python3.9"), []byte("#!/bin/sh\necho 'pyenv: python3.9: command not found' >&2\nexit 127\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	// pyenv under ~/.pyenv: two 3.12 releases and a pre-release, and 3.9.
	pyenv := filepath.Join(home, ".pyenv", "versions")
	fakePython(t, filepath.Join(pyenv, "3.12.1", "bin", "python3.12"), "3.12.1")
	py312 := fakePython(t, filepath.Join(pyenv, "3.12.10", "bin", "python3.12"), "3.12.10")
	fakePython(t, filepath.Join(pyenv, "3.12.11rc1", "bin", "python3.12"), "3.12.11")
	py39 := fakePython(t, filepath.Join(pyenv, "3.9.18", "bin", "python3.9"), "3.9.18")
	// asdf under $ASDF_DATA_DIR, uv under $UV_PYTHON_INSTALL_DIR.
	asdf := t.TempDir()
	py311 := fakePython(t, filepath.Join(asdf, "installs", "python", "3.11.9", "bin", "python3.11"), "3.11.9")
	uv := t.TempDir()
	py313 := fakePython(t, filepath.Join(uv, "cpython-3.13.1-linux-x86_64-gnu", "bin", "python3.13"), "3.13.1")
	// A 3.13 in a pyenv-less uv default dir must lose to $UV_PYTHON_INSTALL_DIR.
	fakePython(t, filepath.Join(home, ".local", "share", "uv", "python", "cpython-3.13.2-linux-x86_64-gnu", "bin", "python3.13"), "3.13.2")
	// lambdad's own install wins over everything.
	own := fakePython(t, filepath.Join(dir, "python3.14", "bin", "python3.14"), "3.14.0")
	fakePython(t, filepath.Join(pyenv, "3.14.2", "bin", "python3.14"), "3.14.2")

	env := fakeEnv(map[string]string{"HOME": home, "PATH": bin, "ASDF_DATA_DIR": asdf, "UV_PYTHON_INSTALL_DIR": uv})
	c, err := New(Config{Dir: dir, Python: "nopython", Getenv: env})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, tc := range []struct{ runtime, path, version, source string }{
		{"python3.9", py39, "3.9.18", "pyenv"}, // the PATH shim fails
		{"python3.10", py310, "3.10.4", "PATH"},
		{"python3.11", py311, "3.11.9", "asdf"},
		{"python3.12", py312, "3.12.10", "pyenv"}, // newest release, not the rc
		{"python3.13", py313, "3.13.1", "uv"},
		{"python3.14", own, "3.14.0", "lambdad"},
	} {
		st := c.Status(tc.runtime)
		if st.Path != tc.path || st.Version != tc.version || st.Source != tc.source || st.Missing != "" || st.Fallback != "" {
			t.Errorf("Status(%s) = %+v, want %s %s from %s", tc.runtime, st, tc.path, tc.version, tc.source)
		}
	}

	// $PYENV_ROOT moves pyenv; then nothing has 3.12.
	env2 := fakeEnv(map[string]string{"HOME": home, "PATH": bin, "PYENV_ROOT": t.TempDir()})
	c2, err := New(Config{Dir: t.TempDir(), Getenv: env2})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	st := c2.Status("python3.12")
	if st.Path != "" || st.Install != "uv python install 3.12" || !strings.Contains(st.Missing, "`pyenv install 3.12`") || !strings.Contains(st.Missing, "--runtime-fallback to run it on python 3.13.2") {
		t.Errorf("python3.12 without pyenv: %+v", st)
	}
	_, err = c2.Launch("python3.12", "app.handler", t.TempDir(), nil)
	var ue *UnavailableError
	if !errors.As(err, &ue) || ue.Install != "uv python install 3.12" {
		t.Errorf("Launch(python3.12) without it: %v", err)
	}
}

// TestDiscoverNode checks where nodejsN.x is looked for: lambdad's installs,
// --node-binaries, --node, node on PATH, asdf and nvm.
func TestDiscoverNode(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	dir := t.TempDir()
	tools := t.TempDir()
	own := fakeNode(t, dir, "nodejs18.x", "18.20.8") // <Dir>/nodejs18.x/bin/node
	onPath := fakeNode(t, tools, "path", "20.11.0")
	asdf := fakeNode(t, filepath.Join(home, ".asdf", "installs", "nodejs"), "22.3.1", "22.3.1")
	fakeNode(t, filepath.Join(home, ".asdf", "installs", "nodejs"), "22.12.0", "22.12.0")
	nvm := t.TempDir()
	nvm24 := fakeNode(t, filepath.Join(nvm, "versions", "node"), "v24.1.0", "24.1.0")
	env := fakeEnv(map[string]string{"HOME": home, "PATH": filepath.Dir(onPath), "NVM_DIR": nvm})
	c, err := New(Config{Dir: dir, Node: "nonode", Getenv: env})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	asdf = filepath.Join(filepath.Dir(filepath.Dir(filepath.Dir(asdf))), "22.12.0", "bin", "node")
	for _, tc := range []struct{ runtime, path, version, source string }{
		{"nodejs18.x", own, "18.20.8", "lambdad"},
		{"nodejs20.x", onPath, "20.11.0", "PATH"},
		{"nodejs22.x", asdf, "22.12.0", "asdf"},
		{"nodejs24.x", nvm24, "24.1.0", "nvm"},
	} {
		st := c.Status(tc.runtime)
		if st.Path != tc.path || st.Version != tc.version || st.Source != tc.source || st.Missing != "" {
			t.Errorf("Status(%s) = %+v, want %s %s from %s", tc.runtime, st, tc.path, tc.version, tc.source)
		}
	}
}

// TestRuntimeFallback: without Fallback a runtime with no interpreter of
// its version cannot run and the error names the command that installs
// it; with it, the nearest version runs (the newer on a tie) and Launch
// says which.
func TestRuntimeFallback(t *testing.T) {
	t.Parallel()
	tools := t.TempDir()
	n20 := fakeNode(t, tools, "n20", "20.20.2")
	n24 := fakeNode(t, tools, "n24", "24.11.1")
	env := fakeEnv(map[string]string{"HOME": t.TempDir(), "PATH": t.TempDir()})
	strict, err := New(Config{Dir: t.TempDir(), Node: "nonode", Nodes: []string{n20, n24}, Getenv: env})
	if err != nil {
		t.Fatal(err)
	}
	defer strict.Close()
	_, err = strict.Launch("nodejs22.x", "index.handler", t.TempDir(), nil)
	want := "Runtime nodejs22.x is not supported by lambdad: no Node.js 22 found; install it with `lambdad runtimes install nodejs22.x`, or start lambdad with --runtime-fallback to run it on node 24.11.1"
	var ue *UnavailableError
	if !errors.As(err, &ue) || err.Error() != want || ue.Install != "lambdad runtimes install nodejs22.x" {
		t.Errorf("Launch(nodejs22.x) = %v, want %q", err, want)
	}
	if got := strict.Problem("nodejs22.x"); got != want {
		t.Errorf("Problem(nodejs22.x) = %q", got)
	}
	if got := strict.Problem("nodejs20.x"); got != "" {
		t.Errorf("Problem(nodejs20.x) = %q, want none", got)
	}

	loose, err := New(Config{Dir: t.TempDir(), Node: "nonode", Nodes: []string{n20, n24}, Fallback: true, Getenv: env})
	if err != nil {
		t.Fatal(err)
	}
	defer loose.Close()
	for rt, want := range map[string]struct{ bin, note string }{
		"nodejs22.x": {n24, "node 24.11.1 (fallback for nodejs22.x)"}, // 20 and 24 are as near: the newer
		"nodejs18.x": {n20, "node 20.20.2 (fallback for nodejs18.x)"},
		"nodejs20.x": {n20, ""},
	} {
		l, err := loose.Launch(rt, "index.handler", t.TempDir(), nil)
		if err != nil || l.Command[0] != want.bin || l.Fallback != want.note || !slices.Contains(l.Env, "AWS_EXECUTION_ENV=AWS_Lambda_"+rt) {
			t.Errorf("Launch(%s) = %v %q %v, %v; want %s %q", rt, l.Command, l.Fallback, l.Env, err, want.bin, want.note)
		}
		if st := loose.Status(rt); st.Fallback != want.note || loose.Problem(rt) != "" {
			t.Errorf("Status(%s) = %+v", rt, st)
		}
	}
}

func TestVersionDirs(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	for _, d := range []string{"3.12.1", "3.12.10", "3.12.2", "3.12.11rc1", "3.12", "3.13.0", "3.1.5", "cpython-3.12.3-linux-x86_64-gnu", "x"} {
		if err := os.Mkdir(filepath.Join(parent, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for _, p := range versionDirs(parent, "3.12.") {
		got = append(got, filepath.Base(p))
	}
	if want := []string{"3.12.10", "3.12.2", "3.12.1", "3.12.11rc1"}; !slices.Equal(got, want) {
		t.Errorf("versionDirs(3.12.) = %v, want %v", got, want)
	}
	got = nil
	for _, p := range versionDirs(parent, "cpython-3.12.") {
		got = append(got, filepath.Base(p))
	}
	if want := []string{"cpython-3.12.3-linux-x86_64-gnu"}; !slices.Equal(got, want) {
		t.Errorf("versionDirs(cpython-3.12.) = %v, want %v", got, want)
	}
}

// TestInstalledNodeLaunch: a node of lambdad's installs runs as the
// environment sees it at {LANG_DIR} (/var/lang when isolated), with its
// AWS SDK on NODE_PATH after the layers and the runtime's own dir.
func TestInstalledNodeLaunch(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c, err := New(Config{Dir: dir, Node: "nonode", Getenv: fakeEnv(map[string]string{"HOME": t.TempDir(), "PATH": t.TempDir()})})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Problem("nodejs22.x") == "" {
		t.Fatal("nodejs22.x runs before it is installed")
	}
	// Installed while the catalog is in use: seen from then on.
	fakeNode(t, dir, "nodejs22.x", "22.23.5")
	lang := filepath.Join(dir, "nodejs22.x")
	if err := os.MkdirAll(filepath.Join(lang, "node_modules", "@aws-sdk", "client-s3"), 0o755); err != nil {
		t.Fatal(err)
	}
	l, err := c.Launch("nodejs22.x", "index.handler", t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	wantPath := "NODE_PATH={OPT}/nodejs/node22/node_modules:{OPT}/nodejs/node_modules:{RUNTIME_DIR}/node_modules:{LANG_DIR}/node_modules:{RUNTIME_DIR}:{TASK_ROOT}"
	if l.Command[0] != "{LANG_DIR}/bin/node" || l.LangDir != lang || len(l.HostDirs) != 0 || !slices.Contains(l.Env, wantPath) || l.Version != "node 22.23.5" || l.Fallback != "" {
		t.Errorf("Launch = %+v", l)
	}
	if st := c.Status("nodejs22.x"); st.SDK != filepath.Join(lang, "node_modules") || st.Source != "lambdad" {
		t.Errorf("Status = %+v", st)
	}
}
