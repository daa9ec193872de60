package sandbox

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lambdad/lambdad/internal/sandbox/nsinit"
	"github.com/lambdad/lambdad/internal/testkit"
)

// enospc is ENOSPC as Python reports it in errno.
const enospc = float64(syscall.ENOSPC)

// TestTmpNotChargedToMemory: a 128 MB function fills most of a 1,024 MB
// /tmp without being OOM-killed (a tmpfs /tmp is charged to its memory),
// and writing past the cap fails with ENOSPC, not an OOM kill.
func TestTmpNotChargedToMemory(t *testing.T) {
	m, _ := isolatedManager(t)
	fn := pyFunction(func(f *Function) { f.MemoryMB = 128; f.EphemeralStorageMB = 1024; f.Timeout = 60 * time.Second })
	r := invoke(t, m, fn, map[string]any{"op": "fill", "mb": 1000})
	if r.FunctionError != "" {
		t.Fatalf("writing 1,000 MB to a 1,024 MB /tmp with 128 MB of memory: %s\n%s", r.Payload, r.Log)
	}
	if v := testkit.DecodeJSON[map[string]any](t, r.Payload); v["err"] != "" || v["mb"] != 1000.0 {
		t.Fatalf("wrote %v", v)
	}
	r = invoke(t, m, fn, map[string]any{"op": "fill", "mb": 1100})
	if r.FunctionError != "" {
		t.Fatalf("writing past the cap: %s\n%s", r.Payload, r.Log)
	}
	if v := testkit.DecodeJSON[map[string]any](t, r.Payload); v["errno"] != enospc || v["mb"].(float64) < 1000 || v["mb"].(float64) > 1024 {
		t.Fatalf("writing 1,100 MB to a 1,024 MB /tmp: %v, want ENOSPC after 1,000 to 1,024 MB", v)
	}
}

// TestTmpPrivate checks that environments, of one function or of two, do not
// see each other's /tmp.
func TestTmpPrivate(t *testing.T) {
	m, _ := isolatedManager(t)
	a, b := pyFunction(), pyFunction()
	write := func(fn *Function, name string) {
		t.Helper()
		if v := testkit.DecodeJSON[map[string]any](t, invoke(t, m, fn, map[string]any{"op": "write", "path": "/tmp/" + name}).Payload); v["err"] != "" {
			t.Fatalf("write /tmp/%s: %v", name, v)
		}
	}
	ls := func(fn *Function) []any {
		t.Helper()
		v := testkit.DecodeJSON[map[string]any](t, invoke(t, m, fn, map[string]any{"op": "ls", "path": "/tmp"}).Payload)
		names, _ := v["names"].([]any)
		return names
	}
	write(a, "a")
	write(b, "b")
	if n := ls(a); len(n) != 1 || n[0] != "a" {
		t.Errorf("function a's /tmp: %v, want [a]", n)
	}
	if n := ls(b); len(n) != 1 || n[0] != "b" {
		t.Errorf("function b's /tmp: %v, want [b]", n)
	}
	// A second environment of a: start it while the first is busy.
	done := make(chan Result)
	go func() { done <- invoke(t, m, a, map[string]any{"op": "sleep", "s": 1}) }()
	time.Sleep(100 * time.Millisecond)
	if n := ls(a); len(n) != 0 {
		t.Errorf("a second environment of a sees %v in /tmp", n)
	}
	<-done
}

// envDisk is the /tmp disk of fn's only environment.
func envDisk(t *testing.T, m *Manager, key Key) *tmpDisk {
	t.Helper()
	m.envMu.Lock()
	defer m.envMu.Unlock()
	var d *tmpDisk
	for e := range m.envs {
		if e.fn.Key == key {
			d = e.tmpDisk
		}
	}
	if d == nil {
		t.Fatal("the environment has no /tmp disk")
	}
	return d
}

// released reports whether nothing of d is mounted or attached any more.
func released(t *testing.T, d *tmpDisk) bool {
	_, err := os.Stat(d.img)
	return !mounted(t, d.mnt) && len(loopsBacking(d.img)) == 0 && os.IsNotExist(err)
}

// pooled reports whether d is ready in the pool.
func pooled(m *Manager, d *tmpDisk) bool {
	td := m.iso.tmp
	for range len(td.pool) {
		select {
		case p := <-td.pool:
			td.pool <- p
			if p == d {
				return true
			}
		default:
		}
	}
	return false
}

