package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lambdad/lambdad/internal/testkit"
)

// Shared fixtures, built once per test binary.
var fixtures struct {
	goHandler string   // dir containing the aws-lambda-go test binary "bootstrap"
	pyDir     string   // dir containing pyruntime.py and a "bootstrap" script
	python    string   // real python3 executable (not a pyenv shim)
	pyDirs    []string // its install prefixes (Function.HostDirs)
	buildErr  error
}

func TestMain(m *testing.M) {
	MaybeRunInit() // documents the hook; nsinit's init() already ran it
	if spec := os.Getenv(peerChildEnv); spec != "" {
		os.Exit(peerChild(spec))
	}
	dir, err := os.MkdirTemp("", "sandbox-fixtures-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fixtures.buildErr = buildFixtures(dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func buildFixtures(dir string) error {
	fixtures.goHandler = filepath.Join(dir, "go")
	if err := testkit.BuildGoBootstrap("testdata/gohandler", filepath.Join(fixtures.goHandler, "bootstrap")); err != nil {
		return err
	}
	const locate = "import os, sys; print(sys.executable); print(os.path.realpath(sys.prefix)); print(os.path.realpath(sys.base_prefix))"
	if out, err := exec.Command("python3", "-c", locate).Output(); err == nil {
		lines := strings.Fields(string(out))
		fixtures.python, fixtures.pyDirs = lines[0], lines[1:]
		fixtures.pyDir = filepath.Join(dir, "py")
		if err := os.MkdirAll(fixtures.pyDir, 0o755); err != nil {
			return err
		}
		src, err := os.ReadFile("testdata/pyruntime.py")
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(fixtures.pyDir, "pyruntime.py"), src, 0o644); err != nil {
			return err
		}
	}
	// Fixture dirs must be readable by the environments' unprivileged users.
	return os.Chmod(dir, 0o755)
}

func needGo(t testing.TB) {
	t.Helper()
	if fixtures.buildErr != nil {
		t.Fatal(fixtures.buildErr)
	}
}

func needPython(t testing.TB) {
	t.Helper()
	if fixtures.python == "" {
		t.Skip("python3 not available")
	}
}

func newTestManager(t testing.TB, isolation string, mut ...func(*Config)) (*Manager, string) {
	t.Helper()
	// The hidden dir must sit where the environment could otherwise see it
	// (the test's /tmp is replaced by a private one anyway).
	hidden := visibleTempDir(t)
	if err := os.WriteFile(filepath.Join(hidden, "secret.txt"), []byte("top secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		WorkDir:     filepath.Join(visibleTempDir(t), "sandbox"),
		IdleTimeout: time.Minute,
		Isolation:   isolation,
		HideDirs:    []string{hidden},
		Logger:      slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	for _, f := range mut {
		f(&cfg)
	}
	m, err := NewManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := m.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return m, hidden
}

func visibleTempDir(t testing.TB) string {
	t.Helper()
	home, err := os.UserHomeDir()
	if err != nil {
		return t.TempDir()
	}
	d, err := os.MkdirTemp(home, ".lambdad-sandbox-test-")
	if err != nil {
		return t.TempDir()
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

var keySeq atomic.Int64

func goFunction(mut ...func(*Function)) *Function {
	fn := &Function{
		Key:      Key{FunctionARN: fmt.Sprintf("arn:aws:lambda:us-east-1:000000000000:function:go%d", keySeq.Add(1)), Version: "$LATEST"},
		Command:  []string{"{TASK_ROOT}/bootstrap"},
		CodeDir:  fixtures.goHandler,
		Env:      []string{"AWS_LAMBDA_FUNCTION_VERSION=$LATEST", "AWS_LAMBDA_FUNCTION_NAME=go", "MY_VAR=hello"},
		MemoryMB: 128,
		Timeout:  5 * time.Second,
	}
	for _, f := range mut {
		f(fn)
	}
	return fn
}

func pyFunction(mut ...func(*Function)) *Function {
	fn := &Function{
		Key:                Key{FunctionARN: fmt.Sprintf("arn:aws:lambda:us-east-1:000000000000:function:py%d", keySeq.Add(1)), Version: "$LATEST"},
		Command:            []string{fixtures.python, "-u", "{TASK_ROOT}/pyruntime.py"},
		CodeDir:            fixtures.pyDir,
		HostDirs:           fixtures.pyDirs,
		Env:                []string{"AWS_LAMBDA_FUNCTION_VERSION=7"},
		MemoryMB:           128,
		Timeout:            10 * time.Second,
		EphemeralStorageMB: 512,
	}
	for _, f := range mut {
		f(fn)
	}
	return fn
}

var reqSeq atomic.Int64

func newInv(payload any) Invocation {
	b, err := json.Marshal(payload)
	if err != nil {
		panic(err)
	}
	return Invocation{
		RequestID:          fmt.Sprintf("0000%04d-1111-2222-3333-444455556666", reqSeq.Add(1)%10000),
		InvokedFunctionARN: "arn:aws:lambda:us-east-1:000000000000:function:f",
		Payload:            b,
	}
}

func invoke(t testing.TB, m *Manager, fn *Function, payload any) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := m.Invoke(ctx, fn, newInv(payload))
	if err != nil {
		t.Fatalf("invoke %v: %v", payload, err)
	}
	return res
}

// modes runs f unconfined and, where the kernel allows, isolated.
func modes(t *testing.T, f func(t *testing.T, isolation string)) {
	for _, mode := range []string{"off", "auto"} {
		t.Run("isolation="+mode, func(t *testing.T) { f(t, mode) })
	}
}
