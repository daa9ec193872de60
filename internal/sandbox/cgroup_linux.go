//go:build linux

package sandbox

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const cgroupFS = "/sys/fs/cgroup"

// cgroupRoot is this Manager's cgroup subtree: on cgroup v2 one directory,
// on v1 one per controller (memory, pids), created under lambdad's own
// cgroup so that limits on lambdad also bound its environments.
type cgroupRoot struct {
	v2   bool
	base string // v2
	mem  string // v1
	pids string // v1

	// The optional cpu controller (cgroup_cpu_linux.go), probed on first use.
	cpuOnce sync.Once
	cpuOK   bool   // v2: enabled for environments
	cpu     string // v1: this instance's directory in the cpu hierarchy

	// The optional cpuset controller (cgroup_cpuset_linux.go), probed on
	// first use: whole vCPUs are pinned cores, not a CFS quota.
	cpusetOnce sync.Once
	cpuset     string // v1: this instance's directory in the cpuset hierarchy
	cpusetOK   bool   // v2: enabled for environments
	hostCPUs   []int  // the cores environments may be pinned to
	mems       string // v1: the memory nodes a cpuset needs
	nextCPU    atomic.Uint64
}

type envCgroup struct {
	dirs []string
	// join lists the files the environment's init writes "0" to, to move
	// itself in. On v1 that is "tasks": moving only the calling thread
	// skips the kernel's threadgroup lock, whose write side waits for an
	// RCU grace period (5-15 ms per cold start); the bootstrap exec'd from
	// that thread then runs there alone. v2 has no per-thread file for
	// domain cgroups, so it moves the whole process through cgroup.procs.
	join []string
	peak *os.File // memory.peak (v2) or memory.max_usage_in_bytes (v1)
	// resettable: writing to peak restarts it from the current usage (v1
	// always; v2 per open file since Linux 6.12). Where it is not, cur is
	// memory.current and a run reports the usage at its end.
	resettable bool
	cur        *os.File
	counter    *counterFile // peakBytes's reader of peak or cur
}

// cgroupOwner identifies a lambdad process in a way that holds across PID
// namespaces and pid reuse: the inode of its PID namespace, its pid there,
// and its start time (clock ticks after boot).
type cgroupOwner struct {
	ns    uint64
	pid   int
	start uint64
}

// selfOwner is this process as a cgroupOwner.
func selfOwner() (cgroupOwner, error) {
	var st syscall.Stat_t
	if err := syscall.Stat("/proc/self/ns/pid", &st); err != nil {
		return cgroupOwner{}, err
	}
	start, err := procStart("self")
	if err != nil {
		return cgroupOwner{}, err
	}
	return cgroupOwner{ns: st.Ino, pid: os.Getpid(), start: start}, nil
}

// procStart is the start time of /proc/<pid>.
func procStart(pid string) (uint64, error) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, err
	}
	s := string(b)
	// The command in parentheses may hold spaces; starttime is the 20th
	// field after it.
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 20 {
		return 0, fmt.Errorf("short /proc/%s/stat", pid)
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// tag names the owner's cgroups: lambdad-<pid>-<start>-<ns>-<random>.
func (o cgroupOwner) tag() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "lambdad-" + strconv.Itoa(o.pid) + "-" + strconv.FormatUint(o.start, 10) + "-" +
		strconv.FormatUint(o.ns, 10) + "-" + hex.EncodeToString(b[:])
}

