package proc

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestChildrenDieWithTheirParent starts a parent process that starts a child, ends the parent
// each way a harness command can end, and checks the child is gone. The endings a handler sees
// stop the child gracefully (it gets SIGTERM, the parent exits 0); SIGKILL leaves it to the
// parent-death signal.
func TestChildrenDieWithTheirParent(t *testing.T) {
	// Orphans are re-parented to this process rather than to init, so that waiting for the child
	// here observes its end instead of a zombie the container's init may never reap.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Fatalf("PR_SET_CHILD_SUBREAPER: %v", err)
	}
	signal := func(s syscall.Signal) func(parent *exec.Cmd, stdout *os.File) error {
		return func(parent *exec.Cmd, _ *os.File) error { return parent.Process.Signal(s) }
	}
	closeStdout := func(_ *exec.Cmd, stdout *os.File) error { return stdout.Close() }
	for _, tc := range []struct {
		name     string
		end      func(parent *exec.Cmd, stdout *os.File) error
		graceful bool
	}{
		{"SIGINT", signal(syscall.SIGINT), true},
		{"SIGTERM", signal(syscall.SIGTERM), true},
		{"SIGHUP", signal(syscall.SIGHUP), true},
		{"dead stdout", closeStdout, true},
		// `cmd | tee log`, Ctrl-C: both get SIGINT, tee ends first, the parent writes to a dead pipe.
		{"SIGINT with a dead stdout", func(p *exec.Cmd, stdout *os.File) error {
			if err := stdout.Close(); err != nil {
				return err
			}
			return p.Process.Signal(syscall.SIGINT)
		}, true},
		{"SIGKILL", signal(syscall.SIGKILL), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			childLog := filepath.Join(t.TempDir(), "child.log")
			parent, stdout, childPid := startParent(t, childLog)
			waitForLine(t, childLog, "ready")
			if err := tc.end(parent, stdout); err != nil {
				t.Fatal(err)
			}
			err := parent.Wait()
			if tc.graceful && err != nil {
				t.Errorf("parent ended with %v, want exit 0 after stopping its child; stderr:\n%s", err, parent.Stderr)
			}
			waitGone(t, childPid)
			if got := strings.Contains(Tail(childLog, 5), "got SIGTERM"); got != tc.graceful {
				t.Errorf("child stopped gracefully = %v, want %v; its log:\n%s", got, tc.graceful, Tail(childLog, 5))
			}
		})
	}
}

// startParent starts the test binary as a parent (runParent) and reads its child's pid.
func startParent(t *testing.T, childLog string) (*exec.Cmd, *os.File, int) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	parent := exec.Command(os.Args[0])
	parent.Env = append(os.Environ(), roleEnv+"=parent", "PROC_TEST_LOG="+childLog)
	parent.Stdout, parent.Stderr = w, &bytes.Buffer{}
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	t.Cleanup(func() { _ = parent.Process.Kill(); r.Close() })
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the child's pid: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("child pid %q: %v", line, err)
	}
	return parent, r, pid
}

// waitGone waits until the process pid no longer exists: either its parent reaped it, or it was
// re-parented here (subreaper) and this wait reaps it.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	gone := make(chan error, 1)
	go func() {
		var ws syscall.WaitStatus
		_, err := syscall.Wait4(pid, &ws, 0, nil)
		if errors.Is(err, syscall.ECHILD) {
			err = nil // not ours: its parent reaped it, unless it still runs (checked below)
		}
		gone <- err
	}()
	select {
	case err := <-gone:
		if err != nil {
			t.Fatalf("wait for the child %d: %v", pid, err)
		}
	case <-time.After(time.Minute):
		t.Fatalf("the child %d still runs a minute after its parent ended", pid)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("the child %d still exists after its parent ended (kill 0: %v)", pid, err)
	}
}
