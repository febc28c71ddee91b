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
	"github.com/issuemodels/durable-lro/workflows"
)

// TestServerHoldsTheAPIBudgetPerProject: the Temporal server, not the worker, holds the Google
// API budget. The task queue's activities are limited per fairness key (the Google project), as
// an operator sets it with `temporal task-queue config set --fairness-key-rps-limit-default`.
// 20 runs of project "itest" each want a poll a second, ten times their project's budget; 2 runs
// of project "calm" want less than theirs. No second may see more calls of a project than its
// budget allows (a token bucket of 2/s serves at most 3 within one calendar second), every run
// completes with one model, and the calm project is served although the flood shares the queue.
func TestServerHoldsTheAPIBudgetPerProject(t *testing.T) {
	t.Parallel()
	const floodRuns, calmRuns, perProject = 20, 2, 2
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
	polls, events := 0, int64(0)
	for _, run := range started {
		// Held runs take longer than waitTimeout in all.
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
	if got := len(e.emu.Models(parent)) + len(e.emu.Models(calmParent)); got != floodRuns+calmRuns {
		t.Errorf("%d models, want %d", got, floodRuns+calmRuns)
	}
	peak := map[string]int64{}
	calls := map[string]int64{}
	for _, project := range []string{"itest", "calm"} {
		perSecond := map[int64]int64{}
		for _, m := range []string{"CreateIssueModel", "GetOperation", "ListOperations", "CancelOperation"} {
			for _, s := range rec.CallsPerSecond(m, project) {
				perSecond[s.Second] += s.Calls
				calls[project] += s.Calls
			}
		}
		for _, n := range perSecond {
			peak[project] = max(peak[project], n)
		}
	}
	t.Logf("FIGURE server-rate-limit flood=%d calm=%d limit=%d/s/project peakPerSecond flood=%d calm=%d calls flood=%d calm=%d polls=%d historyEventsPerPoll=%.1f",
		floodRuns, calmRuns, perProject, peak["itest"], peak["calm"], calls["itest"], calls["calm"], polls, float64(events)/float64(polls))
	for project, n := range peak {
		if n > perProject+1 {
			t.Errorf("project %s: peak %d calls in one second, limit %d/s", project, n, perProject)
		}
	}
}
