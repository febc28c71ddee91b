// Package temporalcli pins the Temporal CLI the project runs (its dev server) and installs it:
// Ensure builds it into a bin directory with `go install` once. The test script runs it as
// `go run ./internal/temporalcli/install`; the local stack and internal/devserver call Ensure.
package temporalcli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/issuemodels/durable-lro/internal/proc"
)

// Module is the pinned CLI. Later versions cannot be `go install`ed (replace directives in
// their go.mod).
const Module = "github.com/temporalio/cli/cmd/temporal@v1.5.1"

// Ensure returns the absolute path of binDir/temporal, building it with
// `GOBIN=binDir go install Module` when it is missing or does not run; progress goes to
// progress. An exclusive flock on binDir/.temporal.lock makes processes started at once (test
// binaries of several packages) build it only once.
func Ensure(ctx context.Context, binDir string, progress io.Writer) (string, error) {
	binDir, err := filepath.Abs(binDir)
	if err != nil {
		return "", err
	}
	exe := filepath.Join(binDir, "temporal")
	if works(ctx, exe) == nil {
		return exe, nil
	}
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return "", err
	}
	unlock, err := lockFile(filepath.Join(binDir, ".temporal.lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	// Another process may have built it while this one waited for the lock.
	if works(ctx, exe) == nil {
		return exe, nil
	}
	fmt.Fprintf(progress, "Building the Temporal CLI: GOBIN=%s go install %s (about 2 minutes and 2 GB of RAM, first run only)\n", binDir, Module)
	start := time.Now()
	// Outside the project, so that neither its go.mod nor a go.work takes part in the build.
	if err := proc.Go(ctx, binDir, []string{"GOBIN=" + binDir, "GOWORK=off"}, "install", Module); err != nil {
		return "", fmt.Errorf("cannot build the Temporal CLI: %w", err)
	}
	if err := works(ctx, exe); err != nil {
		return "", fmt.Errorf("built %s but it does not run: %w", exe, err)
	}
	fmt.Fprintf(progress, "Built %s in %s\n", exe, time.Since(start).Round(time.Second))
	return exe, nil
}

// works reports whether exe answers --version (a half-written binary from an interrupted build
// does not).
func works(ctx context.Context, exe string) error {
	if _, err := os.Stat(exe); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, exe, "--version").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s --version: %w: %s", exe, err, bytes.TrimSpace(out))
	}
	return nil
}
