package reliability_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/issuemodels/durable-lro/insightstest"
	"github.com/issuemodels/durable-lro/internal/proc"
	"github.com/issuemodels/durable-lro/workflows"
)

// TestRollingUpgrade runs creations, lifecycles and cancels on a worker built from a previous
// release (each release with recorded histories, or UPGRADE_FROM=<commit>), stops that worker
// while every run is in flight, and lets the current worker take over, unversioned: the upgrade
// is safe by the workflows' own versioning, not by routing. Every run must end as it would have
// without the upgrade, with exactly one model each and no workflow task failure.
func TestRollingUpgrade(t *testing.T) {
	t.Parallel()
	for _, from := range previousReleases(t) {
		t.Run("from-"+from, func(t *testing.T) {
			t.Parallel()
			rollingUpgrade(t, from)
		})
	}
}

func rollingUpgrade(t *testing.T, from string) {
	creations, lifecycles, cancels := size(20, 100), size(4, 12), size(2, 6)
	oldWorker := buildRelease(t, from)

	// Trainings of 20–40 emulated minutes at 60x (20–40 s); lifecycles named "quick" train in
	// 1 s and then deploy for 20 s, so they are mid-deploy at the switch. The server cannot cancel
	// a training (UNIMPLEMENTED), so cancelled runs are still confirming their cancel then.
	long := uniform(20*time.Minute, 40*time.Minute, 0)
	emu := newEmulator(t, 60, insightstest.Options{
		CancelMode: insightstest.CancelUnimplemented, DeployTime: 20 * time.Minute,
		TrainingTimeFor: quickOr(long),
	})
	tq, prefix := names(t)
	env := workerEnv(devServer.HostPort, emu.Addr(), tq)
	old := startWorkerBinary(t, oldWorker, env)

	const polling = `"polling":{"initialInterval":"1s","multiplier":1.5,"maxInterval":"3s"}`
	runs := startUpgradeRuns(t, tq, prefix, "upgrade", upgradeParent, polling, creations, cancels, lifecycles)

	inFlight := bringEverythingInFlight(t, runs)
	oldPid := old.Pid()
	switchAt := time.Now()
	if err := old.Stop(); err != nil {
		t.Logf("old worker: %v", err)
	}
	closedAtSwitch := closedRuns(t, runs)
	startWorker(t, t.TempDir(), env)

	outcomes := map[string]int{}
	for _, r := range runs {
		outcomes[r.kind+"-"+checkUpgradedRun(t, emu, r)]++
	}
	took := time.Since(switchAt)

	var failed, oldTasks, newTasks, spanned, histories int
	for _, r := range runs {
		o, n, f, h := taskCompletions(t, r.run.GetID(), oldPid)
		oldTasks, newTasks, failed, histories = oldTasks+o, newTasks+n, failed+f, histories+h
		if o > 0 && n > 0 && !closedAtSwitch[r.run.GetID()] {
			spanned++
		}
	}
	if failed != 0 {
		t.Errorf("%d WorkflowTaskFailed events after the upgrade", failed)
	}
	// A run the old worker finished between being seen in flight and its stop (a loaded
	// machine) has nothing left for the new one; the rest must have moved across, and most
	// runs must still have been open for the test to mean anything.
	open := len(runs) - len(closedAtSwitch)
	if spanned != open || open < len(runs)*3/4 {
		t.Errorf("%d of %d runs open at the switch had workflow tasks on both releases (%d closed before it)", spanned, open, len(closedAtSwitch))
	}
	t.Logf("FIGURE rolling-upgrade from=%s runs=%d inFlightAtSwitch=%v closedAtSwitch=%d outcomes=%v spannedBothReleases=%d histories=%d oldWorkerTasks=%d newWorkerTasks=%d workflowTaskFailed=%d allDoneAfterSwitch=%s",
		from, len(runs), sortedCounts(inFlight), len(closedAtSwitch), sortedCounts(outcomes), spanned, histories, oldTasks, newTasks, failed, took.Round(time.Second))
}

// closedRuns returns the IDs of the runs whose latest run has closed: with no worker running,
// exactly those that will take no workflow task on the next one.
func closedRuns(t *testing.T, runs []upgradeRun) map[string]bool {
	t.Helper()
	closed := map[string]bool{}
	for _, r := range runs {
		d, err := devServer.Client.DescribeWorkflow(context.Background(), r.run.GetID(), "")
		if err != nil {
			t.Fatalf("describe %s: %v", r.run.GetID(), err)
		}
		if d.Status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			closed[r.run.GetID()] = true
		}
	}
	return closed
}

