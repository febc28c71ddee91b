// Package temporalcli pins the Temporal CLI the project runs (its dev server) and the Temporal
// server the cluster tests run, and installs them: Ensure and EnsureServer build them into a bin
// directory with `go install` once. The test script runs it as
// `go run ./internal/temporalcli/install`; the local stack and internal/devserver call Ensure.
package temporalcli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/issuemodels/durable-lro/internal/proc"
)

// Module is the pinned CLI. Later versions cannot be `go install`ed (replace directives in
// their go.mod).
const Module = "github.com/temporalio/cli/cmd/temporal@v1.5.1"

// ServerVersion is the Temporal server the cluster tests build (internal/cluster) and the
// compose file runs (temporalio/server and temporalio/admin-tools images of this version). The
// CLI above embeds the same server version in its dev server.
const ServerVersion = "v1.29.1"

// ServerModule is the module holding the server, temporal-sql-tool and their schema files.
const ServerModule = "go.temporal.io/server"

// install is one binary `go install` builds: the package and the name it gets in binDir.
type install struct{ pkg, name string }

// Ensure returns the absolute path of binDir/temporal, building it with
// `GOBIN=binDir go install Module` when it is missing or does not run; progress goes to
// progress. An exclusive flock on binDir/.temporal.lock makes processes started at once (test
// binaries of several packages) build it only once.
func Ensure(ctx context.Context, binDir string, progress io.Writer) (string, error) {
	exes, err := ensure(ctx, binDir, progress, "the Temporal CLI", "about 2 minutes and 2 GB of RAM",
		install{Module, "temporal"})
	if err != nil {
		return "", err
	}
	return exes[0], nil
}

// EnsureServer returns the absolute paths of binDir/temporal-server and
// binDir/temporal-sql-tool, building them (ServerModule at ServerVersion, in a module of their
// own: the server stays out of the project's go.mod) when they are missing or do not run.
func EnsureServer(ctx context.Context, binDir string, progress io.Writer) (server, sqlTool string, err error) {
	exes, err := ensure(ctx, binDir, progress, "the Temporal server and temporal-sql-tool", "about 3 minutes and 2 GB of RAM",
		install{ServerModule + "/cmd/server@" + ServerVersion, "temporal-server"},
		install{ServerModule + "/cmd/tools/sql@" + ServerVersion, "temporal-sql-tool"})
	if err != nil {
		return "", "", err
	}
	return exes[0], exes[1], nil
}

// ServerModuleDir is the directory of ServerModule@ServerVersion in the module cache (its
// config/ and schema/ files), downloading it when needed.
func ServerModuleDir(ctx context.Context) (string, error) {
	goTool, err := proc.GoTool()
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, goTool, "mod", "download", "-json", ServerModule+"@"+ServerVersion)
	cmd.Dir = os.TempDir() // outside the project, like the build
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	out, err := cmd.Output()
	var m struct{ Dir, Error string }
	if jerr := json.Unmarshal(out, &m); jerr != nil || m.Dir == "" {
		return "", fmt.Errorf("go mod download %s@%s: %v %s %s", ServerModule, ServerVersion, err, m.Error, bytes.TrimSpace(out))
	}
	return m.Dir, nil
}

// ensure returns the absolute paths of binDir/<name> of every install, building them all with
// one `go install` (into a staging directory, then renamed into place, so that an interrupted
// build leaves nothing half-written) unless each already answers --version. An exclusive
// flock on binDir/.temporal.lock makes processes started at once build them only once.
func ensure(ctx context.Context, binDir string, progress io.Writer, what, cost string, installs ...install) ([]string, error) {
	binDir, err := filepath.Abs(binDir)
	if err != nil {
		return nil, err
	}
	exes := make([]string, len(installs))
	pkgs := make([]string, len(installs))
	for i, in := range installs {
		exes[i], pkgs[i] = filepath.Join(binDir, in.name), in.pkg
	}
	allWork := func() bool {
		for _, exe := range exes {
			if works(ctx, exe) != nil {
				return false
			}
		}
		return true
	}
	if allWork() {
		return exes, nil
	}
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return nil, err
	}
	unlock, err := lockFile(filepath.Join(binDir, ".temporal.lock"))
	if err != nil {
		return nil, err
	}
	defer unlock()
	// Another process may have built them while this one waited for the lock.
	if allWork() {
		return exes, nil
	}
	fmt.Fprintf(progress, "Building %s: go install %s (%s, first run only)\n", what, strings.Join(pkgs, " "), cost)
	start := time.Now()
	staging, err := os.MkdirTemp(binDir, ".build-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(staging)
	// Outside the project, so that neither its go.mod nor a go.work takes part in the build.
	if err := proc.Go(ctx, staging, []string{"GOBIN=" + staging, "GOWORK=off"}, append([]string{"install"}, pkgs...)...); err != nil {
		return nil, fmt.Errorf("cannot build %s: %w", what, err)
	}
	for i, in := range installs {
		// go install names a binary after the last element of its package path (before @).
		built := filepath.Join(staging, path.Base(strings.SplitN(in.pkg, "@", 2)[0]))
		if err := os.Rename(built, exes[i]); err != nil {
			return nil, err
		}
		if err := works(ctx, exes[i]); err != nil {
			return nil, fmt.Errorf("built %s but it does not run: %w", exes[i], err)
		}
	}
	fmt.Fprintf(progress, "Built %s in %s\n", strings.Join(exes, " and "), time.Since(start).Round(time.Second))
	return exes, nil
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
