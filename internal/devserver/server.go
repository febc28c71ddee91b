package devserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/issuemodels/durable-lro/searchattr"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
)

// startTimeout bounds one start of the dev server (normally 2–5 s).
const startTimeout = 2 * time.Minute

// stopTimeout bounds a graceful stop.
const stopTimeout = 30 * time.Second

// Options configure a dev server.
type Options struct {
	// Namespace is registered at start and used by Client; default "default".
	Namespace string
	// DBFilename keeps the server's state in this SQLite file, so that Restart keeps workflows.
	// Empty: in memory (Restart then starts empty), unless Persistent is set.
	DBFilename string
	// Persistent keeps state in a SQLite file in a fresh temporary directory when DBFilename is
	// empty.
	Persistent bool
	// LogLevel of the server process; default "warn". Its output goes to LogFile.
	LogLevel string
	// Logger of Client; default: warnings and errors only, on stderr.
	Logger log.Logger
}

// Option changes Options.
type Option func(*Options)

// WithDBFile keeps the server's state in path (created if missing).
func WithDBFile(path string) Option { return func(o *Options) { o.DBFilename = path } }

// WithPersistence keeps the server's state in a SQLite file in a temporary directory.
func WithPersistence() Option { return func(o *Options) { o.Persistent = true } }

// WithNamespace sets the namespace registered at start and used by Client.
func WithNamespace(ns string) Option { return func(o *Options) { o.Namespace = ns } }

// WithLogLevel sets the server's log level (debug, info, warn, error).
func WithLogLevel(level string) Option { return func(o *Options) { o.LogLevel = level } }

// WithLogger sets the logger of Client.
func WithLogger(l log.Logger) Option { return func(o *Options) { o.Logger = l } }

// Server is a running dev server.
type Server struct {
	// HostPort is the frontend's address (127.0.0.1:port); it stays the same across Restart.
	HostPort string
	// Namespace is the namespace Client uses.
	Namespace string
	// Client is connected to the server. It stays valid across Restart (its connection
	// reconnects), so workers built on it keep working; do not Close it, Close does.
	Client client.Client
	// DBFilename is the SQLite file, or "" when state is in memory.
	DBFilename string
	// LogFile holds the server process's stdout and stderr.
	LogFile string

	exe     string
	opts    Options
	dir     string // temporary directory owned by the server, removed by Close
	ownsDir bool

	mu     sync.Mutex
	dev    *testsuite.DevServer
	logOut *os.File
	closed bool
	starts int
}

// Start starts a dev server for the test and stops it when the test (and its subtests) end.
// It fails the test, never skips it, when the CLI cannot be built or the server cannot start.
func Start(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	s, err := New(ctx, opts...)
	if err != nil {
		tb.Fatalf("devserver: %v", err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("devserver: last lines of the server log %s:\n%s", s.LogFile, s.LogTail(4000))
		}
		if err := s.Close(); err != nil {
			tb.Errorf("devserver: close: %v", err)
		}
	})
	return s
}

// New starts a dev server; use it where there is no testing.TB (TestMain). The caller must
// Close it.
func New(ctx context.Context, opts ...Option) (*Server, error) {
	var o Options
	for _, opt := range opts {
		opt(&o)
	}
	if o.Namespace == "" {
		o.Namespace = "default"
	}
	if o.LogLevel == "" {
		o.LogLevel = "warn"
	}
	if o.Logger == nil {
		o.Logger = log.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	}
	exe, err := EnsureCLI()
	if err != nil {
		return nil, fmt.Errorf("the Temporal CLI is required for integration tests and could not be provided: %w", err)
	}
	dir, err := os.MkdirTemp("", "temporal-devserver-")
	if err != nil {
		return nil, err
	}
	s := &Server{exe: exe, opts: o, dir: dir, ownsDir: true, Namespace: o.Namespace, LogFile: filepath.Join(dir, "server.log")}
	switch {
	case o.DBFilename != "":
		s.DBFilename, err = filepath.Abs(o.DBFilename)
		if err != nil {
			_ = os.RemoveAll(dir)
			return nil, err
		}
	case o.Persistent:
		s.DBFilename = filepath.Join(dir, "temporal.db")
	}
	if err := s.start(ctx, ""); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	s.Client, err = client.DialContext(ctx, client.Options{HostPort: s.HostPort, Namespace: s.Namespace, Logger: o.Logger})
	if err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("dial the dev server at %s: %w", s.HostPort, err)
	}
	return s, nil
}

