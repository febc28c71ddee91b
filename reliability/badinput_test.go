package reliability_test

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/issuemodels/durable-lro/insights"
	"github.com/issuemodels/durable-lro/insightstest"
	"github.com/issuemodels/durable-lro/internal/badinput"
	"github.com/issuemodels/durable-lro/workflows"
)

// badInputs are the shared malformed inputs (internal/badinput, also run by the unit tests)
// that are JSON: `temporal workflow start --input` refuses the others before anything reaches the
// server (see TestNonJSONPayloads).
var badInputs = func() []badinput.Case {
	var out []badinput.Case
	for _, c := range badinput.Cases {
		if !c.NotJSON {
			out = append(out, c)
		}
	}
	return out
}()

// viaCLI: these inputs are started with the Temporal CLI binary itself (`temporal workflow
// start --input`), the others as the raw JSON payload the CLI would send.
var viaCLI = map[string]bool{
	"null": true, "empty object": true, "unknown top-level field": true, "parent uppercase": true,
	"medium unknown": true, "initialInterval days unit": true,
}

// TestBadInputEndToEnd starts every malformed input through the real server: each run fails with
// a non-retryable ApplicationError of type InvalidArgument naming the field, the emulator sees no
// RPC at all, and no workflow task fails (no panic, no retry loop).
func TestBadInputEndToEnd(t *testing.T) {
	t.Parallel()
	if len(badInputs) < 50 {
		t.Fatalf("only %d inputs", len(badInputs))
	}
	emu := newEmulator(t, 60, insightstest.Options{})
	tq, prefix := names(t)
	f := newFleet(t, 1, workerEnv(devServer.HostPort, emu.Addr(), tq))
	defer f.stopAll()
	cli := filepath.Join(repoRoot, "bin", "temporal")

	var wg sync.WaitGroup
	var mu sync.Mutex
	failedOK, cliRuns, taskFailures := 0, 0, 0
	for i, tc := range badInputs {
		id := fmt.Sprintf("%s-%d", prefix, i)
		var run client.WorkflowRun
		if viaCLI[tc.Name] {
			out, err := exec.Command(cli, "workflow", "start", "--address", devServer.HostPort, "--namespace", "default",
				"--task-queue", tq, "--type", workflows.CreateIssueModelWorkflowType, "--workflow-id", id,
				"--execution-timeout", "5m", "--input", tc.Input).CombinedOutput()
			if err != nil {
				t.Errorf("%s: temporal workflow start: %v\n%s", tc.Name, err, out)
				continue
			}
			cliRuns++
			t.Cleanup(func() { terminateIfRunning(devServer.Client, id) })
			run = devServer.Client.GetWorkflow(context.Background(), id, "")
		} else {
			run = startCreate(t, devServer.Client, id, tq, tc.Input)
		}
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			err := run.Get(ctx, nil)
			var appErr *temporal.ApplicationError
			var fv insights.FieldViolation
			ok := true
			switch {
			case err == nil:
				t.Errorf("%s: the run succeeded", tc.Name)
				ok = false
			case !errors.As(err, &appErr) || appErr.Type() != insights.ErrInvalidArgument || !appErr.NonRetryable():
				t.Errorf("%s: want a non-retryable InvalidArgument, got %v", tc.Name, err)
				ok = false
			case appErr.Details(&fv) != nil || fv.Field != tc.Field || !strings.HasPrefix(appErr.Error(), tc.Field+": "):
				t.Errorf("%s: field %q, message %q; want field %q", tc.Name, fv.Field, appErr.Error(), tc.Field)
				ok = false
			}
			evs := history(t, devServer.Client, id, "")
			n := countEvents(evs, enumspb.EVENT_TYPE_WORKFLOW_TASK_FAILED)
			if n != 0 {
				t.Errorf("%s: %d WorkflowTaskFailed events", tc.Name, n)
			}
			mu.Lock()
			defer mu.Unlock()
			taskFailures += n
			if ok {
				failedOK++
			}
		})
	}
	wg.Wait()
	var rpcs int64
	for _, v := range emu.Stats().RPCs {
		rpcs += v
	}
	if rpcs != 0 {
		t.Errorf("the emulator saw %d RPCs, want 0: %v", rpcs, emu.Stats().RPCs)
	}
	t.Logf("FIGURE bad-input inputs=%d viaCLI=%d failedInvalidArgumentNamingField=%d emulatorRPCs=%d workflowTaskFailed=%d",
		len(badInputs), cliRuns, failedOK, rpcs, taskFailures)
}

// TestNonJSONPayloads documents what the CLI protects against: `temporal workflow start
// --input` refuses input that is not JSON, so such bytes can only come from a client that
// builds payloads by hand. The SDK then fails the run at once (no workflow task failure loop, no
// RPC), though with the SDK's untyped decode error rather than InvalidArgument.
func TestNonJSONPayloads(t *testing.T) {
	t.Parallel()
	cli := filepath.Join(repoRoot, "bin", "temporal")
	out, err := exec.Command(cli, "workflow", "start", "--address", devServer.HostPort, "--namespace", "default",
		"--task-queue", "rel-nonjson-unused", "--type", workflows.CreateIssueModelWorkflowType,
		"--workflow-id", fmt.Sprintf("rel-nonjson-cli-%d", time.Now().UnixNano()), "--input", `{"parent":`).CombinedOutput()
	if err == nil {
		t.Errorf("the CLI accepted truncated JSON: %s", out)
	}
	emu := newEmulator(t, 60, insightstest.Options{})
	tq, prefix := names(t)
	f := newFleet(t, 1, workerEnv(devServer.HostPort, emu.Addr(), tq))
	defer f.stopAll()
	var results []string
	for i, raw := range []string{`{"parent":`, `{"parent":"projects/a/locations/b"} {}`, ``} {
		id := fmt.Sprintf("%s-%d", prefix, i)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		run, err := devServer.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: tq, WorkflowExecutionTimeout: 20 * time.Second},
			workflows.CreateIssueModelWorkflowType, rawJSON([]byte(raw)))
		cancel()
		if err != nil {
			t.Fatalf("start: %v", err)
		}
		t.Cleanup(func() { terminateIfRunning(devServer.Client, id) })
		ctx, cancel = context.WithTimeout(context.Background(), 8*time.Second)
		err = run.Get(ctx, nil)
		cancel()
		n := countEvents(history(t, devServer.Client, id, ""), enumspb.EVENT_TYPE_WORKFLOW_TASK_FAILED)
		results = append(results, fmt.Sprintf("%q:type=%s/workflowTaskFailed=%d", raw, errType(err), n))
		if err == nil || n != 0 {
			t.Errorf("%q: error %v, %d WorkflowTaskFailed; want a failed run and none", raw, err, n)
		}
	}
	var rpcs int64
	for _, v := range emu.Stats().RPCs {
		rpcs += v
	}
	if rpcs != 0 {
		t.Errorf("the emulator saw %d RPCs", rpcs)
	}
	t.Logf("FIGURE non-json-payloads cliRefuses=true emulatorRPCs=%d %s", rpcs, strings.Join(results, " "))
}
