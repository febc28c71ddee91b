// Package devserver runs a real Temporal dev server (the Temporal CLI's `server start-dev`) for
// integration tests: EnsureCLI builds the CLI into <repo>/bin once, Start runs a server on free
// loopback ports and stops it when the test ends, and Restart brings it back on the same port
// and SQLite file so tests can exercise a server restart.
package devserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// CLIModule is the Temporal CLI build the project uses. Later versions refuse `go install`
// (replace directives in their go.mod).
const CLIModule = "github.com/temporalio/cli/cmd/temporal@v1.5.1"

// buildTimeout bounds `go install` of the CLI (about 2 minutes cold on 2 cores).
const buildTimeout = 15 * time.Minute

var (
	cliOnce sync.Once
	cliPath string
	cliErr  error
)

// EnsureCLI returns the absolute path of <repo root>/bin/temporal, building it with
// `go install github.com/temporalio/cli/cmd/temporal@v1.5.1` when it is missing or does not run.
// The build is guarded by an exclusive flock on <repo root>/bin/.temporal.lock, so test binaries
// of several packages started at once by `go test ./...` build it only once.
func EnsureCLI() (string, error) {
	cliOnce.Do(func() { cliPath, cliErr = ensureCLI() })
	return cliPath, cliErr
}

func ensureCLI() (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	binDir := filepath.Join(root, "bin")
	exe := filepath.Join(binDir, "temporal")
	if runtime.GOOS == "windows" {
		exe += ".exe"
	}
	if cliWorks(exe) == nil {
		return exe, nil
	}
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return "", fmt.Errorf("devserver: create %s: %w", binDir, err)
	}
	unlock, err := lockFile(filepath.Join(binDir, ".temporal.lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	// Another process may have built it while we waited for the lock.
	if cliWorks(exe) == nil {
		return exe, nil
	}
	if err := buildCLI(binDir); err != nil {
		return "", err
	}
	if err := cliWorks(exe); err != nil {
		return "", fmt.Errorf("devserver: built %s but it does not run: %w", exe, err)
	}
	return exe, nil
}

// cliWorks reports whether exe exists and answers --version (a half-written binary from an
// interrupted build does not).
func cliWorks(exe string) error {
	if _, err := os.Stat(exe); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, exe, "--version").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s --version: %w: %s", exe, err, bytes.TrimSpace(out))
	}
	return nil
}

func buildCLI(binDir string) error {
	goTool, err := goBinary()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool, "install", CLIModule)
	// Outside the project so neither its go.mod nor a go.work takes part in the build.
	cmd.Dir = binDir
	cmd.Env = append(os.Environ(), "GOBIN="+binDir, "GOWORK=off")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	fmt.Fprintf(os.Stderr, "devserver: building the Temporal CLI: GOBIN=%s %s install %s (about 2 minutes cold)\n", binDir, goTool, CLIModule)
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("devserver: cannot build the Temporal CLI (GOBIN=%s go install %s) after %s: %w\n%s",
			binDir, CLIModule, time.Since(start).Round(time.Second), err, tail(out.String(), 4000))
	}
	fmt.Fprintf(os.Stderr, "devserver: built the Temporal CLI in %s\n", time.Since(start).Round(time.Second))
	return nil
}

// goBinary finds the go command: the toolchain running the tests first, then PATH.
func goBinary() (string, error) {
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	if goroot := os.Getenv("GOROOT"); goroot != "" {
		p := filepath.Join(goroot, "bin", "go")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("devserver: cannot build the Temporal CLI: the go command is not on PATH")
}

// lockFile takes an exclusive flock on path, waiting as long as another process holds it.
func lockFile(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("devserver: open lock %s: %w", path, err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("devserver: lock %s: %w", path, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// RepoRoot returns the directory of the nearest go.mod above the working directory (go test
// runs a package's tests in its directory), or above this source file as a fallback.
func RepoRoot() (string, error) {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		starts = append(starts, filepath.Dir(file))
	}
	for _, dir := range starts {
		if root, ok := findGoMod(dir); ok {
			return root, nil
		}
	}
	return "", fmt.Errorf("devserver: no go.mod found above %s", strings.Join(starts, " or "))
}

func findGoMod(dir string) (string, bool) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", false
	}
	for {
		if st, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil && !st.IsDir() {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