// start runs the server process; hostPort "" picks a free loopback port.
func (s *Server) start(ctx context.Context, hostPort string) error {
	logOut, err := os.OpenFile(s.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	s.starts++
	fmt.Fprintf(logOut, "\n==== devserver start #%d %s ====\n", s.starts, time.Now().Format(time.RFC3339Nano))
	dev, err := testsuite.StartDevServer(ctx, testsuite.DevServerOptions{
		ExistingPath: s.exe,
		ClientOptions: &client.Options{
			HostPort:  hostPort,
			Namespace: s.opts.Namespace,
			Logger:    s.opts.Logger,
		},
		DBFilename: s.DBFilename,
		// The workflows' custom search attributes, as a deployment registers them.
		ExtraArgs: searchattr.DevServerArgs(),
		LogLevel:  s.opts.LogLevel,
		LogFormat: "json",
		Stdout:    logOut,
		Stderr:    logOut,
	})
	if err != nil {
		logOut.Close()
		return fmt.Errorf("start the dev server (%s server start-dev, port %q, db %q): %w\nserver log:\n%s",
			s.exe, hostPort, s.DBFilename, err, s.LogTail(4000))
	}
	// The dev server's own client is only used for its readiness check.
	dev.Client().Close()
	s.mu.Lock()
	s.dev, s.logOut = dev, logOut
	s.HostPort = dev.FrontendHostPort()
	s.mu.Unlock()
	return nil
}

// Stop stops the server process (gracefully, SIGINT) and waits for it to exit. Client stays
// usable once the server is started again with StartAgain.
// Stop of a stopped server does nothing.
func (s *Server) Stop() error {
	s.mu.Lock()
	dev, logOut := s.dev, s.logOut
	s.dev, s.logOut = nil, nil
	s.mu.Unlock()
	if dev == nil {
		return nil
	}
	done := make(chan error, 1)
	go func() { done <- dev.Stop() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(stopTimeout):
		err = fmt.Errorf("devserver: the server at %s did not exit within %s of SIGINT", s.HostPort, stopTimeout)
	}
	if logOut != nil {
		logOut.Close()
	}
	var exitErr interface{ ExitCode() int }
	if errors.As(err, &exitErr) {
		// SIGINT makes the CLI exit non-zero on some versions; the process did end.
		return nil
	}
	return err
}

// StartAgain starts a stopped server on the same port and DB file.
func (s *Server) StartAgain(ctx context.Context) error {
	s.mu.Lock()
	running := s.dev != nil
	closed := s.closed
	s.mu.Unlock()
	switch {
	case closed:
		return errors.New("devserver: the server is closed")
	case running:
		return errors.New("devserver: the server is running; Stop it first")
	}
	var err error
	// The port was free a moment ago; retry briefly in case the old process's socket lingers.
	for attempt := 0; attempt < 3; attempt++ {
		if err = s.start(ctx, s.HostPort); err == nil {
			return nil
		}
		if ctx.Err() != nil {
			break
		}
		time.Sleep(time.Second)
	}
	return err
}

// Restart stops the server and starts it again on the same port and DB file (with a DB file,
// workflows survive; without one, the new server starts empty). It fails the test on error.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	if err := s.Stop(); err != nil {
		tb.Fatalf("devserver: stop: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := s.StartAgain(ctx); err != nil {
		tb.Fatalf("devserver: restart: %v", err)
	}
}

// Close closes Client, stops the server and removes its temporary directory (not a DB file
// given with WithDBFile).
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	c := s.Client
	s.mu.Unlock()
	if c != nil {
		c.Close()
	}
	err := s.Stop()
	if s.ownsDir {
		if rerr := os.RemoveAll(s.dir); err == nil {
			err = rerr
		}
	}
	return err
}

// LogTail returns the last n bytes of the server log.
func (s *Server) LogTail(n int) string {
	b, err := os.ReadFile(s.LogFile)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", s.LogFile, err)
	}
	return strings.TrimSpace(tail(string(b), n))
}
