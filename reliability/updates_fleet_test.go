package reliability_test

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/issuemodels/durable-lro/insightstest"
	"github.com/issuemodels/durable-lro/workflows"
)

// beforeUpdates is the release whose workers run beside this one's in a rolling deploy: the
// last main without the cancel and poll-now updates (MIXED_FLEET_FROM overrides it).
const beforeUpdates = "acf47ed"

// TestUpdatesInAMixedFleet: a run started on this release's worker cannot be taken over by a
// worker of the release before (the fence: its tasks fail there, and the run waits); back on this
// release, the run accepts the poll-now update; then the only worker left is the old release's,
// which must replay that history. README's "Steering by Update" says what happens: the old worker
// cannot replay the accepted update, the run waits (it is not broken), and once a worker of this
// release is back the run goes on to its outcome, with one model.
func TestUpdatesInAMixedFleet(t *testing.T) {
	t.Parallel()
	from := beforeUpdates
	if c := os.Getenv("MIXED_FLEET_FROM"); c != "" {
		from = c
	}
	if err := exec.Command("git", "-C", repoRoot, "cat-file", "-e", from+"^{commit}").Run(); err != nil {
		t.Skipf("SKIPPED LOUDLY: commit %s is not in this clone's history (a shallow clone?)", from)
	}
	oldBin := buildRelease(t, from)
	// The training lasts until the test is done switching workers; then the clock jumps past it.
	clock := insightstest.NewJumpClock(insightstest.RealClock(60))
	emu := newEmulator(t, 60, insightstest.Options{Clock: clock, TrainingTime: fixed(1000 * time.Hour)})
	tq, prefix := names(t)
	env := workerEnv(devServer.HostPort, emu.Addr(), tq)
	current := startWorker(t, t.TempDir(), env)

	run := startCreate(t, devServer.Client, prefix, tq,
		createInput("projects/rel-mixed/locations/us-central1", "mixed", `"polling":{"initialInterval":"1s","maxInterval":"2s"}`))
	waitQuery(t, run, "a poll", func(st map[string]any) bool { n, _ := st["polls"].(float64); return n >= 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	// Even without an update, the old release cannot take over a run this release started: the
	// fence after the versioned changes' markers (fenceOlderWorkers) makes it fail the run's
	// tasks as non-deterministic instead of advancing the run on its old path; the run waits.
	old := startWorkerBinary(t, oldBin, env)
	current.Kill()
	waitOldWorkerFailsATask(t, run, old)
	current = startWorker(t, t.TempDir(), env)
	old.Kill()
	h, err := devServer.Client.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: run.GetID(), UpdateName: workflows.PollNowUpdate, WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err != nil {
		t.Fatal(err)
	}
	var st workflows.PollStatus
	if err := h.Get(ctx, &st); err != nil || st.Polls < 2 {
		t.Fatalf("poll-now: %+v, %v", st, err)
	}

	// Only the old release is left: it must take the run's next workflow tasks.
	current.Kill()
	old = startWorkerBinary(t, oldBin, env)
	oldFailed := oldWorkerTaskFailures(t, run)
	if d, err := devServer.Client.DescribeWorkflow(ctx, run.GetID(), ""); err != nil || d.Status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		t.Fatalf("with only the old release's worker the run must wait, open: %v %v", d, err)
	}

	// This release's worker is back beside the old one: the run goes on to its outcome.
	startWorker(t, t.TempDir(), env)
	clock.Jump(1001 * time.Hour)
	var res struct {
		Outcome string `json:"outcome"`
	}
	if err := run.Get(ctx, &res); err != nil || res.Outcome != workflows.OutcomeSucceeded {
		t.Fatalf("run: %+v %v\nold worker log:\n%s", res, err, workerLog(old))
	}
	if n := emu.Stats().RPCs["CreateIssueModel"]; n != 1 {
		t.Errorf("CreateIssueModel RPCs = %d, want 1", n)
	}
	t.Logf("FIGURE mixed-fleet-update from=%s oldWorkerTaskFailures=%d (0: the old worker got no task to replay)", from, oldFailed)
}

// waitOldWorkerFailsATask waits until the old worker failed one of the run's workflow tasks,
// failing the test if it completes one instead.
func waitOldWorkerFailsATask(t *testing.T, run client.WorkflowRun, old *workerProc) {
	t.Helper()
	takeover := time.Now().Add(90 * time.Second)
	for {
		completed, _, failed, _ := taskCompletions(t, run.GetID(), old.Pid())
		if completed != 0 {
			t.Fatalf("the old worker completed %d workflow tasks of a run this release started\n%s", completed, workerLog(old))
		}
		if failed >= 1 {
			break
		}
		if time.Now().After(takeover) {
			t.Fatalf("the old worker neither completed nor failed a workflow task of the run\n%s", workerLog(old))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// oldWorkerTaskFailures waits up to 90 s for the run's workflow tasks to fail on the old worker
// (the only one left), logging each failure, and returns how many did.
func oldWorkerTaskFailures(t *testing.T, run client.WorkflowRun) int {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	oldFailed := 0
	for time.Now().Before(deadline) && oldFailed == 0 {
		for _, ev := range history(t, devServer.Client, run.GetID(), "") {
			if a := ev.GetWorkflowTaskFailedEventAttributes(); a != nil {
				oldFailed++
				t.Logf("the old worker's workflow task failed (%s): %.300s", a.GetCause(), a.GetFailure().GetMessage())
			}
		}
		time.Sleep(time.Second)
	}
	return oldFailed
}
