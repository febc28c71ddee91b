package integration_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/issuemodels/durable-lro/insightstest"
	"github.com/issuemodels/durable-lro/searchattr"
	"github.com/issuemodels/durable-lro/workflows"
)

// TestHistoryCostPerPoll counts the events a poll adds to the history on the real server: a
// timer (started, fired), the PollOperation activity (scheduled, started, completed) and two
// workflow tasks (scheduled, started, completed), so 11: the price of every poll being a regular
// activity that the server's rate limits hold (a local activity's poll cost 6).
func TestHistoryCostPerPoll(t *testing.T) {
	t.Parallel()
	// 50 emulated minutes = 5 s; polled every second: about 5 polls.
	e := newEnv(t, insightstest.Options{TrainingTime: trainingTime(50 * time.Minute)})
	run := e.start(createType, createInput("history-cost", `"polling":{"initialInterval":"1s","maxInterval":"1s","jitter":0}`))
	res := e.mustResult(run)
	if res.Polls < 3 {
		t.Fatalf("polls = %d, want >= 3", res.Polls)
	}
	counts := map[enumspb.EventType]int{}
	total, pollTasks, localMarkers := 0, 0, 0
	it := e.c.GetWorkflowHistory(e.ctx(), run.GetID(), run.GetRunID(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		counts[ev.GetEventType()]++
		total++
		if ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName() == "PollOperation" {
			pollTasks++
		}
		if ev.GetMarkerRecordedEventAttributes().GetMarkerName() == "LocalActivity" {
			localMarkers++
		}
	}
	// Every poll is a regular activity, which the server's rate limits see; none is local.
	if pollTasks != res.Polls || localMarkers != 0 {
		t.Errorf("%d PollOperation activity tasks and %d local-activity markers for %d polls", pollTasks, localMarkers, res.Polls)
	}
	if got := counts[enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED]; got != res.Polls+1 {
		t.Errorf("%d activity tasks, want CreateIssueModel's and one per poll (%d)", got, res.Polls)
	}
	// A poll's events: its timer (started, fired), its activity (scheduled, started, completed)
	// and two workflow tasks (after the timer, after the activity): every workflow task but the
	// first (which starts the creation) and the one after the creation's activity.
	perPoll := float64(counts[enumspb.EVENT_TYPE_TIMER_STARTED]+counts[enumspb.EVENT_TYPE_TIMER_FIRED]+
		3*pollTasks+3*(counts[enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED]-2)) / float64(res.Polls)
	t.Logf("FIGURE history polls=%d events=%d perPoll=%.2f counts=%v", res.Polls, total, perPoll, counts)
	if perPoll > 11 {
		t.Errorf("%.2f events per poll, want at most 11", perPoll)
	}
}

// TestSearchAttributesListRuns finds a finished run by its operation and phase the way the README
// tells users to (`temporal workflow list --query ...`).
func TestSearchAttributesListRuns(t *testing.T) {
	t.Parallel()
	e := newEnv(t, insightstest.Options{TrainingTime: trainingTime(10 * time.Minute)})
	run := e.start(createType, createInput("search-attributes", fastPolling))
	res := e.mustResult(run)
	query := fmt.Sprintf("%s = %q AND %s = %q", workflows.OperationSearchAttribute, res.Operation,
		workflows.PhaseSearchAttribute, workflows.PhaseDone)
	var found *workflowservice.ListWorkflowExecutionsResponse
	// Visibility is updated asynchronously after the run closes.
	e.waitFor("the run listed by "+query, func() bool {
		resp, err := e.c.ListWorkflow(e.ctx(), &workflowservice.ListWorkflowExecutionsRequest{Query: query})
		if err != nil {
			t.Fatalf("list %q: %v", query, err)
		}
		found = resp
		return len(resp.GetExecutions()) == 1 && resp.GetExecutions()[0].GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED
	})
	got := found.GetExecutions()[0]
	if got.GetExecution().GetWorkflowId() != run.GetID() {
		t.Errorf("listed %s, want %s", got.GetExecution().GetWorkflowId(), run.GetID())
	}
	var op string
	if err := converter.GetDefaultDataConverter().FromPayload(got.GetSearchAttributes().GetIndexedFields()[workflows.OperationSearchAttribute], &op); err != nil || op != res.Operation {
		t.Errorf("%s = %q (%v), want %q", workflows.OperationSearchAttribute, op, err, res.Operation)
	}
}

// TestEnsureSearchAttributesRegistersMissingOnes: in a namespace without them (a new one), the
// worker's start-up registration adds both, and a second call finds nothing to do.
func TestEnsureSearchAttributesRegistersMissingOnes(t *testing.T) {
	t.Parallel()
	ns := fmt.Sprintf("sa-%d", time.Now().UnixNano())
	ctx := e2eContext(t)
	if _, err := devServer.Client.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace: ns, WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour),
	}); err != nil {
		t.Fatal(err)
	}
	missing, err := searchattr.Missing(ctx, devServer.Client, ns)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{workflows.OperationSearchAttribute, workflows.PhaseSearchAttribute}; !slices.Equal(missing, want) {
		t.Fatalf("missing in a new namespace = %v, want %v", missing, want)
	}
	added, err := searchattr.Ensure(ctx, devServer.Client, ns)
	if err != nil || len(added) != 2 {
		t.Fatalf("EnsureSearchAttributes = %v, %v; want both added", added, err)
	}
	if again, err := searchattr.Ensure(ctx, devServer.Client, ns); err != nil || len(again) != 0 {
		t.Fatalf("second EnsureSearchAttributes = %v, %v; want nothing to add", again, err)
	}
	if still, err := searchattr.Missing(ctx, devServer.Client, ns); err != nil || len(still) != 0 {
		t.Fatalf("after registering, missing = %v, %v", still, err)
	}
}

func e2eContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}
