//go:build !unix

package main

import (
	"errors"
	"os"
	"os/exec"
)

func ownProcessGroup(*exec.Cmd) {}

// signalGroup interrupts (or kills) the child itself; there are no process groups here.
func signalGroup(cmd *exec.Cmd, kill bool) error {
	if cmd.Process == nil {
		return errors.New("not started")
	}
	if kill {
		return cmd.Process.Kill()
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		return cmd.Process.Kill()
	}
	return nil
}
