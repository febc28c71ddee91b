//go:build !unix

package proc

import (
	"os"
	"os/exec"
)

func setProcAttr(*exec.Cmd) {}

func setUser(*exec.Cmd, *User) {}

// terminate interrupts the child itself (there are no process groups here), or kills it where
// interrupts cannot be sent.
func terminate(cmd *exec.Cmd) error {
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		return cmd.Process.Kill()
	}
	return nil
}

func signaled(*os.ProcessState) bool { return false }

var endings = []os.Signal{os.Interrupt}

var sigpipe os.Signal