// bringEverythingInFlight sends the cancels and waits until every run is mid-way on the old
// worker; it returns how many runs are in each step or phase.
func bringEverythingInFlight(t *testing.T, runs []upgradeRun) map[string]int {
	t.Helper()
	// Everything in flight on the old worker: creations polling, cancels being confirmed,
	// lifecycles mid-create and mid-deploy.
	for _, r := range runs {
		switch r.kind {
		case "cancel":
			waitQuery(t, r.run, "a poll", func(st map[string]any) bool { n, _ := st["polls"].(float64); return n >= 1 })
			if err := devServer.Client.SignalWorkflow(context.Background(), r.run.GetID(), "", workflows.CancelSignal, workflows.CancelRequest{Reason: "upgrade test"}); err != nil {
				t.Fatal(err)
			}
		case "create":
			waitQuery(t, r.run, "a poll", func(st map[string]any) bool { n, _ := st["polls"].(float64); return n >= 1 })
		}
	}
	for _, r := range runs {
		switch {
		case r.kind == "cancel":
			waitQuery(t, r.run, "the cancel refused", func(st map[string]any) bool { return st["cancelUnimplemented"] == true })
		case r.kind == "lifecycle" && r.quick:
			waitQuery(t, r.run, "the deploy step", func(st map[string]any) bool { return st["step"] == workflows.StepDeploy })
		case r.kind == "lifecycle":
			waitQuery(t, r.run, "the create step", func(st map[string]any) bool { return st["step"] == workflows.StepCreate })
		}
	}
	inFlight := map[string]int{}
	for _, r := range runs {
		st := query(r.run)
		switch {
		case st["done"] == true:
			t.Errorf("%s ended before the upgrade: %v", r.run.GetID(), st)
		case r.kind == "lifecycle":
			inFlight["lifecycle-"+fmt.Sprint(st["step"])]++
		default:
			inFlight[r.kind+"-"+fmt.Sprint(st["phase"])]++
		}
	}
	return inFlight
}

type upgradeRun struct {
	kind, parent string
	quick        bool // a lifecycle that trains at once and is mid-deploy at the switch
	run          client.WorkflowRun
}

// startUpgradeRuns starts, in this order, creations, cancels (runs the test will cancel, which
// delete their model if the cancel fails) and lifecycles (every other one named "quick-", see
// quickOr), each run i in its own location parentOf(i), all with the polling given.
func startUpgradeRuns(t *testing.T, tq, prefix, name string, parentOf func(int) string, polling string, creations, cancels, lifecycles int) []upgradeRun {
	t.Helper()
	var runs []upgradeRun
	add := func(kind, wfType, displayName string, extra ...string) {
		i := len(runs)
		id := fmt.Sprintf("%s-%s-%d", prefix, kind, i)
		input := createInput(parentOf(i), displayName, append([]string{polling}, extra...)...)
		runs = append(runs, upgradeRun{kind: kind, parent: parentOf(i), quick: strings.HasPrefix(displayName, "quick-"),
			run: startRaw(t, devServer.Client, id, tq, wfType, input)})
	}
	for i := range creations {
		add("create", workflows.CreateIssueModelWorkflowType, fmt.Sprintf("%s-%d", name, i))
	}
	for i := range cancels {
		add("cancel", workflows.CreateIssueModelWorkflowType, fmt.Sprintf("%s-cancel-%d", name, i), `"deleteModelIfCancelFails":true`)
	}
	for i := range lifecycles {
		displayName := fmt.Sprintf("%s-lifecycle-%d", name, i)
		if i%2 == 0 {
			displayName = "quick-" + displayName
		}
		add("lifecycle", workflows.IssueModelLifecycleWorkflowType, displayName)
	}
	return runs
}

// quickOr trains the models whose display name starts with "quick" in one emulated minute and
// the others for long().
func quickOr(long func() time.Duration) func(*contactcenterinsightspb.CreateIssueModelRequest) time.Duration {
	return func(req *contactcenterinsightspb.CreateIssueModelRequest) time.Duration {
		if strings.HasPrefix(req.GetIssueModel().GetDisplayName(), "quick") {
			return time.Minute
		}
		return long()
	}
}

func upgradeParent(i int) string { return fmt.Sprintf("projects/upgrade-%d/locations/us-central1", i) }

// checkUpgradedRun waits for the run and checks its outcome and the emulator's models; it
// returns the outcome's name.
func checkUpgradedRun(t *testing.T, emu *insightstest.Server, r upgradeRun) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var res struct {
		Outcome string `json:"outcome"`
	}
	if err := r.run.Get(ctx, &res); err != nil {
		t.Errorf("%s: %v", r.run.GetID(), err)
		return "error"
	}
	created := emu.Stats().ModelsCreated[r.parent]
	models := emu.Models(r.parent)
	want, wantModels := map[string]string{
		"create": workflows.OutcomeSucceeded, "cancel": workflows.OutcomeDeletedAfterCancel, "lifecycle": workflows.LifecycleDeployed,
	}[r.kind], 1
	if r.kind == "cancel" {
		wantModels = 0 // deleted, as the input asked
	}
	if res.Outcome != want || created != 1 || len(models) != wantModels {
		t.Errorf("%s: outcome %q (want %q), %d models created (want 1), %d left (want %d)", r.run.GetID(), res.Outcome, want, created, len(models), wantModels)
	}
	return res.Outcome
}

