package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/issuemodels/durable-lro/internal/proc"
	"github.com/issuemodels/durable-lro/internal/temporalcli"
)

// freePorts returns n different loopback ports nothing listens on right now, none of them the
// port after another (the emulator's status port is its port + 1).
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	taken := map[int]bool{}
	for len(ports) < n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close() // held until all are chosen, so they differ
		p := l.Addr().(*net.TCPAddr).Port
		if !taken[p-1] && !taken[p+1] {
			ports = append(ports, p)
			taken[p] = true
		}
	}
	return ports
}

// TestOneCommandLocalStack runs the README's first command as a newcomer would (on free ports and
// a temporary data folder): the sample completes, the stack stays up, and Ctrl-C stops every
// child cleanly.
func TestOneCommandLocalStack(t *testing.T) {
	dir := t.TempDir()
	bin := buildLocalstack(t, dir)
	ports := freePorts(t, 3)
	port, ui, emu := ports[0], ports[1], ports[2]
	cmd := exec.Command(bin, "-port", fmt.Sprint(port), "-ui-port", fmt.Sprint(ui), "-emulator-port", fmt.Sprint(emu),
		"-time-scale", "60", "-data-dir", filepath.Join(dir, "data"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Env = os.Environ()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })

	lines := make(chan string, 1000)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var transcript strings.Builder
	waitFor := func(what string, timeout time.Duration) {
		t.Helper()
		deadline := time.After(timeout)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("localstack exited before %q:\n%s", what, transcript.String())
				}
				transcript.WriteString(l + "\n")
				if strings.Contains(l, what) {
					return
				}
			case <-deadline:
				t.Fatalf("no %q within %s:\n%s", what, timeout, transcript.String())
			}
		}
	}
	waitFor(`Nexus endpoint issue-models serves the issue-models service (task queue "issue-models") to workflows in namespace "callers"`, 3*time.Minute)
	waitFor("The sample completed: outcome SUCCEEDED", 3*time.Minute)
	waitFor(fmt.Sprintf("http://localhost:%d/namespaces/default/workflows/", ui), 10*time.Second)
	waitFor("Everything is running. Press Ctrl-C to stop.", 10*time.Second)

	// Ctrl-C: the terminal sends SIGINT to the foreground process group.
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		for l := range lines {
			transcript.WriteString(l + "\n")
		}
		done <- cmd.Wait()
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("localstack exited with %v after Ctrl-C:\n%s", err, transcript.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("localstack did not stop within 30 s of Ctrl-C:\n%s", transcript.String())
	}
	checkNothingLeftBehind(t, dir, []int{port, ui, emu, emu + 1})
}

// buildLocalstack makes sure the Temporal CLI is there and builds the command into dir.
func buildLocalstack(t *testing.T, dir string) string {
	t.Helper()
	root, err := proc.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := temporalcli.Ensure(context.Background(), filepath.Join(root, "bin"), io.Discard); err != nil {
		t.Fatalf("Temporal CLI: %v", err)
	}
	bin := filepath.Join(dir, "localstack")
	if err := proc.Build(context.Background(), root, "./cmd/localstack", bin); err != nil {
		t.Fatal(err)
	}
	return bin
}

// checkNothingLeftBehind checks that after Ctrl-C no child still listens and Temporal's state
// was kept in the data dir.
func checkNothingLeftBehind(t *testing.T, dir string, ports []int) {
	t.Helper()
	for _, p := range ports {
		if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", p), time.Second); err == nil {
			c.Close()
			t.Errorf("port %d still answers after Ctrl-C: a child was left behind", p)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "temporal.db")); err != nil {
		t.Errorf("Temporal's state file: %v", err)
	}
}
