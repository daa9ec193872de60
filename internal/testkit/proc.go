package testkit

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lambdad/lambdad/internal/sandbox/nsinit"
)

// Binary is a main package compiled once per test binary, on first use, so
// the tests exercise the real binary: flags, environment, logging, exit.
type Binary struct {
	pkg string

	once sync.Once
	dir  string
	path string
	skip string // why the binary cannot be built here
	err  error
}

// NewBinary is the binary of the main package pkg (an import path, or a
// directory relative to the test's such as "."). Call Remove from TestMain
// after the tests ran.
func NewBinary(pkg string) *Binary { return &Binary{pkg: pkg} }

// Path builds the binary if no test did yet and returns its path. It skips
// the test when there is no go tool.
func (b *Binary) Path(t testing.TB) string {
	t.Helper()
	b.once.Do(b.build)
	if b.skip != "" {
		t.Skip(b.skip)
	}
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

func (b *Binary) build() {
	gobin, err := exec.LookPath("go")
	if err != nil {
		b.skip = "go tool not on PATH"
		return
	}
	if b.dir, b.err = os.MkdirTemp("", "lambdad-testkit-bin-"); b.err != nil {
		return
	}
	name := b.pkg
	if abs, err := filepath.Abs(b.pkg); err == nil && strings.HasPrefix(b.pkg, ".") {
		name = abs
	}
	path := filepath.Join(b.dir, filepath.Base(name))
	cmd := exec.Command(gobin, "build", "-o", path, b.pkg)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.err = fmt.Errorf("go build: %v\n%s", err, out)
		return
	}
	b.path = path
}

// Remove deletes what Path built.
func (b *Binary) Remove() {
	if b.dir != "" {
		os.RemoveAll(b.dir)
	}
}

// ReadyRE matches the one line lambdad logs once it accepts connections.
var ReadyRE = regexp.MustCompile(`msg="?[^"]*\bready\b.*\baddress=(\S+)`)

// Proc is a running lambdad whose stdout and stderr are collected line by
// line.
type Proc struct {
	Cmd  *exec.Cmd
	Addr string        // http://host:port from the ready line
	Done chan struct{} // closed when the log stream ends
	Err  error         // from Wait, valid after Done

	ready chan string
	mu    sync.Mutex
	lines []string
}

// StartProcess runs bin in directory wd ("" for the test's) with args and
// extra environment, and waits for its ready line. The process is killed
// when the test ends, and what it left mounted under wd and its data
// directory is detached.
func StartProcess(t testing.TB, bin, wd string, env []string, args ...string) *Proc {
	t.Helper()
	p, err := Spawn(bin, wd, env, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Kill(syscall.SIGKILL)
		unmountLeftovers(wd, dataDirOf(wd, env, args))
	})
	select {
	case p.Addr = <-p.ready:
	case <-p.Done:
		t.Fatalf("lambdad exited before ready: %v\n%s", p.Err, p.Log())
	case <-time.After(20 * time.Second):
		t.Fatalf("lambdad not ready after 20s\n%s", p.Log())
	}
	return p
}

// Spawn starts bin without waiting for anything; its environment is the
// test's without LAMBDAD_* settings, plus env.
func Spawn(bin, wd string, env []string, args ...string) (*Proc, error) {
	cmd := exec.Command(bin, args...)
	cmd.Dir = wd
	cmd.Env = append(cleanEnv(), env...)
	r, w := io.Pipe()
	cmd.Stderr = w
	cmd.Stdout = w
	p := &Proc{Cmd: cmd, ready: make(chan string, 1), Done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		p.Err = cmd.Wait()
		w.Close()
	}()
	go func() {
		defer close(p.Done)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.lines = append(p.lines, line)
			p.mu.Unlock()
			if m := ReadyRE.FindStringSubmatch(line); m != nil && !sent {
				p.ready <- strings.Trim(m[1], `"`)
				sent = true
			}
		}
		io.Copy(io.Discard, r)
	}()
	return p, nil
}

// cleanEnv is the test's environment without LAMBDAD_* settings, so a
// developer's shell cannot change what the tests see.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LAMBDAD_") {
			out = append(out, kv)
		}
	}
	return out
}

// Log is everything the process wrote so far.
func (p *Proc) Log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

// LogLines is Log line by line.
func (p *Proc) LogLines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...)
}

// Kill signals the process and waits for it to be gone.
func (p *Proc) Kill(sig syscall.Signal) {
	if p.Cmd.Process == nil {
		return
	}
	p.Cmd.Process.Signal(sig)
	select {
	case <-p.Done:
	case <-time.After(15 * time.Second):
		p.Cmd.Process.Kill()
		<-p.Done
	}
}

// FreePort returns a loopback port nobody listens on right now.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Healthy reports whether the lambdad at base answers its health check.
func Healthy(ctx context.Context, base string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/_lambdad/health", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode == 200 && strings.Contains(string(b), "ok")
}

// dataDirOf is the data directory lambdad was started with.
func dataDirOf(wd string, env, args []string) string {
	dir := "lambdad-data"
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "LAMBDAD_DATA_DIR="); ok {
			dir = v
		}
	}
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, "--data-dir="); ok {
			dir = v
		} else if a == "--data-dir" && i+1 < len(args) {
			dir = args[i+1]
		}
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(wd, dir)
	}
	return dir
}

// unmountLeftovers detaches what a lambdad killed with SIGKILL left
// mounted (its /tmp disks; their loop devices detach with them), which the
// next lambdad on that data directory would otherwise clear, so that the
// test's temporary directories can be removed.
func unmountLeftovers(dirs ...string) {
	var abs []string
	for _, d := range dirs {
		if d == "" {
			continue
		}
		if a, err := filepath.Abs(d); err == nil {
			abs = append(abs, a)
		}
	}
	mounts, _ := nsinit.MountsUnder(abs...)
	for _, mp := range mounts {
		_ = syscall.Unmount(mp, syscall.MNT_DETACH)
	}
}
