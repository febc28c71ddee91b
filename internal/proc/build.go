package proc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
)

// modulePath is the module whose root RepoRoot finds.
const modulePath = "github.com/issuemodels/durable-lro"

// RepoRoot is the directory of this module's go.mod: from the working directory up (go test
// runs a package's tests in its directory, the commands run from the repository), else from
// this source file up.
func RepoRoot() (string, error) {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		starts = append(starts, filepath.Dir(file))
	}
	for _, dir := range starts {
		if root, ok := moduleRoot(dir); ok {
			return root, nil
		}
	}
	return "", fmt.Errorf("run this from the repository (no go.mod of %s above %q)", modulePath, starts)
}

func moduleRoot(dir string) (string, bool) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", false
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module "+modulePath+"\n")) {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// GoTool is the go command: from PATH, else from GOROOT (`go run` and `go test` set it).
func GoTool() (string, error) {
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	if goroot := os.Getenv("GOROOT"); goroot != "" {
		p := filepath.Join(goroot, "bin", "go")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("the go command is not on PATH")
}

// Go runs the go command with args in dir, env added to this process's environment; its output
// is in the error.
func Go(ctx context.Context, dir string, env []string, args ...string) error {
	goTool, err := GoTool()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, goTool, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %v: %w\n%s", args, err, bytes.TrimSpace(out))
	}
	return nil
}

// Build builds the package pkg of the repository at root (say "./worker") into out.
func Build(ctx context.Context, root, pkg, out string) error {
	return Go(ctx, root, nil, "build", "-o", out, pkg)
}
