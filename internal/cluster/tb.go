//go:build unix

package cluster

import (
	"context"
	"errors"
	"time"

	"github.com/issuemodels/durable-lro/internal/devserver"
)

// TB is the part of testing.TB Start uses.
type TB interface {
	devserver.TB
	Skipf(format string, args ...any)
}

// startTimeout bounds New: the first run builds the server (about 3 minutes on 2 cores).
const startTimeout = 25 * time.Minute

// Start starts a cluster for the test and closes it when the test ends. It skips the test,
// loudly, only when PostgreSQL cannot be installed here; any other failure fails it.
func Start(tb TB) *Server {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	s, err := New(ctx)
	if errors.Is(err, ErrNoPostgres) {
		tb.Skipf("SKIPPED, NOT TESTED: the Temporal cluster on PostgreSQL needs PostgreSQL (apt-get install postgresql, as root): %v", err)
	}
	if err != nil {
		tb.Fatalf("cluster: %v", err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("cluster: last lines of the server log %s:\n%s\nPostgreSQL log %s:\n%s",
				s.LogFile, s.LogTail(40), s.PG.LogFile, s.PG.tail(20))
		}
		if err := s.Close(); err != nil {
			tb.Errorf("cluster: close: %v", err)
		}
	})
	return s
}
