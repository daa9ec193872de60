//go:build linux

package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// initArg0 marks a process as the sandbox init helper: lambdad re-executes
// itself (via /proc/self/exe) with this argv[0] inside fresh mount and PID
// namespaces; the helper builds the environment's filesystem and then execs
// the bootstrap, which becomes PID 1.
const initArg0 = "lambdad-sandbox-init"

// Status messages from the helper start with 'E' (the bootstrap cannot be
// executed: the function's fault) or 'S' (setup failed: ours).
const (
	statusExec  = 'E'
	statusSetup = 'S'
)

func init() {
	// Running the helper from init() means every binary linking this package
	// (lambdad, any test binary) handles the re-exec before its own main or
	// TestMain could start servers or tests in the child.
	MaybeRunInit()
}

// MaybeRunInit returns at once unless this process is the sandbox's init
// helper, in which case it never returns. The package calls it from init();
// calling it first thing in main is harmless and documents the re-exec.
func MaybeRunInit() {
	if len(os.Args) != 2 || os.Args[0] != initArg0 {
		return
	}
	var spec initSpec
	if err := json.Unmarshal([]byte(os.Args[1]), &spec); err != nil {
		initFail(statusSetup, err)
	}
	runtime.LockOSThread() // capabilities are per thread; exec from this one
	if err := spec.setup(); err != nil {
		initFail(statusSetup, err)
	}
	if spec.Probe {
		os.Exit(0)
	}
	path, err := lookPath(spec.Argv[0], os.Environ(), "/var/task")
	if err != nil {
		initFail(statusExec, err)
	}
	syscall.CloseOnExec(3)
	err = syscall.Exec(path, spec.Argv, os.Environ())
	initFail(statusExec, fmt.Errorf("%s: %w", path, err))
}

func initFail(kind byte, err error) {
	f := os.NewFile(3, "status")
	_, _ = f.Write(append([]byte{kind}, err.Error()...))
	os.Exit(125)
}

type initSpec struct {
	Root    string   // host dir the helper mounts a tmpfs on and pivots into
	Code    string   // -> /var/task (read-only)
	Runtime string   // -> /var/runtime (read-only), may be empty
	Layers  []string // merged into /opt (read-only), later wins
	Tmp     string   // -> /tmp (host tmpfs, read-write)
	Hide    []string // host dirs replaced by empty read-only dirs
	Cgroups []string // cgroup dirs to join
	Argv    []string
	NoFile  uint64
	Probe   bool // set everything up, then exit 0
}

// skipRoot tells the top-level host entries not carried into the
// environment: they are replaced (var, opt, tmp, proc, dev) or have no
// business there.
func skipRoot(name string) bool {
	switch name {
	case "proc", "sys", "dev", "tmp", "var", "opt", "mnt", "media", "boot", "lost+found", "old_root":
		return true
	}
	return false
}

