//go:build unix

package main

import (
	"errors"
	"os/exec"
	"syscall"
)

// ownProcessGroup puts the child in a process group of its own: the terminal's Ctrl-C reaches
// only localstack, which then stops the children in order, and a child's own children are
// signalled with it.
func ownProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// signalGroup sends sig (syscall.SIGTERM or syscall.SIGKILL) to the child's process group.
func signalGroup(cmd *exec.Cmd, kill bool) error {
	if cmd.Process == nil {
		return errors.New("not started")
	}
	sig := syscall.SIGTERM
	if kill {
		sig = syscall.SIGKILL
	}
	// With Setpgid the group id is the child's pid.
	err := syscall.Kill(-cmd.Process.Pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}