// TestTmpReleased checks that nothing of an environment's /tmp stays mounted
// or attached once it stops (without a pool to return it to), nor of any
// once the Manager closes.
func TestTmpReleased(t *testing.T) {
	m, _ := newTestManager(t, "auto", func(c *Config) { c.tmpPool = -1 })
	requireConfinement(t, m)
	fn := pyFunction()
	invoke(t, m, fn, map[string]any{"op": "write", "path": "/tmp/x"})
	d := envDisk(t, m, fn.Key)
	if !mounted(t, d.mnt) || len(loopsBacking(d.img)) != 1 {
		t.Fatalf("the running environment's /tmp is not mounted from a loop device")
	}
	m.RetireKey(fn.Key)
	testkit.Eventually(t, 10*time.Second, "the stopped environment's /tmp is still mounted or attached", func() bool { return released(t, d) })
	wd := m.cfg.WorkDir
	if err := m.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "after Close, mounts or loop devices remain under the work dir", func() bool {
		ms, _ := nsinit.MountsUnder(wd)
		return len(ms) == 0 && len(loopsUnder(wd)) == 0
	})
}

// TestTmpReuseIsClean: a stopped environment's disk, wiped, may serve
// another function's environment, which must find an empty /tmp as made
// (owned by its own user);
// a disk whose root the function marked in a way the wipe does not undo is
// not reused at all.
func TestTmpReuseIsClean(t *testing.T) {
	m, _ := isolatedManager(t)
	if m.iso.tmp == nil || m.iso.tmp.pool == nil {
		t.Fatal("no /tmp disk pool on this host; see the warning above")
	}
	// Leaves files, a tree, links, odd modes and a changed root behind.
	mess := map[string]any{"op": "exec", "code": `
os.makedirs("/tmp/a/b/c")
open("/tmp/a/b/c/secret", "w").write("secret")
open("/tmp/ro", "w").write("x"); os.chmod("/tmp/ro", 0)
os.chmod("/tmp/a/b", 0)
os.symlink("/tmp/ro", "/tmp/link"); os.link("/tmp/ro", "/tmp/hard")
os.mkfifo("/tmp/fifo")
os.chmod("/tmp", 0o700)
out = sorted(os.listdir("/tmp"))
`}
	look := map[string]any{"op": "exec", "code": `
st = os.stat("/tmp")
out = {"names": os.listdir("/tmp"), "mode": st.st_mode & 0o7777, "uid": st.st_uid, "me": os.getuid(), "xattrs": os.listxattr("/tmp")}
`}
	a := pyFunction()
	if r := invoke(t, m, a, mess); r.FunctionError != "" || len(testkit.DecodeJSON[map[string]any](t, []byte(`{"v":`+string(r.Payload)+`}`))["v"].([]any)) != 5 {
		t.Fatalf("making a mess: %s", r.Payload)
	}
	d := envDisk(t, m, a.Key)
	m.RetireKey(a.Key)
	testkit.Eventually(t, 10*time.Second, "the wiped disk did not return to the pool", func() bool { return pooled(m, d) })
	// Take environments until one gets that disk.
	for i := 0; ; i++ {
		b := pyFunction()
		r := invoke(t, m, b, look)
		if v := testkit.DecodeJSON[map[string]any](t, r.Payload); len(v["names"].([]any)) != 0 || v["mode"] != float64(0o1777) || v["uid"] != v["me"] || len(v["xattrs"].([]any)) != 0 {
			t.Fatalf("a new environment's /tmp: %v", v)
		}
		if envDisk(t, m, b.Key) == d {
			break
		}
		if i == tmpPoolSize+1 {
			t.Fatal("the wiped disk was never handed out")
		}
	}

	// An ACL on the root: the disk is not reused, but released.
	c := pyFunction()
	r := invoke(t, m, c, map[string]any{"op": "exec", "code": `
os.setxattr("/tmp", "user.mark", b"1")
out = os.listxattr("/tmp")
`})
	if r.FunctionError != "" {
		t.Fatalf("%s", r.Payload)
	}
	d = envDisk(t, m, c.Key)
	m.RetireKey(c.Key)
	testkit.Eventually(t, 10*time.Second, "a disk whose /tmp root carries an extended attribute was kept", func() bool { return released(t, d) })
}

