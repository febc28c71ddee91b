package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/issuemodels/durable-lro/insightstest"
	"github.com/issuemodels/durable-lro/internal/devserver"
	"github.com/issuemodels/durable-lro/workflows"
)

// versioningTimeout bounds every wait of the Worker Versioning test.
const versioningTimeout = 90 * time.Second

// TestWorkerVersioningOnTheDevServer runs the real worker (serve, configured by its flags) with
// Worker Versioning on the pinned dev server and rolls out a second build with the CLI commands
// README documents: a run started on build 1 stays pinned to it while build 2 becomes current,
// and a run started afterwards executes on build 2.
func TestWorkerVersioningOnTheDevServer(t *testing.T) {
	// The second training (the pinned run caught by the rollout) lasts; the others are quick.
	var creates atomic.Int32
	srv, emu := startStack(t, insightstest.Options{
		TrainingTime: func() time.Duration {
			if creates.Add(1) == 2 {
				return 100 * time.Hour
			}
			return time.Minute
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), versioningTimeout)
	defer cancel()
	v := &versioned{t: t, ctx: ctx, c: srv.Client, cli: temporalCLI(t, srv.HostPort, srv.Namespace),
		taskQueue: fmt.Sprintf("issue-models-versioning-%d", time.Now().UnixNano())}

	defer v.startWorker("build-1")()
	v.cliUntilOK("worker", "deployment", "set-current-version", "--deployment-name", testDeployment, "--build-id", "build-1", "--yes")
	if out := v.cliUntilOK("worker", "deployment", "describe-version", "--deployment-name", testDeployment, "--build-id", "build-1", "-o", "json"); !strings.Contains(out, v.taskQueue) {
		t.Errorf("describe-version does not list the worker's task queue %s:\n%s", v.taskQueue, out)
	}
	first := v.start("first")
	v.wantSucceeded(first)
	v.wantVersion(first, "build-1")

	caught := v.start("caught") // its training lasts: the rollout below catches it polling
	v.waitFor("the caught run to poll", func() bool { return creates.Load() >= 2 })

	defer v.startWorker("build-2")()
	v.cliUntilOK("worker", "deployment", "set-ramping-version", "--deployment-name", testDeployment, "--build-id", "build-2", "--percentage", "10", "--yes")
	if out := v.cliUntilOK("worker", "deployment", "describe", "--name", testDeployment, "-o", "json"); !strings.Contains(out, "build-2") {
		t.Errorf("describe does not show build-2 ramping:\n%s", out)
	}
	v.cliUntilOK("worker", "deployment", "set-current-version", "--deployment-name", testDeployment, "--build-id", "build-2", "--yes")

	second := v.start("second")
	v.wantSucceeded(second)
	v.wantVersion(second, "build-2")
	// Workflow tasks after the switch (poll-now, the next polls) still go to build 1: the run
	// is pinned.
	switched := v.historyLength(caught)
	if err := v.c.SignalWorkflow(ctx, caught.GetID(), "", workflows.PollNowSignal, nil); err != nil {
		t.Fatal(err)
	}
	v.wantTasksOn(caught, switched, "build-1")
	v.wantVersion(caught, "build-1")
	out := v.cliUntilOK("worker", "deployment", "describe-version", "--deployment-name", testDeployment, "--build-id", "build-1", "-o", "json")
	var described struct {
		DrainageInfo struct{ DrainageStatus string } `json:"drainageInfo"`
	}
	if err := json.Unmarshal([]byte(out), &described); err != nil || described.DrainageInfo.DrainageStatus != "draining" {
		t.Errorf("build-1 with a pinned run open must be draining: %v\n%s", err, out)
	}
	if err := v.c.TerminateWorkflow(ctx, caught.GetID(), "", "test ended"); err != nil {
		t.Error(err)
	}
	// Every call named the endpoint of its run's location, which the emulator checked.
	if st := emu.Stats(); len(st.WrongEndpoint) != 0 || st.RPCs["CreateIssueModel"] != 3 {
		t.Errorf("emulator: %d creations, refused as sent to the wrong endpoint: %v", st.RPCs["CreateIssueModel"], st.WrongEndpoint)
	}
}

const testDeployment = "issue-models-itest"

// versioned is the Worker Versioning test's world.
type versioned struct {
	t         *testing.T
	ctx       context.Context
	c         client.Client
	cli       func(ctx context.Context, args ...string) (string, error)
	taskQueue string
}

// startWorker runs the real worker of build buildID, pinned by default, and returns its stop.
func (v *versioned) startWorker(buildID string) func() {
	v.t.Helper()
	cfg, err := parseFlags([]string{"-task-queue", v.taskQueue,
		"-deployment-name", testDeployment, "-build-id", buildID, "-versioning-behavior", "pinned"},
		func(string) string { return "" })
	if err != nil {
		v.t.Fatal(err)
	}
	return startServe(v.t, cfg)
}

// cliUntilOK runs a CLI command until it succeeds (a version exists only once its worker has
// polled) and returns its output.
func (v *versioned) cliUntilOK(args ...string) string {
	v.t.Helper()
	for {
		out, err := v.cli(v.ctx, args...)
		if err == nil {
			return out
		}
		if v.ctx.Err() != nil {
			v.t.Fatalf("temporal %s never succeeded: %v\n%s", strings.Join(args, " "), err, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (v *versioned) start(name string) client.WorkflowRun {
	v.t.Helper()
	// A location of each run's own: the emulator allows one creation at a time per location. The
	// three are in three regions, each served by its own endpoint, which the worker's clients
	// name to the emulator.
	location := map[string]string{"first": "us-central1", "caught": "europe-west1", "second": "asia-south1"}[name]
	input := `{"parent":"projects/itest/locations/` + location + `","issueModel":{"displayName":"` + name + `"},"polling":{"initialInterval":"1s","maxInterval":"2s"}}`
	run, err := v.c.ExecuteWorkflow(v.ctx, client.StartWorkflowOptions{ID: v.taskQueue + "-" + name, TaskQueue: v.taskQueue},
		workflows.CreateIssueModelWorkflowType, json.RawMessage(input))
	if err != nil {
		v.t.Fatal(err)
	}
	return run
}

func (v *versioned) wantSucceeded(run client.WorkflowRun) {
	v.t.Helper()
	var res workflows.CreateIssueModelResult
	if err := run.Get(v.ctx, &res); err != nil || res.Outcome != workflows.OutcomeSucceeded {
		v.t.Fatalf("%s: %+v, %v", run.GetID(), res, err)
	}
}

// wantVersion checks the version and behaviour the server recorded for the run.
func (v *versioned) wantVersion(run client.WorkflowRun, buildID string) {
	v.t.Helper()
	d, err := v.c.DescribeWorkflow(v.ctx, run.GetID(), "")
	if err != nil {
		v.t.Fatal(err)
	}
	vi := d.RawResponse.GetWorkflowExecutionInfo().GetVersioningInfo()
	if got := vi.GetDeploymentVersion(); got.GetDeploymentName() != testDeployment || got.GetBuildId() != buildID {
		v.t.Errorf("%s executed on version %v, want %s/%s (versioning info %v)", run.GetID(), got, testDeployment, buildID, vi)
	}
	if vi.GetBehavior() != enumspb.VERSIONING_BEHAVIOR_PINNED {
		v.t.Errorf("%s: versioning behaviour %v, want PINNED (-versioning-behavior pinned)", run.GetID(), vi.GetBehavior())
	}
}

func (v *versioned) waitFor(what string, cond func() bool) {
	v.t.Helper()
	for !cond() {
		if v.ctx.Err() != nil {
			v.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (v *versioned) historyLength(run client.WorkflowRun) int64 {
	v.t.Helper()
	d, err := v.c.DescribeWorkflow(v.ctx, run.GetID(), "")
	if err != nil {
		v.t.Fatal(err)
	}
	return d.RawResponse.GetWorkflowExecutionInfo().GetHistoryLength()
}

// wantTasksOn waits for two workflow tasks of the run completed after event after, and checks
// that the worker of buildID completed them.
func (v *versioned) wantTasksOn(run client.WorkflowRun, after int64, buildID string) {
	v.t.Helper()
	seen := 0
	v.waitFor("workflow tasks after the switch", func() bool {
		seen = 0
		it := v.c.GetWorkflowHistory(v.ctx, run.GetID(), "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			e, err := it.Next()
			if err != nil {
				v.t.Fatal(err)
			}
			a := e.GetWorkflowTaskCompletedEventAttributes()
			if a == nil || e.GetEventId() <= after {
				continue
			}
			if got := a.GetDeploymentVersion().GetBuildId(); got != buildID {
				v.t.Fatalf("%s: workflow task %d completed by build %q, want %s", run.GetID(), e.GetEventId(), got, buildID)
			}
			seen++
		}
		return seen >= 2
	})
}

// startServe runs serve in the background; the returned function stops it and fails the test
// if it ended with an error.
func startServe(t *testing.T, cfg config) func() {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel))) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("worker: %v", err)
		}
	}
}

// temporalCLI runs the pinned Temporal CLI against the dev server and returns its output.
func temporalCLI(t *testing.T, address, namespace string) func(ctx context.Context, args ...string) (string, error) {
	t.Helper()
	exe, err := devserver.EnsureCLI()
	if err != nil {
		t.Fatal(err)
	}
	return func(ctx context.Context, args ...string) (string, error) {
		args = append(args, "--address", address, "--namespace", namespace)
		out, err := exec.CommandContext(ctx, exe, args...).CombinedOutput()
		return string(out), err
	}
}
