//go:build unix

package proc

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
)

// terminate sends SIGTERM to the child's process group (with Setpgid its id is the child's
// pid), so a child's own children are stopped with it.
func terminate(cmd *exec.Cmd) error {
	err := syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	if errors.Is(err, syscall.ESRCH) {
		return os.ErrProcessDone
	}
	return err
}

func signaled(ps *os.ProcessState) bool {
	ws, ok := ps.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled()
}

// endings are the signals that end a harness command; SIGHUP comes when its terminal closes.
var endings = []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP}

// sigpipe is SIGPIPE: a harness command must not die of it while it stops its children.
var sigpipe os.Signal = syscall.SIGPIPE

// setUser makes cmd run as u (after setProcAttr); nil: as this process's user.
func setUser(cmd *exec.Cmd, u *User) {
	if u != nil {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: u.UID, Gid: u.GID, NoSetGroups: true}
	}
}
