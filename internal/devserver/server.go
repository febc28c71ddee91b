// Package devserver runs a real Temporal dev server (the pinned Temporal CLI's
// `server start-dev`, see internal/temporalcli) as a child process: New starts one on a free
// loopback port, Stop and StartAgain bring it down and back on the same port and SQLite file so
// that tests can exercise a server restart, and Flags builds the command line the local stack
// runs too. It does not import testing, so that commands (the bench) can use it; the test
// helpers are in tb.go.
package devserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"

	"github.com/issuemodels/durable-lro/internal/proc"
	"github.com/issuemodels/durable-lro/internal/temporalcli"
	"github.com/issuemodels/durable-lro/searchattr"
)

// startTimeout bounds one start of the dev server (normally 2–5 s).
const startTimeout = 2 * time.Minute

// stopGrace is how long a stopping server has between SIGTERM and SIGKILL.
const stopGrace = 30 * time.Second

// Flags are the settings of one `temporal server start-dev`.
type Flags struct {
	IP        string // listen address, e.g. 127.0.0.1
	Port      int    // frontend gRPC port
	UIPort    int    // Web UI port; 0: no UI (--headless)
	Namespace string
	// DBFilename keeps the state in this SQLite file; "": in memory.
	DBFilename string
	LogLevel   string
}

// Args is the CLI's command line for f.
func (f Flags) Args() []string {
	args := []string{"server", "start-dev", "--ip", f.IP, "--port", strconv.Itoa(f.Port),
		"--namespace", f.Namespace, "--log-level", f.LogLevel, "--log-format", "json",
		// No call home to check for a newer server (and no wait for one offline).
		"--dynamic-config-value", "frontend.enableServerVersionCheck=false",
		// Per-fairness-key rate limits (one key per Google project) hold only with fairness on,
		// as in deploy/temporal/dynamicconfig.yaml.
		"--dynamic-config-value", "matching.enableFairness=true"}
	if f.UIPort == 0 {
		args = append(args, "--headless")
	} else {
		args = append(args, "--ui-port", strconv.Itoa(f.UIPort))
	}
	if f.DBFilename != "" {
		args = append(args, "--db-filename", f.DBFilename)
	}
	return append(args, searchattr.DevServerArgs()...)
}

// Option changes how New starts a server.
type Option func(*Server)

// WithPersistence keeps the server's state in a SQLite file in its temporary directory, so that
// workflows survive Stop and StartAgain.
func WithPersistence() Option {
	return func(s *Server) { s.DBFilename = filepath.Join(s.dir, "temporal.db") }
}

// Server is a running dev server.
type Server struct {
	// HostPort is the frontend's address (127.0.0.1:port); it stays the same across restarts.
	HostPort string
	// Namespace is the namespace Client uses ("default").
	Namespace string
	// Client is connected to the server. It stays valid across restarts (its connection
	// reconnects), so workers built on it keep working; do not Close it, Close does.
	Client client.Client
	// DBFilename is the SQLite file, or "" when state is in memory.
	DBFilename string
	// LogFile holds the server process's output.
	LogFile string

	exe     string
	args    []string // the command line; nil: the dev server's, from Flags
	name    string   // in messages
	dir     string   // temporary directory owned by the server, removed by Close
	ready   func(context.Context, client.Client) error
	onClose func() error
	logger  log.Logger

	mu     sync.Mutex
	proc   *proc.Process
	closed bool
}

// New starts a dev server, building the CLI into <repo>/bin first if needed. The caller must
// Close it.
func New(ctx context.Context, opts ...Option) (*Server, error) {
	exe, err := EnsureCLI()
	if err != nil {
		return nil, fmt.Errorf("the Temporal CLI is required and could not be provided: %w", err)
	}
	hostPort, err := freeHostPort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "temporal-devserver-")
	if err != nil {
		return nil, err
	}
	s := &Server{HostPort: hostPort, Namespace: "default", LogFile: filepath.Join(dir, "server.log"), exe: exe, dir: dir,
		name: "the dev server", logger: quietLogger()}
	for _, opt := range opts {
		opt(s)
	}
	if s.Client, err = s.start(ctx); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

func quietLogger() log.Logger {
	return log.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
}

// Command is a Temporal server other than the CLI's dev server (internal/cluster's server on
// PostgreSQL), run, restarted and closed like one by NewCommand.
type Command struct {
	Name      string // in messages, e.g. "the Temporal server"
	Path      string
	Args      []string
	HostPort  string // the frontend's address, fixed by Args
	Namespace string
	// Dir is the server's temporary directory: LogFile is there, Close removes it.
	Dir string
	// Ready, when set, runs after each start once a client dials, and must succeed (within
	// the start timeout) before the server counts as started.
	Ready func(context.Context, client.Client) error
	// Close, when set, runs in Close after the server stopped (say, to stop its database).
	Close func() error
}

