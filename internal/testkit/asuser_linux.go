//go:build linux

package testkit

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
)

// AsUser is the test binary run again, running no tests, with the variable
// env set to "<uid> <addr>". The package's TestMain hands that value to
// DialAs, so the child connects to addr as the user uid.
func AsUser(env string, uid int, addr string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env+"="+strconv.Itoa(uid)+" "+addr)
	return cmd
}

// DialAs, in a child AsUser started, drops every group and id to the uid in
// spec ("<uid> <addr>") and dials addr over TCP.
func DialAs(spec string) (net.Conn, error) {
	var uid int
	var addr string
	if _, err := fmt.Sscan(spec, &uid, &addr); err != nil {
		return nil, err
	}
	if err := syscall.Setgroups(nil); err != nil {
		return nil, err
	}
	if err := syscall.Setresgid(uid, uid, uid); err != nil {
		return nil, err
	}
	if err := syscall.Setresuid(uid, uid, uid); err != nil {
		return nil, err
	}
	return net.Dial("tcp", addr)
}
