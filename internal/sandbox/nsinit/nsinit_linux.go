//go:build linux

package nsinit

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Arg0 marks a process as the sandbox init helper: lambdad re-executes
// itself (via /proc/self/exe) with this argv[0] and a JSON Spec as its only
// argument inside fresh mount and PID namespaces; the helper builds the
// environment's filesystem and then execs the bootstrap, which becomes PID 1.
const Arg0 = "lambdad-sandbox-init"

// Status messages from the helper, written to its fd 3, start with 'E' (the
// bootstrap cannot be executed: the function's fault) or 'S' (setup failed:
// ours). The helper closes fd 3 on exec: EOF without a message is success.
const (
	StatusExec  = 'E'
	StatusSetup = 'S'
)

func init() {
	// Running the helper from init() means every binary linking this package
	// (lambdad, any test binary) handles the re-exec before its own main or
	// TestMain could start servers or tests in the child, and before the
	// packages Go initialises after this one spend time on their own init.
	MaybeRun()
}

// MaybeRun returns at once unless this process is the sandbox's init
// helper, in which case it never returns.
func MaybeRun() {
	if len(os.Args) != 2 || os.Args[0] != Arg0 {
		return
	}
	var spec Spec
	if err := json.Unmarshal([]byte(os.Args[1]), &spec); err != nil {
		initFail(StatusSetup, err)
	}
	runtime.LockOSThread() // capabilities and v1 cgroup "tasks" moves are per thread; exec from this one
	if err := spec.setup(); err != nil {
		initFail(StatusSetup, err)
	}
	if spec.Probe {
		os.Exit(0)
	}
	path, err := LookPath(spec.Argv[0], os.Environ(), "/var/task")
	if err != nil {
		initFail(StatusExec, err)
	}
	syscall.CloseOnExec(3)
	err = syscall.Exec(path, spec.Argv, os.Environ())
	initFail(StatusExec, fmt.Errorf("%s: %w", path, err))
}

func initFail(kind byte, err error) {
	f := os.NewFile(3, "status")
	_, _ = f.Write(append([]byte{kind}, err.Error()...))
	os.Exit(125)
}

// Spec is what the helper sets up.
type Spec struct {
	Root    string   // host dir the helper mounts a tmpfs on and pivots into
	Code    string   // -> /var/task (read-only)
	Runtime string   // -> /var/runtime (read-only), may be empty
	Layers  []string // merged into /opt (read-only), later wins
	Tmp     string   // -> /tmp (host tmpfs, read-write)
	// System lays out the rest of the root, in order: the host's system
	// dirs, the files of /etc programs need, the interpreter's prefix.
	// Nothing else of the host appears.
	System []Entry
	// Hide lists paths, as the environment sees them, replaced by empty
	// read-only dirs (lambdad's data inside a dir bound above).
	Hide     []string
	UID, GID int      // the bootstrap's user and group
	ShmMB    int      // size of /dev/shm
	Cgroups  []string // cgroup files to write "0" to, from the exec'ing thread
	Argv     []string
	NoFile   uint64
	Probe    bool // set everything up, then exit 0
}

// Entry is one item of the environment's root.
type Entry struct {
	Path string // absolute, as the environment sees it
	Kind string // one of the Entry* kinds
	// Source is the host path bound or copied (Bind, Copy), or the link's
	// target (Link).
	Source string `json:",omitempty"`
	Data   string `json:",omitempty"` // File's content
	Mode   uint32 `json:",omitempty"` // Dir's and File's permissions
}

// Entry kinds.
const (
	EntryBind = "bind" // host dir Source bound read-only at Path
	EntryLink = "link" // symlink to Source
	EntryCopy = "copy" // host file Source copied (0644); skipped if unreadable
	EntryFile = "file" // a file holding Data
	EntryDir  = "dir"  // an empty dir with Mode
)