// taskCompletions counts, over the run and its child runs, the workflow tasks completed by the
// old worker (its pid is the start of the SDK's default identity) and by others, and the
// WorkflowTaskFailed events.
func taskCompletions(t *testing.T, id string, oldPid int) (oldTasks, newTasks, failed, histories int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	resp, err := devServer.Client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Namespace: "default", Query: fmt.Sprintf("WorkflowId = %q OR WorkflowId STARTS_WITH %q", id, id+"-"),
	})
	if err != nil {
		t.Fatal(err)
	}
	oldIdentity := strconv.Itoa(oldPid) + "@"
	for _, e := range resp.GetExecutions() {
		evs := history(t, devServer.Client, e.GetExecution().GetWorkflowId(), e.GetExecution().GetRunId())
		histories++
		for _, ev := range evs {
			if a := ev.GetWorkflowTaskCompletedEventAttributes(); a != nil {
				if strings.HasPrefix(a.GetIdentity(), oldIdentity) {
					oldTasks++
				} else {
					newTasks++
				}
			}
		}
		failed += countEvents(evs, enumspb.EVENT_TYPE_WORKFLOW_TASK_FAILED)
	}
	return oldTasks, newTasks, failed, histories
}

// previousReleases are UPGRADE_FROM, or the commits of the releases whose histories are
// recorded under workflows/testdata/histories (users may skip releases: each must upgrade).
func previousReleases(t *testing.T) []string {
	t.Helper()
	if c := os.Getenv("UPGRADE_FROM"); c != "" {
		return []string{c}
	}
	dirs, _ := filepath.Glob(filepath.Join(repoRoot, "workflows", "testdata", "histories", "*"))
	var releases []string
	for _, d := range dirs {
		if err := exec.Command("git", "-C", repoRoot, "cat-file", "-e", filepath.Base(d)+"^{commit}").Run(); err == nil {
			releases = append(releases, filepath.Base(d))
		}
	}
	if len(releases) == 0 {
		t.Skip("SKIPPED LOUDLY: no recorded release's commit is in this clone's git history (a shallow clone?); the rolling-upgrade scenario needs one")
	}
	return releases
}

// buildRelease builds the worker of a commit from its own source tree (git archive), with that
// commit's go.mod.
func buildRelease(t *testing.T, commit string) string {
	t.Helper()
	src := t.TempDir()
	tar := filepath.Join(t.TempDir(), commit+".tar")
	if out, err := exec.Command("git", "-C", repoRoot, "archive", "--format=tar", "-o", tar, commit).CombinedOutput(); err != nil {
		t.Fatalf("git archive %s: %v %s", commit, err, out)
	}
	if out, err := exec.Command("tar", "-x", "-f", tar, "-C", src).CombinedOutput(); err != nil {
		t.Fatalf("untar %s: %v %s", commit, err, out)
	}
	bin := filepath.Join(t.TempDir(), "worker-"+commit)
	if err := proc.Build(context.Background(), src, "./worker", bin); err != nil {
		t.Fatalf("building the worker of %s: %v", commit, err)
	}
	return bin
}

// startWorkerBinary is startWorker for another build of the worker.
func startWorkerBinary(t *testing.T, bin string, env []string) *workerProc {
	t.Helper()
	w, err := proc.Start(proc.Options{Name: "worker " + filepath.Base(bin), Path: bin, Env: env, Log: filepath.Join(t.TempDir(), "worker.log"), Grace: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Kill)
	return w
}

// startRaw starts a workflow by type name with input as the raw JSON the CLI sends.
func startRaw(t *testing.T, c client.Client, id, taskQueue, workflowType, input string) client.WorkflowRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: taskQueue, WorkflowExecutionTimeout: 30 * time.Minute},
		workflowType, rawJSON([]byte(input)))
	if err != nil {
		t.Fatalf("start %s: %v", id, err)
	}
	t.Cleanup(func() { terminateIfRunning(c, id) })
	return run
}

// query answers the run's status query as generic JSON (nil if it cannot).
func query(run client.WorkflowRun) map[string]any {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, err := devServer.Client.QueryWorkflow(ctx, run.GetID(), "", workflows.StatusQuery)
	if err != nil {
		return nil
	}
	var raw json.RawMessage
	if v.Get(&raw) != nil {
		return nil
	}
	var st map[string]any
	_ = json.Unmarshal(raw, &st)
	return st
}

func waitQuery(t *testing.T, run client.WorkflowRun, what string, ok func(map[string]any) bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		if st := query(run); st != nil && ok(st) {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("%s: no %s within 3 minutes (status %v)", run.GetID(), what, query(run))
}

func sortedCounts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s:%d", k, m[k])
	}
	return b.String()
}
