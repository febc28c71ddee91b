package nexusservice

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// Defaults of the local stack (cmd/localstack, docker-compose.yml): the endpoint callers name,
// and the namespace their workflows run in.
const (
	DefaultEndpoint         = "issue-models"
	DefaultCallersNamespace = "callers"
)

// Endpoint describes a Nexus endpoint of the service: its name, the namespace and task queue of
// our worker it targets, and the namespace callers run in (created if missing).
type Endpoint struct {
	Name, TargetNamespace, TaskQueue, CallersNamespace string
}

// Commands are the Temporal CLI commands that set the endpoint up, as README documents them
// (each also takes --address and the connection flags).
func (e Endpoint) Commands() [][]string {
	return [][]string{
		{"operator", "namespace", "create", "--namespace", e.CallersNamespace},
		{"operator", "nexus", "endpoint", "create", "--name", e.Name,
			"--target-namespace", e.TargetNamespace, "--target-task-queue", e.TaskQueue},
	}
}

// Setup runs Commands with the Temporal CLI at cli against the server at address; what already
// exists counts as done, so it can run at every start. It returns once the callers' namespace
// serves requests (a new namespace takes a few seconds to).
func (e Endpoint) Setup(ctx context.Context, cli, address string) error {
	for _, args := range e.Commands() {
		out, err := runCLI(ctx, cli, address, args...)
		if err != nil && !strings.Contains(strings.ToLower(out), "already") {
			return fmt.Errorf("temporal %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	for {
		out, err := runCLI(ctx, cli, address, "workflow", "count", "--namespace", e.CallersNamespace)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("namespace %s does not serve requests: %v: %s", e.CallersNamespace, ctx.Err(), out)
		case <-time.After(300 * time.Millisecond):
		}
	}
}

func runCLI(ctx context.Context, cli, address string, args ...string) (string, error) {
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(cctx, cli, append(args, "--address", address)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return strings.TrimSpace(out.String()), err
}
