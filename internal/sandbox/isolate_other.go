//go:build !linux

package sandbox

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"syscall"
)

// MaybeRunInit is a no-op where isolation is unsupported.
func MaybeRunInit() {}

type isolation struct{ cg *cgroupRoot }

type cgroupRoot struct{}

type envCgroup struct{ dirs []string }

func (r *cgroupRoot) create(string, int) (*envCgroup, error)    { return nil, errors.ErrUnsupported }
func (c *envCgroup) peakBytes() int64                           { return 0 }
func (c *envCgroup) resetPeak()                                 {}
func (c *envCgroup) remove() bool                               { return false }
func (r *cgroupRoot) limitCPU(*envCgroup, string, float64) bool { return false }

func newIsolation(Config, func(string, ...any)) (*isolation, error) {
	return nil, errors.New("isolation needs Linux")
}

func (iso *isolation) start(*env, *os.File) (*exec.Cmd, error) { return nil, errors.ErrUnsupported }
func (iso *isolation) close()                                  {}
func (iso *isolation) describe() []any                         { return nil }
func (iso *isolation) takeUser() (int, error)                  { return 0, errors.ErrUnsupported }
func (iso *isolation) releaseUser(int)                         {}
func (iso *isolation) guard(_ *env, ln net.Listener) (net.Listener, error) {
	return ln, nil
}

type tmpDisk struct{}

func (iso *isolation) mountTmp(*env) error   { return errors.ErrUnsupported }
func (iso *isolation) unmountTmp(*env, bool) {}

func wipeWorkDir(wd string) error    { return os.RemoveAll(wd) }
func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// FromEnvironment is always false where environments are not isolated.
func (m *Manager) FromEnvironment(net.Conn) bool { return false }