// NewCommand starts c's server and returns it once it answers (and Ready succeeded). The caller
// must Close it; Close also removes c.Dir, also when the start fails.
func NewCommand(ctx context.Context, c Command) (*Server, error) {
	s := &Server{HostPort: c.HostPort, Namespace: c.Namespace, LogFile: filepath.Join(c.Dir, "server.log"), exe: c.Path,
		args: c.Args, name: c.Name, dir: c.Dir, ready: c.Ready, onClose: c.Close, logger: quietLogger()}
	var err error
	if s.Client, err = s.start(ctx); err != nil {
		if c.Close != nil {
			err = errors.Join(err, c.Close())
		}
		return nil, errors.Join(err, os.RemoveAll(c.Dir))
	}
	return s, nil
}

// EnsureCLI installs the pinned Temporal CLI into <repo>/bin once per process and returns its path.
var EnsureCLI = sync.OnceValues(func() (string, error) {
	root, err := proc.RepoRoot()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	return temporalcli.Ensure(ctx, filepath.Join(root, "bin"), os.Stderr)
})

// freeHostPort is a loopback address nothing listens on right now.
func freeHostPort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("no free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// start runs the server process and returns a client once it answers.
func (s *Server) start(ctx context.Context) (client.Client, error) {
	args := s.args
	if args == nil {
		_, port, _ := net.SplitHostPort(s.HostPort)
		portNum, _ := strconv.Atoi(port)
		args = Flags{IP: "127.0.0.1", Port: portNum, Namespace: s.Namespace, DBFilename: s.DBFilename, LogLevel: "warn"}.Args()
	}
	p, err := proc.Start(proc.Options{Name: s.name, Path: s.exe, Args: args, Log: s.LogFile, Grace: stopGrace})
	if err != nil {
		return nil, err
	}
	c, err := s.dialWhenReady(ctx, p)
	if err != nil {
		_ = p.Stop()
		return nil, fmt.Errorf("start %s (%s, db %q): %w\nserver log:\n%s", s.name, s.HostPort, s.DBFilename, err, s.LogTail(40))
	}
	s.mu.Lock()
	s.proc = p
	s.mu.Unlock()
	return c, nil
}

// dialWhenReady dials the server until it answers, the process exits or ctx ends.
func (s *Server) dialWhenReady(ctx context.Context, p *proc.Process) (client.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	for {
		dctx, dcancel := context.WithTimeout(ctx, 5*time.Second)
		c, err := client.DialContext(dctx, client.Options{HostPort: s.HostPort, Namespace: s.Namespace, Logger: s.logger})
		dcancel()
		if err == nil && s.ready != nil {
			if err = s.ready(ctx, c); err != nil {
				c.Close()
				return nil, err
			}
		}
		if err == nil {
			return c, nil
		}
		select {
		case <-p.Done():
			return nil, fmt.Errorf("the server exited: %w", p.Err())
		case <-ctx.Done():
			return nil, fmt.Errorf("not ready: %w (last: %v)", ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Pid is the server process's id (0 when stopped).
func (s *Server) Pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc.Pid()
}

// Stop stops the server process (SIGTERM, SIGKILL after 30 s) and waits for it to exit. Client
// works again once StartAgain has started the server again. Stop of a stopped server does
// nothing.
func (s *Server) Stop() error {
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p == nil {
		return nil
	}
	var exitErr interface{ ExitCode() int }
	if err := p.Stop(); err != nil && !errors.As(err, &exitErr) {
		return err // a non-zero exit on SIGTERM is the CLI's way of ending
	}
	return nil
}

// StartAgain starts a stopped server on the same port and DB file.
func (s *Server) StartAgain(ctx context.Context) error {
	s.mu.Lock()
	running, closed := s.proc != nil, s.closed
	s.mu.Unlock()
	switch {
	case closed:
		return fmt.Errorf("devserver: %s is closed", s.name)
	case running:
		return errors.New("devserver: the server is running; Stop it first")
	}
	var err error
	// The port was free a moment ago; retry briefly in case the old process's socket lingers.
	for range 3 {
		var c client.Client
		if c, err = s.start(ctx); err == nil {
			c.Close() // Client reconnects by itself
			return nil
		}
		if ctx.Err() != nil {
			break
		}
		time.Sleep(time.Second)
	}
	return err
}

// Close closes Client, stops the server and removes its temporary directory.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.Client.Close()
	err := s.Stop()
	if s.onClose != nil {
		err = errors.Join(err, s.onClose())
	}
	return errors.Join(err, os.RemoveAll(s.dir))
}

// LogTail is the last n lines of the server log.
func (s *Server) LogTail(n int) string {
	return proc.Tail(s.LogFile, n)
}
