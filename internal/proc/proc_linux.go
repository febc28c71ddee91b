package proc

import (
	"context"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// setProcAttr puts the child in a process group of its own and asks the kernel to SIGKILL it
// when its parent dies, for the endings no signal handler sees (SIGKILL, a crash).
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

type startRequest struct {
	cmd  *exec.Cmd
	done chan error
}

// starts feeds the one goroutine that forks every child. The parent-death signal fires when
// the forking *thread* exits, not the process, and the Go runtime may end threads; this
// goroutine is locked to its thread and never returns, so that thread lives as long as the
// process.
var starts = sync.OnceValue(func() chan<- startRequest {
	ch := make(chan startRequest)
	go func() {
		runtime.LockOSThread()
		for r := range ch {
			r.done <- r.cmd.Start()
		}
	}()
	return ch
})

func startLocked(cmd *exec.Cmd) error {
	r := startRequest{cmd: cmd, done: make(chan error, 1)}
	starts() <- r
	return <-r.done
}

// watchStdout calls cancel when stdout is a pipe whose reader has gone (`cmd | tee log` and
// tee ended first): poll reports POLLERR on a pipe's write end then.
func watchStdout(ctx context.Context, cancel context.CancelFunc) {
	st, err := os.Stdout.Stat()
	if err != nil || st.Mode()&os.ModeNamedPipe == 0 {
		return
	}
	go func() {
		fds := []unix.PollFd{{Fd: int32(os.Stdout.Fd())}}
		for ctx.Err() == nil {
			n, err := unix.Poll(fds, 1000)
			if err == nil && n > 0 && fds[0].Revents&(unix.POLLERR|unix.POLLHUP) != 0 {
				cancel()
				return
			}
		}
	}()
}
