package runtimes

import (
	"os/exec"
	"syscall"
)

// dieWithLambdad has cmd killed when lambdad dies: a compile still writing
// into the data directory after lambdad was killed would outlive it.
func dieWithLambdad(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