func (s *Spec) setup() error {
	unix.Umask(0o022) // the dirs and files made here must be readable by UID
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make / private: %w", err)
	}
	for _, cg := range s.Cgroups {
		if err := os.WriteFile(cg, []byte("0"), 0); err != nil {
			return fmt.Errorf("join cgroup: %w", err)
		}
	}
	root := s.Root
	if err := unix.Mount("tmpfs", root, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size=4m,mode=0755"); err != nil {
		return fmt.Errorf("root tmpfs: %w", err)
	}
	buf := make([]byte, 128<<10)
	for _, en := range s.System {
		if err := en.make(root, buf); err != nil {
			return fmt.Errorf("%s: %w", en.Path, err)
		}
	}
	for _, d := range []string{"/var", "/var/task", "/var/runtime", "/opt", "/tmp", "/proc", "/dev"} {
		if err := mkdir(root+d, 0o755); err != nil {
			return err
		}
	}
	if err := bindRO(s.Code, filepath.Join(root, "var/task")); err != nil {
		return fmt.Errorf("code: %w", err)
	}
	if s.Runtime != "" {
		if err := bindRO(s.Runtime, filepath.Join(root, "var/runtime")); err != nil {
			return fmt.Errorf("runtime: %w", err)
		}
	}
	opt := filepath.Join(root, "opt")
	switch len(s.Layers) {
	case 0:
	case 1:
		if err := bindRO(s.Layers[0], opt); err != nil {
			return fmt.Errorf("layer: %w", err)
		}
	default:
		lower := slices.Clone(s.Layers)
		slices.Reverse(lower) // overlayfs lists the top layer first
		if err := unix.Mount("overlay", opt, "overlay", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV,
			"lowerdir="+strings.Join(lower, ":")); err != nil {
			return fmt.Errorf("layers overlay: %w", err)
		}
	}
	tmp := filepath.Join(root, "tmp")
	if err := unix.Mount(s.Tmp, tmp, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("tmp: %w", err)
	}
	if err := unix.Mount("", tmp, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_NOSUID|unix.MS_NODEV, ""); err != nil {
		return fmt.Errorf("tmp remount: %w", err)
	}
	proc := filepath.Join(root, "proc")
	if err := unix.Mount("proc", proc, "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("proc: %w", err)
	}
	for _, p := range []string{"sys", "sysrq-trigger"} {
		p = filepath.Join(proc, p)
		if err := unix.Mount(p, p, "", unix.MS_BIND, ""); err == nil {
			_ = unix.Mount("", p, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, "")
		}
	}
	if err := setupDev(filepath.Join(root, "dev"), s.ShmMB); err != nil {
		return fmt.Errorf("dev: %w", err)
	}
	if len(s.Hide) > 0 {
		if err := hide(root, s.Hide); err != nil {
			return err
		}
	}
	if err := unix.Mount("", root, "", unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, ""); err != nil {
		return fmt.Errorf("root read-only: %w", err)
	}
	if err := unix.Chdir(root); err != nil {
		return err
	}
	// pivot_root(".", ".") stacks the old root on top of the new one; the
	// detach then drops it, leaving only what was bound above.
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach old root: %w", err)
	}
	if err := unix.Chdir("/var/task"); err != nil {
		return err
	}
	if s.NoFile > 0 {
		lim := syscall.Rlimit{Cur: s.NoFile, Max: s.NoFile}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return fmt.Errorf("rlimit: %w", err)
		}
	}
	if err := dropCapabilities(); err != nil {
		return err
	}
	return setUser(s.UID, s.GID)
}

// make creates the entry under root. Its parent exists: the plan lists
// parents first. Raw syscalls: os.File's poller registration would cost
// more than the copy itself, for each of some thirty entries per start.
func (en *Entry) make(root string, buf []byte) error {
	dst := root + en.Path
	switch en.Kind {
	case EntryBind:
		if err := mkdir(dst, 0o755); err != nil {
			return err
		}
		return bindRO(en.Source, dst)
	case EntryLink:
		return unix.Symlink(en.Source, dst)
	case EntryDir:
		return mkdir(dst, en.Mode)
	case EntryFile:
		return writeFile(dst, []byte(en.Data), en.Mode)
	case EntryCopy:
		// Read at each start, so a changed resolv.conf reaches new
		// environments; a file gone since lambdad planned the root is skipped.
		return copyFile(en.Source, dst, buf)
	}
	return fmt.Errorf("unknown entry kind %q", en.Kind)
}

func mkdir(p string, mode uint32) error {
	if err := unix.Mkdir(p, mode); err != nil && err != unix.EEXIST {
		return err
	}
	return nil
}

