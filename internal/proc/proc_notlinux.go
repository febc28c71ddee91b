//go:build !linux

package proc

import (
	"context"
	"os/exec"
)

func startLocked(cmd *exec.Cmd) error { return cmd.Start() }

// watchStdout is Linux only; elsewhere a dead stdout shows at the next write.
func watchStdout(context.Context, context.CancelFunc) {}