// TestTmpSpareOtherSize: a wiped disk of a size other than the default is
// kept for the next environment of that size, which finds it empty.
func TestTmpSpareOtherSize(t *testing.T) {
	m, _ := isolatedManager(t)
	if m.iso.tmp == nil || m.iso.tmp.pool == nil {
		t.Fatal("no /tmp disk pool on this host; see the warning above")
	}
	sized := func(f *Function) { f.EphemeralStorageMB = 600 }
	a := pyFunction(sized)
	invoke(t, m, a, map[string]any{"op": "write", "path": "/tmp/secret", "data": "a's"})
	d := envDisk(t, m, a.Key)
	m.RetireKey(a.Key)
	td := m.iso.tmp
	testkit.Eventually(t, 10*time.Second, "the wiped 600 MB disk was not kept", func() bool {
		td.bgMu.Lock()
		defer td.bgMu.Unlock()
		return td.spare[600] == d
	})
	b := pyFunction(sized)
	v := testkit.DecodeJSON[map[string]any](t, invoke(t, m, b, map[string]any{"op": "ls", "path": "/tmp"}).Payload)
	if n, _ := v["names"].([]any); len(n) != 0 || envDisk(t, m, b.Key) != d {
		t.Fatalf("the next 600 MB environment: /tmp %v, same disk %v", v, envDisk(t, m, b.Key) == d)
	}
}

// TestTmpCrashCleanup kills -9 a process running a Manager with a live
// environment and checks that the next Manager on its work dir unmounts and
// detaches everything the dead one left.
func TestTmpCrashCleanup(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	needPython(t)
	wd := filepath.Join(visibleTempDir(t), "sandbox")
	cmd := exec.Command(os.Args[0], "-test.run=^TestTmpCrashChild$", "-test.v")
	cmd.Env = append(os.Environ(), "SANDBOX_CRASH_CHILD_WORKDIR="+wd)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if sc.Text() == "child ready" {
				ready <- true
			}
		}
		ready <- false
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatal("child failed")
		}
	case <-time.After(60 * time.Second):
		t.Fatal("child not ready")
	}
	loops := loopsUnder(wd)
	if ms, _ := nsinit.MountsUnder(wd); len(ms) == 0 || len(loops) == 0 {
		t.Fatalf("the child has no /tmp disk mounted: mounts %v, loops %v", ms, loops)
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	t.Cleanup(func() { // the next isolated start sweeps the dead child's cgroups
		if r, err := newCgroupRoot(); err == nil {
			r.close()
		}
	})
	m, err := NewManager(Config{WorkDir: wd, Isolation: "off"})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(context.Background())
	testkit.Eventually(t, 10*time.Second, "mounts or loop devices of the killed lambdad remain", func() bool {
		ms, _ := nsinit.MountsUnder(wd)
		return len(ms) == 0 && len(loopsUnder(wd)) == 0
	})
}

// TestTmpCrashChild is TestTmpCrashCleanup's victim.
func TestTmpCrashChild(t *testing.T) {
	wd := os.Getenv("SANDBOX_CRASH_CHILD_WORKDIR")
	if wd == "" {
		t.Skip("run by TestTmpCrashCleanup")
	}
	needPython(t)
	m, err := NewManager(Config{WorkDir: wd, Isolation: "auto"})
	if err != nil || !m.Isolated() {
		t.Fatal("no isolation", err)
	}
	invoke(t, m, pyFunction(), map[string]any{"op": "write", "path": "/tmp/x"})
	os.Stdout.WriteString("child ready\n")
	time.Sleep(time.Minute)
}

func mounted(t *testing.T, dir string) bool {
	t.Helper()
	ms, err := nsinit.MountsUnder(dir)
	if err != nil {
		t.Fatal(err)
	}
	return len(ms) > 0
}

// loopsBacking lists loop devices whose backing file is img.
func loopsBacking(img string) []string {
	var out []string
	devs, _ := filepath.Glob("/sys/block/loop*/loop/backing_file")
	for _, p := range devs {
		b, err := os.ReadFile(p)
		if err == nil && strings.TrimSuffix(strings.TrimSpace(string(b)), " (deleted)") == img {
			out = append(out, p)
		}
	}
	return out
}

// BenchmarkTmpDiskMake is the cost of a /tmp disk on the cold path (copy
// the template, attach, mount) and, as release-ms, of its release, which
// runs in the background.
func BenchmarkTmpDiskMake(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	td, err := newTmpDisks(visibleTempDir(b), 0, func(string, ...any) {})
	if err != nil {
		b.Fatal(err)
	}
	defer td.close()
	var rel time.Duration
	for b.Loop() {
		d, err := td.make(defaultTmpMB)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		t0 := time.Now()
		releaseDisk(d)
		rel += time.Since(t0)
		b.StartTimer()
	}
	b.ReportMetric(float64(rel.Microseconds())/float64(b.N)/1000, "release-ms")
}