func writeFile(p string, b []byte, mode uint32) error {
	fd, err := unix.Open(p, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, mode)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

func copyFile(src, dst string, buf []byte) error {
	in, err := unix.Open(src, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	defer unix.Close(in)
	out, err := unix.Open(dst, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return err
	}
	defer unix.Close(out)
	for {
		n, err := unix.Read(in, buf)
		if err == unix.EINTR {
			continue
		}
		if n <= 0 || err != nil {
			return nil // a short copy of a host file is not fatal
		}
		for b := buf[:n]; len(b) > 0; {
			w, err := unix.Write(out, b)
			if err != nil {
				return err
			}
			b = b[w:]
		}
	}
}

// dropCapabilities empties the bounding, ambient and inheritable sets and
// sets no_new_privs; setUser then leaves root, which clears the permitted
// and effective sets, so the bootstrap has no capability and cannot regain
// one by exec.
func dropCapabilities() error {
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("no_new_privs: %w", err)
	}
	_ = unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
	for c := 0; c <= 63; c++ {
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil {
			if errors.Is(err, unix.EINVAL) {
				break // past the last capability this kernel knows
			}
			return fmt.Errorf("drop capability %d: %w", c, err)
		}
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capget: %w", err)
	}
	// Inheritable must be empty too, or exec could regain them.
	data[0].Inheritable, data[1].Inheritable = 0, 0
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	return nil
}

// setUser makes this thread uid/gid with no supplementary groups. The raw
// syscalls change this thread only, which is the one that execs the
// bootstrap (the helper's other threads die with the exec); Go's wrappers
// would stop every thread to change them all.
func setUser(uid, gid int) error {
	if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, 0, 0, 0); e != 0 {
		return fmt.Errorf("setgroups: %w", e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(gid), uintptr(gid), uintptr(gid)); e != 0 {
		return fmt.Errorf("setresgid: %w", e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(uid), uintptr(uid), uintptr(uid)); e != 0 {
		return fmt.Errorf("setresuid: %w", e)
	}
	return nil
}

func bindRO(src, dst string) error {
	if err := unix.Mount(src, dst, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return err
	}
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV}
	err := unix.MountSetattr(-1, dst, unix.AT_RECURSIVE, &attr)
	if err == nil {
		return nil
	}
	// Kernels before 5.12: read-only for the top mount only.
	return unix.Mount("", dst, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, "")
}

func setupDev(dev string, shmMB int) error {
	if err := unix.Mount("tmpfs", dev, "tmpfs", unix.MS_NOSUID|unix.MS_NOEXEC, "size=64k,mode=0755"); err != nil {
		return err
	}
	for _, n := range []string{"null", "zero", "full", "random", "urandom", "tty"} {
		p := dev + "/" + n
		if err := writeFile(p, nil, 0o666); err != nil {
			return err
		}
		if err := unix.Mount("/dev/"+n, p, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("%s: %w", n, err)
		}
	}
	shm := dev + "/shm"
	if err := mkdir(shm, 0o1777); err != nil {
		return err
	}
	if shmMB <= 0 {
		shmMB = 64
	}
	if err := unix.Mount("tmpfs", shm, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size="+strconv.Itoa(shmMB)+"m,mode=1777"); err != nil {
		return err
	}
	links := [][2]string{{"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"}}
	for _, l := range links {
		if err := unix.Symlink(l[0], dev+"/"+l[1]); err != nil {
			return err
		}
	}
	return nil
}

// hide makes each of the paths hidden (as the environment sees them) an
// empty read-only directory, first detaching whatever is mounted at or below them
// (such as the binds of the environment being built, or other environments'
// /tmp) so nothing stays reachable or pinned.
func hide(root string, hidden []string) error {
	dirs := make([]string, len(hidden))
	for i, h := range hidden {
		dirs[i] = filepath.Join(root, h)
	}
	mounts, err := MountsUnder(dirs...)
	if err != nil {
		return err
	}
	// A lazy unmount takes the mount's whole subtree along, and each one
	// waits for an RCU grace period: unmount only the topmost mounts.
	for i, mp := range mounts {
		if !slices.ContainsFunc(mounts[i+1:], func(p string) bool { return strings.HasPrefix(mp, p+"/") }) {
			_ = unix.Unmount(mp, unix.MNT_DETACH)
		}
	}
	for i, d := range dirs {
		fi, err := os.Stat(d)
		if err != nil || !fi.IsDir() {
			continue // not visible in the environment anyway
		}
		if err := unix.Mount("tmpfs", d, "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "size=4k,mode=0755"); err != nil {
			return fmt.Errorf("hide %s: %w", hidden[i], err)
		}
	}
	return nil
}

// MountsUnder lists mount points at or below any of dirs, deepest first
// (stacked mounts once per mount).
func MountsUnder(dirs ...string) ([]string, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	var out []string
	for line := range strings.Lines(string(data)) {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		mp := unescapeMountinfo(f[4])
		if slices.ContainsFunc(dirs, func(d string) bool { return mp == d || strings.HasPrefix(mp, d+"/") }) {
			out = append(out, mp)
		}
	}
	slices.SortStableFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out, nil
}

func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
