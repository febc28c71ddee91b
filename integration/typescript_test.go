package integration_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/issuemodels/durable-lro/insightstest"
	"github.com/issuemodels/durable-lro/internal/proc"
	"github.com/issuemodels/durable-lro/workflows"
)

// TestTypeScriptCallers runs callers/typescript (test.js) with the machine's Node.js: a
// TypeScript workflow (type-checked by tsc) in the callers namespace trains through the Nexus
// endpoint, another starts
// CreateIssueModelWorkflow as a child by type name with the README's JSON, and a cancelled
// TypeScript caller cancels the training. The JSON is the contract, not Go structs.
func TestTypeScriptCallers(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("SKIPPED: Node.js is absent (no `node` on PATH): the TypeScript callers in callers/typescript are not tested; install Debian's nodejs and npm (.ci/run does)")
	}
	if v, err := exec.Command(node, "-p", "process.versions.node").Output(); err == nil && !nodeAtLeast20(strings.TrimSpace(string(v))) {
		t.Fatalf("Node.js %s is too old: the @temporalio packages need >= 20.3 (.ci/run installs Node.js 20 where Debian's is older)", strings.TrimSpace(string(v)))
	}
	root, err := proc.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "callers", "typescript")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@temporalio", "worker")); err != nil {
		// The pinned packages of package-lock.json (about 20 s; kept in the git-ignored node_modules).
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("npm ci in %s: %v\n%s", dir, err, out)
		}
	}
	t.Parallel()
	// The workflows type-check (strict) against the SDK's own types: the worker's bundler only
	// strips them.
	tsc := exec.Command(node, filepath.Join("node_modules", "typescript", "bin", "tsc"), "-p", ".")
	tsc.Dir = dir
	if out, err := tsc.CombinedOutput(); err != nil {
		t.Fatalf("tsc: %v\n%s", err, out)
	}
	// The third training (the one the caller cancels) would take 1000 h.
	var creates atomic.Int32
	n := newNexusEnv(t, insightstest.Options{TrainingTime: func() time.Duration {
		if creates.Add(1) == 3 {
			return 1000 * time.Hour
		}
		return 10 * time.Minute
	}})
	cancelInput := createInput("ts-cancel-"+n.idPrefix, fastPolling)
	in, err := workflows.DecodeCreateIssueModelInput([]byte(cancelInput))
	if err != nil {
		t.Fatal(err)
	}
	backing := workflows.CreateWorkflowID(in)
	t.Cleanup(func() { _ = n.c.TerminateWorkflow(context.Background(), backing, "", "test ended") })

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "test.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"TEMPORAL_ADDRESS="+devServer.HostPort,
		"NEXUS_ENDPOINT="+n.endpoint,
		"ISSUE_MODELS_TASK_QUEUE="+n.taskQueue,
		"CALLERS_NAMESPACE="+callersNamespace,
		"ID_PREFIX="+n.idPrefix,
		"CREATE_INPUT="+createInput("ts-nexus-"+n.idPrefix, fastPolling),
		"CHILD_INPUT="+createInput("ts-child-"+n.idPrefix, fastPolling),
		"CANCEL_INPUT="+cancelInput,
		"CANCEL_BACKING_ID="+backing,
	)
	out, err := cmd.CombinedOutput()
	t.Logf("node test.js:\n%s", out)
	if err != nil {
		t.Fatalf("the TypeScript callers failed: %v", err)
	}
	n.wantCreateCalls(3, "one per training")
	if n.emu.Stats().RPCs["CancelOperation"] < 1 {
		t.Error("no CancelOperation: the TypeScript caller's cancel did not reach the training")
	}
}

// nodeAtLeast20 reports whether version (process.versions.node, "20.20.2") is 20.3 or later.
func nodeAtLeast20(version string) bool {
	parts := strings.SplitN(version, ".", 3)
	if len(parts) < 2 {
		return false
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	return err1 == nil && err2 == nil && (major > 20 || major == 20 && minor >= 3)
}
