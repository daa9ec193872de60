//go:build linux

package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
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
	hide      []string       // host dirs environments must never see
	system    []nsinit.Entry // the host part of every root (root_linux.go)
	sysHide   []string       // hide targets the system entries call for
	users     *uidBlock
	peerCheck bool        // Runtime API connections are checked (peer_linux.go)
	cg        *cgroupRoot // nil when cgroups are unavailable
	tmp       *tmpDisks   // nil when /tmp is a tmpfs
	warn      func(string, ...any)
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
	iso.system = planSystem()
	var binds []bindPair
	for _, en := range iso.system {
		if en.Kind == nsinit.EntryBind {
			binds = append(binds, bindPair{en.Source, en.Path})
		}
	}
	iso.sysHide = hideTargets(iso.hide, binds)
	users, err := claimUIDBlock(uidLockDir())
	if err != nil {
		return nil, fmt.Errorf("environment users: %w", err)
	}
	iso.users = users
	if err := iso.probe(cfg.WorkDir); err != nil {
		users.close()
		return nil, err
	}
	if err := probePeerCheck(); err != nil {
		warn("sandbox: Runtime API peer check unavailable: any local process can reach an environment's Runtime API", "reason", err.Error())
	} else {
		iso.peerCheck = true
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

// probePeerCheck makes sure sock_diag can name the owner of a loopback
// connection here (inet_diag may be missing from a kernel or container).
func probePeerCheck() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return err
	}
	defer c.Close()
	s, err := ln.Accept()
	if err != nil {
		return err
	}
	defer s.Close()
	pl, err := newPeerListener(ln, os.Geteuid(), nil, 0)
	if err != nil {
		return err
	}
	uid, err := pl.owner(s)
	if err != nil {
		return err
	}
	if uid != uint32(os.Geteuid()) {
		return fmt.Errorf("sock_diag named uid %d for a socket of uid %d", uid, os.Geteuid())
	}
	return nil
}

// describe is the startup log's account of what confines environments.
func (iso *isolation) describe() []any {
	cg := "none"
	if iso.cg != nil {
		cg = "v1: memory, pids"
		if iso.cg.v2 {
			cg = "v2: memory, pids"
		}
	}
	check := "off"
	if iso.peerCheck {
		check = "on (sock_diag owner uid)"
	}
	tmp := "tmpfs (counts against the function's memory)"
	if iso.tmp != nil {
		tmp = "ext4 image per environment on a loop device (apart from memory)"
	}
	return []any{
		"namespaces", "mount,pid,ipc",
		"cgroups", cg,
		"users", fmt.Sprintf("one uid per environment from %d-%d, no capabilities, no_new_privs", iso.users.first, iso.users.last()),
		"root", "allow-list (system dirs, /etc files, interpreter prefixes)",
		"runtime_api_peer_check", check,
		"tmp", tmp,
	}
}

// probe runs the helper once with a throwaway environment to learn whether
// this kernel lets us build one.
func (iso *isolation) probe(workDir string) error {
	dir := filepath.Join(workDir, "probe")
	defer os.RemoveAll(dir)
	uid, err := iso.users.take()
	if err != nil {
		return err
	}
	defer iso.users.put(uid)
	spec := nsinit.Spec{
		Root: filepath.Join(dir, "root"), Code: filepath.Join(dir, "code"), Tmp: filepath.Join(dir, "tmp"),
		System: append(slices.Clone(iso.system), userEntries(uid, uid)...), Hide: iso.sysHide,
		UID: uid, GID: uid, Probe: true, Argv: []string{"/bin/true"},
	}
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
			Setpgid:   true,
			Pdeathsig: syscall.SIGKILL,
			// An IPC namespace keeps System V IPC and POSIX message
			// queues apart from the host's and other environments', and
			// frees what an environment leaves there when it stops.
			Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWIPC,
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
	// /tmp belongs to the environment's user, as on AWS.
	if err := os.Chown(e.tmpDir, e.uid, e.uid); err != nil {
		return nil, fmt.Errorf("sandbox: chown /tmp: %w", err)
	}
	system := slices.Concat(iso.system, userEntries(e.uid, e.uid), hostDirEntries(e.fn.HostDirs, iso.system, iso.warn))
	if e.fn.LangDir != "" {
		system = append(system, nsinit.Entry{Path: "/var", Kind: nsinit.EntryDir, Mode: 0o755},
			nsinit.Entry{Path: "/var/lang", Kind: nsinit.EntryBind, Source: e.fn.LangDir})
	}
	binds := []bindPair{{e.fn.CodeDir, "/var/task"}}
	if e.fn.RuntimeDir != "" {
		binds = append(binds, bindPair{e.fn.RuntimeDir, "/var/runtime"})
	}
	for _, l := range e.fn.LayerDirs {
		binds = append(binds, bindPair{l, "/opt"})
	}
	for _, en := range system[len(iso.system):] {
		if en.Kind == nsinit.EntryBind {
			binds = append(binds, bindPair{en.Source, en.Path})
		}
	}
	spec := nsinit.Spec{
		Root:    root,
		Code:    e.fn.CodeDir,
		Runtime: e.fn.RuntimeDir,
		Layers:  e.fn.LayerDirs,
		Tmp:     e.tmpDir,
		System:  system,
		Hide:    slices.Concat(iso.sysHide, hideTargets(iso.hide, binds)),
		UID:     e.uid,
		GID:     e.uid,
		ShmMB:   shmMB(e.fn),
		Argv:    e.argv,
		NoFile:  1024,
	}
	if e.cg != nil {
		spec.Cgroups = e.cg.join
	}
	return iso.exec(&spec, e.environ, out)
}

// shmMB sizes /dev/shm: half the function's memory (the proportion Linux
// gives /dev/shm of RAM), since its pages are charged to the environment's
// memory limit, and no more than its /tmp (EphemeralStorage).
func shmMB(fn Function) int {
	return max(1, min(fn.EphemeralStorageMB, fn.MemoryMB/2))
}

// takeUser gives a new environment its uid.
func (iso *isolation) takeUser() (int, error) { return iso.users.take() }

// releaseUser frees uid once its environment's processes are gone.
func (iso *isolation) releaseUser(uid int) { iso.users.put(uid) }

// guard wraps an environment's Runtime API listener so that only its own
// user's connections reach it.
func (iso *isolation) guard(e *env, ln net.Listener) (net.Listener, error) {
	if !iso.peerCheck {
		return ln, nil
	}
	return newPeerListener(ln, e.uid, e.m.log, e.id)
}

func (iso *isolation) close() {
	if iso.tmp != nil {
		iso.tmp.close()
	}
	if iso.cg != nil {
		iso.cg.close()
	}
	iso.users.close()
}
