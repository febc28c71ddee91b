package integration_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/grpc"

	"github.com/issuemodels/durable-lro/insightstest"
	"github.com/issuemodels/durable-lro/insightstest/record"
	"github.com/issuemodels/durable-lro/internal/testkit"
	"github.com/issuemodels/durable-lro/workflows"
)

// TestServerHoldsTheAPIBudgetPerProject: the Temporal server, not the worker, holds the Google
// API budget. The task queue's activities are limited per fairness key (the Google project), as
// an operator sets it with `temporal task-queue config set --fairness-key-rps-limit-default`.
// 30 runs of project "itest" each want a poll a second, ten times their project's budget; one
// run of project "calm" wants less than its own. No ten seconds may see more calls of a project
// than its budget and the bucket's burst (one second's worth) allow, every run completes with one
// model, and the calm run's polls wait in the queue far less than the flood's: first come, first
// served, every run's poll would wait behind the same backlog. (Waits, not call counts: a loaded
// machine slows the calm run's own poll cycle, not its place in the queue.)
func TestServerHoldsTheAPIBudgetPerProject(t *testing.T) {
	t.Parallel()
	const floodRuns, calmRuns, perProject = 30, 1, 3
	const calmParent = "projects/calm/locations/us-central1"
	// 6 emulated hours = 36 s: long enough for every run to meet the limit many times.
	clock := insightstest.RealClock(timeScale)
	rec := record.New(clock)
	e := newEnv(t, insightstest.Options{Clock: clock, Interceptors: []grpc.UnaryServerInterceptor{rec.Intercept},
		TrainingTime: trainingTime(6 * time.Hour), MaxConcurrentCreates: insightstest.Unlimited, MaxModels: insightstest.Unlimited})
	_, err := e.c.WorkflowService().UpdateTaskQueueConfig(e.ctx(), &workflowservice.UpdateTaskQueueConfigRequest{
		Namespace: "default", TaskQueue: e.taskQueue, TaskQueueType: enumspb.TASK_QUEUE_TYPE_ACTIVITY,
		UpdateFairnessKeyRateLimitDefault: &workflowservice.UpdateTaskQueueConfigRequest_RateLimitUpdate{
			RateLimit: &taskqueuepb.RateLimit{RequestsPerSecond: perProject}, Reason: "integration test"},
	})
	if err != nil {
		t.Fatalf("setting the per-project limit: %v", err)
	}

	const everySecond = `"polling":{"initialInterval":"1s","maxInterval":"1s","jitter":0}`
	var started []client.WorkflowRun
	for i := range floodRuns {
		started = append(started, e.start(createType, createInput(fmt.Sprintf("flood-%d", i), everySecond)))
	}
	for i := range calmRuns {
		started = append(started, e.start(createType, strings.Replace(createInput(fmt.Sprintf("calm-%d", i), everySecond), parent, calmParent, 1)))
	}
	polls, events := awaitSucceeded(t, e, started)
	if got := len(e.emu.Models(parent)) + len(e.emu.Models(calmParent)); got != floodRuns+calmRuns {
		t.Errorf("%d models, want %d", got, floodRuns+calmRuns)
	}
	const window = 10 // seconds
	peak, calls := map[string]int64{}, map[string]int64{}
	for _, project := range []string{"itest", "calm"} {
		series := rec.AllCallsPerSecond(project)
		for _, c := range series {
			calls[project] += c.Calls
		}
		peak[project] = record.PeakWindow(series, window)
	}
	ids := func(runs []client.WorkflowRun) (out []string) {
		for _, r := range runs {
			out = append(out, r.GetID())
		}
		return out
	}
	calmWait := testkit.MedianActivityWait(t, e.c, ids(started[floodRuns:]), "PollOperation")
	floodWait := testkit.MedianActivityWait(t, e.c, ids(started[:floodRuns]), "PollOperation")
	perRun := func(project string, runs int) float64 { return float64(calls[project]) / float64(runs) }
	t.Logf("FIGURE server-rate-limit flood=%d calm=%d limit=%d/s/project peakPer%ds flood=%d calm=%d calls flood=%d calm=%d callsPerRun flood=%.1f calm=%.1f medianPollWait flood=%s calm=%s polls=%d historyEventsPerPoll=%.1f",
		floodRuns, calmRuns, perProject, window, peak["itest"], peak["calm"], calls["itest"], calls["calm"], perRun("itest", floodRuns), perRun("calm", calmRuns), floodWait, calmWait, polls, float64(events)/float64(polls))
	for project, n := range peak {
		if n > perProject*(window+1) {
			t.Errorf("project %s: %d calls in %d s, limit %d/s", project, n, window, perProject)
		}
	}
	if calmWait*3 > floodWait {
		t.Errorf("the calm run's polls waited %s in the queue (median), the flood's %s: the flood's backlog held the calm project back", calmWait, floodWait)
	}
}

// awaitSucceeded waits for every run (held runs take longer than waitTimeout in all), checks
// each succeeded, and returns their polls and history events.
func awaitSucceeded(t *testing.T, e *env, runs []client.WorkflowRun) (polls int, events int64) {
	t.Helper()
	for _, run := range runs {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		var res createResult
		err := run.Get(ctx, &res)
		cancel()
		if err != nil {
			t.Fatalf("%s: %v", run.GetID(), err)
		}
		polls += res.Polls
		if d, err := e.c.DescribeWorkflow(e.ctx(), run.GetID(), ""); err == nil {
			events += d.RawResponse.GetWorkflowExecutionInfo().GetHistoryLength()
		}
		if res.Outcome != workflows.OutcomeSucceeded {
			t.Errorf("%s: outcome %q", run.GetID(), res.Outcome)
		}
	}
	return polls, events
}