func (s *initSpec) setup() error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make / private: %w", err)
	}
	for _, cg := range s.Cgroups {
		if err := os.WriteFile(filepath.Join(cg, "cgroup.procs"), []byte("0"), 0); err != nil {
			return fmt.Errorf("join cgroup: %w", err)
		}
	}
	root := s.Root
	if err := unix.Mount("tmpfs", root, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size=1m,mode=0755"); err != nil {
		return fmt.Errorf("root tmpfs: %w", err)
	}
	ents, err := os.ReadDir("/")
	if err != nil {
		return err
	}
	for _, de := range ents {
		name := de.Name()
		if skipRoot(name) {
			continue
		}
		src, dst := "/"+name, filepath.Join(root, name)
		switch {
		case de.Type()&os.ModeSymlink != 0:
			target, err := os.Readlink(src)
			if err != nil {
				return err
			}
			if err := os.Symlink(target, dst); err != nil {
				return err
			}
		case de.IsDir():
			if err := os.Mkdir(dst, 0o755); err != nil {
				return err
			}
			if err := bindRO(src, dst); err != nil {
				return err
			}
		}
	}
	for _, d := range []string{"var", "var/task", "var/runtime", "opt", "tmp", "proc", "dev"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
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
	if err := setupDev(filepath.Join(root, "dev")); err != nil {
		return fmt.Errorf("dev: %w", err)
	}
	for _, h := range s.Hide {
		if err := hide(filepath.Join(root, h)); err != nil {
			return fmt.Errorf("hide %s: %w", h, err)
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
	return dropCapabilities()
}

// dropCapabilities leaves the bootstrap as uid 0 (so root-owned host
// interpreters stay readable) but without any capability: it cannot mount,
// undo the read-only binds, or escape the namespaces.
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
	// Inheritable must be empty too, or exec as root would regain them.
	data[0].Inheritable, data[1].Inheritable = 0, 0
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset: %w", err)
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

func setupDev(dev string) error {
	if err := unix.Mount("tmpfs", dev, "tmpfs", unix.MS_NOSUID|unix.MS_NOEXEC, "size=64k,mode=0755"); err != nil {
		return err
	}
	for _, n := range []string{"null", "zero", "full", "random", "urandom", "tty"} {
		p := filepath.Join(dev, n)
		f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o666)
		if err != nil {
			return err
		}
		f.Close()
		if err := unix.Mount("/dev/"+n, p, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("%s: %w", n, err)
		}
	}
	shm := filepath.Join(dev, "shm")
	if err := os.Mkdir(shm, 0o1777); err != nil {
		return err
	}
	if err := unix.Mount("tmpfs", shm, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size=64m,mode=1777"); err != nil {
		return err
	}
	links := [][2]string{{"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"}}
	for _, l := range links {
		if err := os.Symlink(l[0], filepath.Join(dev, l[1])); err != nil {
			return err
		}
	}
	return nil
}

// hide makes dir an empty read-only directory, first detaching whatever is
// mounted below it so nothing stays reachable or pinned.
func hide(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil || !fi.IsDir() {
		return nil // not visible in the environment anyway
	}
	mounts, err := mountsUnder(dir)
	if err != nil {
		return err
	}
	for _, mp := range mounts {
		_ = unix.Unmount(mp, unix.MNT_DETACH)
	}
	return unix.Mount("tmpfs", dir, "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "size=4k,mode=0755")
}

// mountsUnder lists mount points at or below dir, deepest first.
func mountsUnder(dir string) ([]string, error) {
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
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	slices.SortFunc(out, func(a, b string) int { return len(b) - len(a) })
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

// wipeWorkDir unmounts anything a previous run left mounted under wd, then
// removes its content.
func wipeWorkDir(wd string) error {
	if mounts, err := mountsUnder(wd); err == nil {
		for _, mp := range mounts {
			_ = unix.Unmount(mp, unix.MNT_DETACH)
		}
	}
	return os.RemoveAll(wd)
}

func mountTmpfs(dir string, mb int) error {
	return unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size="+strconv.Itoa(mb)+"m,mode=1777")
}

func unmountTmpfs(dir string) {
	_ = unix.Unmount(dir, unix.MNT_DETACH)
}

func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// isolation holds what confined environments share.
type isolation struct {
	hide []string
	cg   *cgroupRoot // nil when cgroups are unavailable
}

func newIsolation(cfg Config, warn func(string, ...any)) (*isolation, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("not running as root")
	}
	iso := &isolation{}
	for _, h := range append(slices.Clone(cfg.HideDirs), cfg.WorkDir) {
		if h == "" {
			continue
		}
		a, err := filepath.Abs(h)
		if err != nil {
			return nil, err
		}
		if real, err := filepath.EvalSymlinks(a); err == nil {
			a = real
		}
		iso.hide = append(iso.hide, a)
	}
	if err := iso.probe(cfg.WorkDir); err != nil {
		return nil, err
	}
	cg, err := newCgroupRoot()
	if err != nil {
		warn("sandbox: cgroups unavailable, environments run without memory/pids limits", "reason", err.Error())
	} else {
		iso.cg = cg
	}
	return iso, nil
}

// probe runs the helper once with a throwaway environment to learn whether
// this kernel lets us build one.
func (iso *isolation) probe(workDir string) error {
	dir := filepath.Join(workDir, "probe")
	defer os.RemoveAll(dir)
	spec := initSpec{Root: filepath.Join(dir, "root"), Code: filepath.Join(dir, "code"), Tmp: filepath.Join(dir, "tmp"), Hide: iso.hide, Probe: true, Argv: []string{"/bin/true"}}
	for _, d := range []string{spec.Root, spec.Code, spec.Tmp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	cmd, err := iso.exec(&spec, nil, nil)
	if err != nil {
		return err
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("isolation probe: %w", err)
	}
	return nil
}

// exec starts the helper and waits until it has exec'd the bootstrap (or
// failed to).
func (iso *isolation) exec(spec *initSpec, environ []string, out *os.File) (*exec.Cmd, error) {
	js, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	sr, sw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer sr.Close()
	cmd := &exec.Cmd{
		Path:       "/proc/self/exe",
		Args:       []string{initArg0, string(js)},
		Env:        environ,
		ExtraFiles: []*os.File{sw},
		SysProcAttr: &syscall.SysProcAttr{
			Setpgid:    true,
			Pdeathsig:  syscall.SIGKILL,
			Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWPID,
		},
	}
	if environ == nil {
		cmd.Env = []string{}
	}
	if out != nil {
		cmd.Stdout, cmd.Stderr = out, out
	}
	err = cmd.Start()
	sw.Close()
	if err != nil {
		return nil, fmt.Errorf("sandbox: start helper: %w", err)
	}
	_ = sr.SetReadDeadline(time.Now().Add(30 * time.Second))
	msg, rerr := io.ReadAll(sr)
	if len(msg) == 0 && rerr == nil {
		return cmd, nil
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	_ = cmd.Wait()
	if rerr != nil {
		return nil, fmt.Errorf("sandbox: helper: %w", rerr)
	}
	if msg[0] == statusExec {
		return nil, &StartError{Command: spec.Argv[0], Err: errors.New(string(msg[1:]))}
	}
	return nil, fmt.Errorf("sandbox: environment setup: %s", msg[1:])
}

func (iso *isolation) start(e *env, out *os.File) (*exec.Cmd, error) {
	root := filepath.Join(e.dir, "root")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, err
	}
	spec := initSpec{
		Root:    root,
		Code:    e.fn.CodeDir,
		Runtime: e.fn.RuntimeDir,
		Layers:  e.fn.LayerDirs,
		Tmp:     e.tmpDir,
		Hide:    iso.hide,
		Argv:    e.argv,
		NoFile:  1024,
	}
	if e.cg != nil {
		spec.Cgroups = e.cg.dirs
	}
	return iso.exec(&spec, e.environ, out)
}

func (iso *isolation) close() {
	if iso.cg != nil {
		iso.cg.close()
	}
}
