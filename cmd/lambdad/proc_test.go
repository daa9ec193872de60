package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lambdad/lambdad/internal/sandbox/nsinit"
)

// buildLambdad compiles this command into a temporary directory, so the
// tests exercise the real binary: flags, environment, logging, exit.
func buildLambdad(t *testing.T) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not on PATH")
	}
	bin := filepath.Join(t.TempDir(), "lambdad")
	cmd := exec.Command(gobin, "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// readyRE matches the one line lambdad logs once it accepts connections.
var readyRE = regexp.MustCompile(`msg="?[^"]*\bready\b.*\baddress=(\S+)`)

// proc is a running lambdad whose stderr is collected line by line.
type proc struct {
	cmd   *exec.Cmd
	addr  string // http://host:port from the ready line
	ready chan string
	done  chan struct{} // closed when the log stream ends
	err   error         // from Wait, valid after done

	mu    sync.Mutex
	lines []string
}

// startLambdad runs bin in directory wd ("" for the test's) with args and
// extra environment, and waits for its ready line. The process is killed
// when the test ends.
func startLambdad(t *testing.T, bin, wd string, env []string, args ...string) *proc {
	t.Helper()
	p, err := spawn(bin, wd, env, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.kill(syscall.SIGKILL)
		unmountLeftovers(wd, dataDirOf(wd, env, args))
	})
	select {
	case p.addr = <-p.ready:
	case <-p.done:
		t.Fatalf("lambdad exited before ready: %v\n%s", p.err, p.log())
	case <-time.After(20 * time.Second):
		t.Fatalf("lambdad not ready after 20s\n%s", p.log())
	}
	return p
}

func spawn(bin, wd string, env []string, args ...string) (*proc, error) {
	cmd := exec.Command(bin, args...)
	cmd.Dir = wd
	cmd.Env = append(cleanEnv(), env...)
	r, w := io.Pipe()
	cmd.Stderr = w
	cmd.Stdout = w
	p := &proc{cmd: cmd, ready: make(chan string, 1), done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		p.err = cmd.Wait()
		w.Close()
	}()
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.lines = append(p.lines, line)
			p.mu.Unlock()
			if m := readyRE.FindStringSubmatch(line); m != nil && !sent {
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

func (p *proc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

func (p *proc) logLines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...)
}

// kill signals the process and waits for it to be gone.
func (p *proc) kill(sig syscall.Signal) {
	if p.cmd.Process == nil {
		return
	}
	p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// freePort returns a loopback port nobody listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func healthy(ctx context.Context, base string) bool {
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

func itoa(n int) string { return strconv.Itoa(n) }

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
