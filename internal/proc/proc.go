// Package proc owns the harness's child processes (the dev server, the emulator, worker
// processes): it starts them with a scrubbed environment and their output in a log file, stops
// them with grace (SIGTERM to the child's process group, SIGKILL after a delay), and makes sure
// they do not outlive this process however it ends (see NotifyContext and, on Linux, the
// parent-death signal).
package proc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// DefaultGrace is how long Stop waits after SIGTERM before SIGKILL when Options.Grace is 0.
const DefaultGrace = 5 * time.Second

// scrubbedPrefixes and scrubbed are the variables of the user's environment a child must not
// inherit: they would point it at another Temporal server or profile (TEMPORAL_*), at Google or
// another emulator (INSIGHTS_*, GOOGLE_APPLICATION_CREDENTIALS), make it encrypt with the user's
// codec key (ISSUE_MODELS_*), or change the worker's logging, metrics listener and budgets.
// A harness passes what a child needs explicitly (Options.Env).
var (
	scrubbedPrefixes = []string{"TEMPORAL_", "INSIGHTS_", "ISSUE_MODELS_"}
	scrubbed         = []string{
		"GOOGLE_APPLICATION_CREDENTIALS", "LOG_LEVEL", "LOG_FORMAT", "METRICS_ADDR",
		"POLLS_PER_SECOND", "FLEET_POLLS_PER_SECOND", "PROJECT_REQUESTS_PER_SECOND", "TASK_QUEUE_ACTIVITIES_PER_SECOND", "WORKER_POLLERS", "REGISTER_SEARCH_ATTRIBUTES",
	}
)

// Env is this process's environment without the scrubbed variables, plus extra.
func Env(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if slices.Contains(scrubbed, k) || slices.ContainsFunc(scrubbedPrefixes, func(p string) bool { return strings.HasPrefix(k, p) }) {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// Options describe a child process.
type Options struct {
	// Name is the child's name in messages.
	Name string
	// Path and Args are the program and its arguments.
	Path string
	Args []string
	// Dir is the working directory; empty: this process's.
	Dir string
	// Env is added to the scrubbed environment (Env).
	Env []string
	// Log receives the child's stdout and stderr (appended); required.
	Log string
	// Stdout, when set, receives the child's stdout instead of Log.
	Stdout io.Writer
	// Also, when set, receives a copy of everything written to Log.
	Also io.Writer
	// Grace is the time between SIGTERM and SIGKILL on Stop; 0: DefaultGrace.
	Grace time.Duration
	// As, when set, runs the child as this user (unix, as root: PostgreSQL refuses to run as
	// root).
	As *User
}

// User is a numeric user and group to run a child as.
type User struct{ UID, GID uint32 }

// Process is a started child.
type Process struct {
	Name string
	// LogPath is the file holding the child's output.
	LogPath string

	cmd      *exec.Cmd
	cancel   context.CancelFunc
	done     chan struct{}
	err      error // Wait's result; valid once done is closed
	stopping atomic.Bool
}

// Start starts a child in a process group of its own (the terminal's Ctrl-C reaches only the
// parent, which stops its children in order), with the Linux parent-death signal set.
func Start(o Options) (*Process, error) {
	if o.Grace == 0 {
		o.Grace = DefaultGrace
	}
	logf, err := os.OpenFile(o.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(logf, "\n----- %s: starting %s %s\n", time.Now().Format(time.RFC3339), o.Path, strings.Join(o.Args, " "))
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, o.Path, o.Args...)
	cmd.Dir = o.Dir
	cmd.Env = Env(o.Env...)
	var out io.Writer = logf
	if o.Also != nil {
		out = io.MultiWriter(logf, o.Also)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if o.Stdout != nil {
		cmd.Stdout = o.Stdout
	}
	// Stop cancels ctx: Cancel sends SIGTERM to the group; WaitDelay later kills the child.
	cmd.Cancel = func() error { return terminate(cmd) }
	cmd.WaitDelay = o.Grace
	setProcAttr(cmd)
	setUser(cmd, o.As)
	if err := startLocked(cmd); err != nil {
		cancel()
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", o.Name, err)
	}
	p := &Process{Name: o.Name, LogPath: o.Log, cmd: cmd, cancel: cancel, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return p, nil
}

// Pid is the child's process id; 0 for no process (nil), so that an owner that has none reads 0.
func (p *Process) Pid() int {
	if p == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Done is closed once the child has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether the child has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stopping reports whether Stop or Kill was called: an exit is then expected, not a death.
func (p *Process) Stopping() bool { return p.stopping.Load() }

// State is the ended process's state (CPU time, rusage); nil while it runs.
func (p *Process) State() *os.ProcessState {
	if !p.Exited() {
		return nil
	}
	return p.cmd.ProcessState
}

// Stop sends SIGTERM to the child's process group, SIGKILL after the grace period, and waits
// for the child to exit. It returns Err.
func (p *Process) Stop() error {
	p.stopping.Store(true)
	p.cancel()
	<-p.done
	return p.Err()
}

// Kill kills the child at once (a crash, for the tests that need one) and waits for it.
func (p *Process) Kill() {
	p.stopping.Store(true)
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Err is how the child ended, once it has: nil for exit status 0 or an end by a signal (what
// Stop and Kill send), else the exit error.
func (p *Process) Err() error {
	<-p.done
	var ee *exec.ExitError
	switch {
	case p.err == nil:
		return nil
	case errors.As(p.err, &ee):
		if signaled(ee.ProcessState) {
			return nil
		}
		return p.err
	case errors.Is(p.err, context.Canceled):
		return nil // exited 0 after Stop's SIGTERM
	}
	return p.err
}

// DeathError describes a child that exited on its own, with the end of its log.
func (p *Process) DeathError() error {
	<-p.done
	return fmt.Errorf("%s exited unexpectedly (%v); last lines of %s:\n%s", p.Name, p.err, p.LogPath, Indent(Tail(p.LogPath, 15)))
}

// Tail is the last n lines of a file (its error, if it cannot be read).
func Tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Indent indents every line of s by four spaces.
func Indent(s string) string {
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}
