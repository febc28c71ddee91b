package devserver

import (
	"context"
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
