package sandbox

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSweepDead checks that cgroups left by a lambdad that died are removed,
// and nothing of a running one, of one in another PID namespace, of an old
// name, or still in use.
func TestSweepDead(t *testing.T) {
	me, err := selfOwner()
	if err != nil {
		t.Fatal(err)
	}
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	live := exec.Command("sleep", "30")
	if err := live.Start(); err != nil {
		t.Fatal(err)
	}
	defer live.Process.Kill()
	liveStart, err := procStart(strconv.Itoa(live.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	deadOwner := cgroupOwner{ns: me.ns, pid: dead.Process.Pid, start: 1}
	liveOwner := cgroupOwner{ns: me.ns, pid: live.Process.Pid, start: liveStart}
	reused := cgroupOwner{ns: me.ns, pid: live.Process.Pid, start: liveStart - 1} // its pid now runs something else
	foreign := cgroupOwner{ns: me.ns + 1, pid: dead.Process.Pid, start: 1}        // that pid here says nothing of it

	parent := t.TempDir()
	mk := func(parts ...string) string {
		if err := os.MkdirAll(filepath.Join(append([]string{parent}, parts...)...), 0o755); err != nil {
			t.Fatal(err)
		}
		return parts[0]
	}
	gone := mk(deadOwner.tag(), "e1")
	mk(gone, "e2")
	busy := mk(deadOwner.tag(), "e1", "in-use") // rmdir refuses it, as a cgroup with a process
	reusedTag := mk(reused.tag(), "e1")
	liveTag := mk(liveOwner.tag())
	selfTag := mk(me.tag())
	foreignTag := mk(foreign.tag())
	oldName := mk("lambdad-" + strconv.Itoa(dead.Process.Pid) + "-0a0a0a0a") // before owners had a namespace
	mk("lambdad-deadbeef")
	mk("other")

	if n := sweepDead(parent, me); n != 2 {
		t.Errorf("removed %d, want 2", n)
	}
	for name, want := range map[string]bool{
		gone: false, reusedTag: false,
		busy: true, liveTag: true, selfTag: true, foreignTag: true, oldName: true,
		"lambdad-deadbeef": true, "other": true,
	} {
		if _, err := os.Stat(filepath.Join(parent, name)); (err == nil) != want {
			t.Errorf("%s: exists %v, want %v", name, err == nil, want)
		}
	}
}

// TestCgroupSweepAcrossPIDNamespaces runs a lambdad cgroup owner in a PID
// namespace of its own, at a pid no process has here, then starts another
// cgroup root here: its sweep must not take the running owner for dead.
func TestCgroupSweepAcrossPIDNamespaces(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	if r, err := newCgroupRoot(); err != nil {
		t.Fatal("running as root but no cgroups:", err)
	} else {
		r.close()
	}
	// A pid unused here, which the owner will have in its namespace.
	pid := 1000
	for ; pid < 30000; pid++ {
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); os.IsNotExist(err) {
			break
		}
	}
	cmd := exec.Command("/bin/sh", "-c", `echo $1 > /proc/sys/kernel/ns_last_pid || exit 1; "$0" -test.run='^TestCgroupOwnerChild$' & wait`,
		os.Args[0], strconv.Itoa(pid-1))
	cmd.Env = append(os.Environ(), "SANDBOX_CGROUP_OWNER_CHILD=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID, Pdeathsig: syscall.SIGKILL}
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	dirs := make(chan []string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "owner dirs: "); ok {
				dirs <- strings.Fields(d)
			}
		}
		close(dirs)
	}()
	var theirs []string
	select {
	case theirs = <-dirs:
	case <-time.After(30 * time.Second):
	}
	if len(theirs) == 0 {
		t.Fatal("the owner in the other PID namespace did not start")
	}
	t.Cleanup(func() {
		for _, d := range theirs { // the owner can no longer remove them
			_ = os.Remove(filepath.Join(d, "e1"))
			_ = os.Remove(d)
		}
	})
	if !strings.Contains(filepath.Base(theirs[0]), "lambdad-"+strconv.Itoa(pid)+"-") {
		t.Fatalf("owner's cgroup %s, want its pid %d in the name", theirs[0], pid)
	}

	mine, err := newCgroupRoot()
	if err != nil {
		t.Fatal(err)
	}
	defer mine.close()
	for _, d := range theirs {
		if _, err := os.Stat(filepath.Join(d, "e1")); err != nil {
			t.Errorf("a sweep in another PID namespace removed a running owner's cgroup: %v", err)
		}
	}
}

// TestCgroupOwnerChild is the owner that TestCgroupSweepAcrossPIDNamespaces
// runs in another PID namespace.
func TestCgroupOwnerChild(t *testing.T) {
	if os.Getenv("SANDBOX_CGROUP_OWNER_CHILD") == "" {
		t.Skip("run by TestCgroupSweepAcrossPIDNamespaces")
	}
	r, err := newCgroupRoot()
	if err != nil {
		t.Fatal(err)
	}
	ec, err := r.create("e1", 64)
	if err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("owner dirs: " + strings.Join(r.dirs(), " ") + "\n")
	time.Sleep(time.Minute)
	ec.remove()
	r.close()
}

// TestCgroupRootRecreated checks that environments still get cgroups after
// the Manager's own cgroup root was removed from under it.
func TestCgroupRootRecreated(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	r, err := newCgroupRoot()
	if err != nil {
		t.Fatal("running as root but no cgroups:", err)
	}
	defer r.close()
	for _, d := range r.dirs() {
		if err := os.Remove(d); err != nil {
			t.Fatal(err)
		}
	}
	ec, err := r.create("e1", 64)
	if err != nil {
		t.Fatalf("cgroup after the root was removed: %v", err)
	}
	defer ec.remove()
	if _, err := os.Stat(filepath.Join(ec.dirs[0], "cgroup.procs")); err != nil {
		t.Fatal(err)
	}
}