// parseOwner reads the owner out of a cgroup name made by tag.
func parseOwner(name string) (cgroupOwner, bool) {
	rest, ok := strings.CutPrefix(name, "lambdad-")
	if !ok {
		return cgroupOwner{}, false
	}
	f := strings.Split(rest, "-")
	if len(f) != 4 {
		return cgroupOwner{}, false
	}
	pid, err1 := strconv.Atoi(f[0])
	start, err2 := strconv.ParseUint(f[1], 10, 64)
	ns, err3 := strconv.ParseUint(f[2], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || pid <= 0 {
		return cgroupOwner{}, false
	}
	return cgroupOwner{ns: ns, pid: pid, start: start}, true
}

// provenDead reports whether o, seen from me, has certainly exited. Only
// an owner in this PID namespace can be checked: the same pid elsewhere is
// another process (or none), so other namespaces' owners count as alive.
// /proc must show this namespace too (a container may see the host's).
func (me cgroupOwner) provenDead(o cgroupOwner) bool {
	if o.ns != me.ns || o == me {
		return false
	}
	if self, err := os.Readlink("/proc/self"); err != nil || self != strconv.Itoa(me.pid) {
		return false
	}
	start, err := procStart(strconv.Itoa(o.pid))
	if errors.Is(err, os.ErrNotExist) {
		return true
	}
	// A live process with another start time took over a dead owner's pid.
	return err == nil && start != o.start
}

// sweepDead removes, under parent, the cgroups that lambdad instances which
// are proven no longer running left behind, with their environments'
// cgroups. A cgroup that still holds a process is kept (rmdir refuses it),
// and so is any whose owner may live: in another PID namespace, or named
// in an older format that lacks it. It returns how many it removed.
func sweepDead(parent string, me cgroupOwner) int {
	ents, err := os.ReadDir(parent)
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range ents {
		o, ok := parseOwner(e.Name())
		if !e.IsDir() || !ok || !me.provenDead(o) {
			continue
		}
		dir := filepath.Join(parent, e.Name())
		if subs, err := os.ReadDir(dir); err == nil {
			for _, sub := range subs {
				if sub.IsDir() {
					_ = os.Remove(filepath.Join(dir, sub.Name()))
				}
			}
		}
		if os.Remove(dir) == nil {
			n++
		}
	}
	return n
}

func newCgroupRoot() (*cgroupRoot, error) {
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	me, err := selfOwner()
	if err != nil {
		return nil, err
	}
	tag := me.tag()
	if ctrl, err := os.ReadFile(filepath.Join(cgroupFS, "cgroup.controllers")); err == nil {
		if !hasWord(string(ctrl), "memory") || !hasWord(string(ctrl), "pids") {
			return nil, errors.New("cgroup v2 without memory and pids controllers")
		}
		// The root cgroup may have both processes and enabled controllers;
		// a nested one may not, so environments live directly under it.
		if err := os.WriteFile(filepath.Join(cgroupFS, "cgroup.subtree_control"), []byte("+memory +pids"), 0); err != nil {
			return nil, fmt.Errorf("enable controllers: %w", err)
		}
		sweepDead(cgroupFS, me)
		r := &cgroupRoot{v2: true, base: filepath.Join(cgroupFS, tag)}
		if err := r.ensure(); err != nil {
			r.close()
			return nil, err
		}
		return r, nil
	}
	r := &cgroupRoot{}
	for line := range strings.Lines(string(self)) {
		f := strings.SplitN(strings.TrimSpace(line), ":", 3)
		if len(f) != 3 {
			continue
		}
		for c := range strings.SplitSeq(f[1], ",") {
			switch c {
			case "memory":
				r.mem = filepath.Join(cgroupFS, "memory", f[2], tag)
			case "pids":
				r.pids = filepath.Join(cgroupFS, "pids", f[2], tag)
			}
		}
	}
	if r.mem == "" || r.pids == "" {
		return nil, errors.New("no cgroup v1 memory and pids hierarchies")
	}
	sweepDead(filepath.Dir(r.mem), me)
	sweepDead(filepath.Dir(r.pids), me)
	if err := r.ensure(); err != nil {
		r.close()
		return nil, err
	}
	return r, nil
}

// ensure makes the root's directories where they are missing: at start,
// and again should someone remove them while we run.
func (r *cgroupRoot) ensure() error {
	mkdir := func(d string) error {
		if err := os.Mkdir(d, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
		return nil
	}
	if r.v2 {
		if err := mkdir(r.base); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(r.base, "cgroup.subtree_control"), []byte("+memory +pids"), 0); err != nil {
			return fmt.Errorf("enable controllers: %w", err)
		}
		return nil
	}
	return errors.Join(mkdir(r.mem), mkdir(r.pids))
}

func hasWord(s, w string) bool {
	for f := range strings.FieldsSeq(s) {
		if f == w {
			return true
		}
	}
	return false
}

// create makes an environment's cgroup, remaking the root first if it has
// gone (another instance's sweep, an administrator).
func (r *cgroupRoot) create(name string, memMB int) (*envCgroup, error) {
	ec, err := r.createOnce(name, memMB)
	if errors.Is(err, os.ErrNotExist) {
		if err = r.ensure(); err == nil {
			ec, err = r.createOnce(name, memMB)
		}
	}
	return ec, err
}

func (r *cgroupRoot) createOnce(name string, memMB int) (*envCgroup, error) {
	limit := []byte(strconv.FormatInt(int64(memMB)<<20, 10))
	ec := &envCgroup{}
	var err error
	if r.v2 {
		d := filepath.Join(r.base, name)
		if err = os.Mkdir(d, 0o755); err != nil {
			return nil, err
		}
		ec.dirs = []string{d}
		ec.join = []string{filepath.Join(d, "cgroup.procs")}
		err = errors.Join(
			os.WriteFile(filepath.Join(d, "memory.max"), limit, 0),
			os.WriteFile(filepath.Join(d, "pids.max"), []byte("1024"), 0))
		_ = os.WriteFile(filepath.Join(d, "memory.swap.max"), []byte("0"), 0)
		if err == nil {
			// The per-fd reset needs the file opened for writing; older
			// kernels refuse that (the file is read-only there).
			ec.peak, err = os.OpenFile(filepath.Join(d, "memory.peak"), os.O_RDWR, 0)
			if err == nil {
				_, werr := ec.peak.Write([]byte("0"))
				ec.resettable = werr == nil
			} else {
				ec.peak, err = os.Open(filepath.Join(d, "memory.peak"))
			}
			if err == nil && !ec.resettable {
				ec.cur, err = os.Open(filepath.Join(d, "memory.current"))
			}
		}
	} else {
		md, pd := filepath.Join(r.mem, name), filepath.Join(r.pids, name)
		if err = os.Mkdir(md, 0o755); err != nil {
			return nil, err
		}
		ec.dirs = []string{md}
		if err = os.Mkdir(pd, 0o755); err == nil {
			ec.dirs = append(ec.dirs, pd)
			ec.join = []string{filepath.Join(md, "tasks"), filepath.Join(pd, "tasks")}
			err = errors.Join(
				os.WriteFile(filepath.Join(md, "memory.limit_in_bytes"), limit, 0),
				os.WriteFile(filepath.Join(pd, "pids.max"), []byte("1024"), 0))
			// Without swap accounting these fail; there is then no swap
			// to escape the limit into either.
			_ = os.WriteFile(filepath.Join(md, "memory.memsw.limit_in_bytes"), limit, 0)
			_ = os.WriteFile(filepath.Join(md, "memory.swappiness"), []byte("0"), 0)
		}
		if err == nil {
			ec.peak, err = os.OpenFile(filepath.Join(md, "memory.max_usage_in_bytes"), os.O_RDWR, 0)
			ec.resettable = err == nil
		}
	}
	if err != nil {
		ec.remove()
		return nil, err
	}
	return ec, nil
}

// resetPeak starts a new run's peak from the current usage, so that a run
// does not report an earlier one's (an OOM's) high-water mark.
func (c *envCgroup) resetPeak() {
	if c.resettable {
		_, _ = c.peak.WriteAt([]byte("0"), 0)
	}
}

// peakBytes is the most memory used since the last resetPeak; where the
// peak cannot be reset it is the usage now, as a stale peak would be wrong
// for every run after the biggest.
func (c *envCgroup) peakBytes() int64 {
	if c.counter == nil {
		f := c.peak
		if !c.resettable && c.cur != nil {
			f = c.cur
		}
		if f == nil {
			return 0
		}
		c.counter = newCounterFile(f)
	}
	return c.counter.value()
}

// counterFile reads a cgroup counter with one pread per read: os.File's
// ReadAt fills its buffer or stops at EOF, so it spends a second pread per
// read (per invoke) on learning that a one-line file has ended. It is read
// by one goroutine at a time: its environment's invocation.
type counterFile struct {
	rc   syscall.RawConn
	buf  [32]byte
	n    int
	read func(fd uintptr) bool // made once, so a read allocates nothing
}

func newCounterFile(f *os.File) *counterFile {
	c := &counterFile{}
	c.rc, _ = f.SyscallConn()
	c.read = func(fd uintptr) bool {
		c.n, _ = syscall.Pread(int(fd), c.buf[:], 0)
		return true
	}
	return c
}

func (c *counterFile) value() int64 {
	c.n = 0
	if c.rc == nil || c.rc.Read(c.read) != nil || c.n <= 0 {
		return 0
	}
	v, _ := strconv.ParseInt(strings.TrimSpace(string(c.buf[:c.n])), 10, 64)
	return v
}

// remove kills stragglers and deletes the cgroup; the environment's init
// has exited, but its namespace may take a moment to empty.
// It reports whether it did: then no process of the environment is left.
func (c *envCgroup) remove() bool {
	if c.peak != nil {
		c.peak.Close()
	}
	if c.cur != nil {
		c.cur.Close()
	}
	for i := len(c.dirs) - 1; i >= 0; i-- {
		d := c.dirs[i]
		for try := 0; try < 100; try++ {
			err := os.Remove(d)
			if err == nil || errors.Is(err, os.ErrNotExist) {
				break
			}
			if procs, rerr := os.ReadFile(filepath.Join(d, "cgroup.procs")); rerr == nil {
				for f := range strings.FieldsSeq(string(procs)) {
					if pid, perr := strconv.Atoi(f); perr == nil {
						_ = syscall.Kill(pid, syscall.SIGKILL)
					}
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	for _, d := range c.dirs {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			return false
		}
	}
	return true
}

// dirs are the root's directories: one on v2, one per controller on v1.
func (r *cgroupRoot) dirs() []string {
	if r.v2 {
		return []string{r.base}
	}
	return []string{r.mem, r.pids}
}

func (r *cgroupRoot) close() {
	for _, d := range r.dirs() {
		_ = os.Remove(d)
	}
	// Waits for a probe under way (an environment starting as lambdad
	// closes), so r.cpu is read after it is written; none starts after.
	r.cpuOnce.Do(func() {})
	if r.cpu != "" {
		_ = os.Remove(r.cpu)
	}
	r.cpusetOnce.Do(func() {})
	if r.cpuset != "" {
		_ = os.Remove(r.cpuset)
	}
}
