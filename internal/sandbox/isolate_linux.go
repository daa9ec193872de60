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
	"slices"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lambdad/lambdad/internal/sandbox/nsinit"
)

// MaybeRunInit returns at once unless this process is the sandbox's init
// helper, in which case it never returns. Package nsinit calls it from its
// init(); calling it first thing in main is harmless and documents the
// re-exec.
func MaybeRunInit() { nsinit.MaybeRun() }

// wipeWorkDir unmounts anything a previous run left mounted under wd,
// detaches the loop devices of its /tmp images, then removes its content.
func wipeWorkDir(wd string) error {
	if mounts, err := nsinit.MountsUnder(wd); err == nil {
		for _, mp := range mounts {
			_ = unix.Unmount(mp, unix.MNT_DETACH)
		}
	}
	detachLoopsUnder(wd)
	return os.RemoveAll(wd)
}

// mountTmp gives an isolated environment its /tmp, at e.tmpDir: a disk of
// its own, or where this host cannot make one, a tmpfs.
func (iso *isolation) mountTmp(e *env) error {
	if iso.tmp != nil {
		d, err := iso.tmp.get(e.fn.EphemeralStorageMB)
		if err == nil {
			e.tmpDisk, e.tmpDir = d, d.mnt
			return nil
		}
		iso.warn("sandbox: /tmp disk failed, this environment's /tmp is a tmpfs counted against its memory", "err", err.Error())
	}
	if err := os.Mkdir(e.tmpDir, 0o755); err != nil {
		return err
	}
	if err := unix.Mount("tmpfs", e.tmpDir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size="+strconv.Itoa(e.fn.EphemeralStorageMB)+"m,mode=1777"); err != nil {
		return err
	}
	e.tmpUp = true
	return nil
}

// unmountTmp gives up the environment's /tmp. reuse says that no process
// of the environment is left, so its disk may be wiped and pooled.
func (iso *isolation) unmountTmp(e *env, reuse bool) {
	if e.tmpDisk != nil {
		iso.tmp.recycle(e.tmpDisk, reuse)
		e.tmpDisk = nil
	}
	if e.tmpUp {
		_ = unix.Unmount(e.tmpDir, unix.MNT_DETACH)
		e.tmpUp = false
	}
}

func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// isolation holds what confined environments share.
type isolation struct {
	hide []string
	cg   *cgroupRoot // nil when cgroups are unavailable
	tmp  *tmpDisks   // nil when /tmp is a tmpfs
	warn func(string, ...any)
}

func newIsolation(cfg Config, warn func(string, ...any)) (*isolation, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("not running as root")
	}
	iso := &isolation{warn: warn}
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
	pool := tmpPoolSize
	if cfg.tmpPool != 0 {
		pool = max(cfg.tmpPool, 0)
	}
	if !cfg.tmpfsOnly {
		iso.tmp, err = newTmpDisks(cfg.WorkDir, pool, warn)
	}
	if iso.tmp == nil {
		reason := "disabled"
		if err != nil {
			reason = err.Error()
		}
		warn("sandbox: /tmp is a tmpfs, so files in it count against the function's memory", "reason", reason)
	}
	return iso, nil
}

// probe runs the helper once with a throwaway environment to learn whether
// this kernel lets us build one.
func (iso *isolation) probe(workDir string) error {
	dir := filepath.Join(workDir, "probe")
	defer os.RemoveAll(dir)
	spec := nsinit.Spec{Root: filepath.Join(dir, "root"), Code: filepath.Join(dir, "code"), Tmp: filepath.Join(dir, "tmp"), Hide: iso.hide, Probe: true, Argv: []string{"/bin/true"}}
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
func (iso *isolation) exec(spec *nsinit.Spec, environ []string, out *os.File) (*exec.Cmd, error) {
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
		Args:       []string{nsinit.Arg0, string(js)},
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
	if msg[0] == nsinit.StatusExec {
		return nil, &StartError{Command: spec.Argv[0], Err: errors.New(string(msg[1:]))}
	}
	return nil, fmt.Errorf("sandbox: environment setup: %s", msg[1:])
}

func (iso *isolation) start(e *env, out *os.File) (*exec.Cmd, error) {
	root := filepath.Join(e.dir, "root")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, err
	}
	spec := nsinit.Spec{
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
		spec.Cgroups = e.cg.join
	}
	return iso.exec(&spec, e.environ, out)
}

func (iso *isolation) close() {
	if iso.tmp != nil {
		iso.tmp.close()
	}
	if iso.cg != nil {
		iso.cg.close()
	}
}
