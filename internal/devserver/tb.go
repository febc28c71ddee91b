package devserver

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"
)

// TB is the part of testing.TB the helpers use: an interface rather than the testing package,
// so that commands importing devserver do not link testing.
type TB interface {
	Helper()
	Cleanup(func())
	Failed() bool
	Fatalf(format string, args ...any)
	Errorf(format string, args ...any)
	Logf(format string, args ...any)
}

// Start starts a dev server for the test and closes it when the test (and its subtests) end.
// It fails the test, never skips it, when the CLI cannot be built or the server cannot start.
func Start(tb TB, opts ...Option) *Server {
	tb.Helper()
	s, err := New(context.Background(), opts...)
	if err != nil {
		tb.Fatalf("devserver: %v", err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("devserver: last lines of the server log %s:\n%s", s.LogFile, s.LogTail(40))
		}
		if err := s.Close(); err != nil {
			tb.Errorf("devserver: close: %v", err)
		}
	})
	return s
}

// Restart stops the server and starts it again on the same port and DB file (with a DB file,
// workflows survive; without one, the new server starts empty). It fails the test on error.
func (s *Server) Restart(tb TB) {
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

// RunTests is a TestMain for a package whose tests share one dev server: it defaults
// -test.parallel to parallel unless given (the tests mostly wait on timers and processes, so
// more of them than GOMAXPROCS run at once), starts the server and hands it to ready, runs the
// tests, prints the end of the server log when they fail, and closes the server. It returns the
// exit code. A server that cannot start fails the package: a skipped suite would look green.
func RunTests(m interface{ Run() int }, parallel int, suite string, ready func(*Server)) int {
	flag.Parse()
	parallelSet := false
	flag.Visit(func(f *flag.Flag) { parallelSet = parallelSet || f.Name == "test.parallel" })
	if !parallelSet {
		_ = flag.Set("test.parallel", strconv.Itoa(parallel))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	s, err := New(ctx)
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: %s needs a Temporal dev server: %v\n", suite, err)
		return 1
	}
	ready(s)
	code := m.Run()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "last lines of the dev server log %s:\n%s\n", s.LogFile, s.LogTail(40))
	}
	if err := s.Close(); err != nil {
		fmt.Fprintf(os.Stderr, "closing the dev server: %v\n", err)
	}
	return code
}
