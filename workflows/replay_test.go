package workflows_test

import (
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/issuemodels/durable-lro/insights"
	"github.com/issuemodels/durable-lro/workflows"
)

// historiesDir holds one folder per supported release, each written by cmd/record-histories.
const historiesDir = "testdata/histories"

// recordedHistory is one history file with the execution it was recorded under.
type recordedHistory struct {
	release, name string
	meta          struct {
		WorkflowID   string `json:"workflowId"`
		RunID        string `json:"runId"`
		WorkflowType string `json:"workflowType"`
		Closed       string `json:"closed"`
	}
	history *historypb.History
}

func loadHistories(t *testing.T) []recordedHistory {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(historiesDir, "*", "*.history.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no recorded histories under %s: record them with go run ./cmd/record-histories", historiesDir)
	}
	var out []recordedHistory
	for _, f := range files {
		h := recordedHistory{release: filepath.Base(filepath.Dir(f)), name: strings.TrimSuffix(filepath.Base(f), ".history.json")}
		meta, err := os.ReadFile(strings.TrimSuffix(f, ".history.json") + ".meta.json")
		if err != nil {
			t.Fatalf("%s has no .meta.json beside it (the workflow ID it was recorded under): %v", f, err)
		}
		if err := json.Unmarshal(meta, &h.meta); err != nil || h.meta.WorkflowID == "" || h.meta.RunID == "" {
			t.Fatalf("%s: bad meta (%v): %s", f, err, meta)
		}
		r, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		h.history, err = client.HistoryFromJSON(r, client.HistoryJSONOptions{})
		r.Close()
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out = append(out, h)
	}
	return out
}

// quiet drops the replayer's logs: the negative control's panics are expected.
var quiet = log.NewStructuredLogger(slog.New(slog.DiscardHandler))

// replay replays h on the workflows registered by register, under the execution it was recorded
// under: the workflows derive child IDs and poll jitter from their own workflow ID.
func replay(h recordedHistory, register func(workflows.WorkflowRegistry)) error {
	// Deadlock detection is a worker's guard against a stuck task, not part of determinism: on a
	// loaded CI machine with -race, a replay can pass its 1 s for no fault of the history.
	r, err := worker.NewWorkflowReplayerWithOptions(worker.WorkflowReplayerOptions{DisableDeadlockDetection: true})
	if err != nil {
		return err
	}
	register(r)
	return r.ReplayWorkflowHistoryWithOptions(quiet, h.history, worker.ReplayWorkflowHistoryOptions{
		OriginalExecution: workflow.Execution{ID: h.meta.WorkflowID, RunID: h.meta.RunID},
	})
}

// TestReplayRecordedHistories replays every recorded history of every supported release, those
// caught in flight included, on the current code. A failure here is what a worker upgraded to
// this code would meet on runs in flight (TMPRL1100): put the change behind workflow.GetVersion
// (README, "Changing a workflow"); never re-record an old release to make this pass.
func TestReplayRecordedHistories(t *testing.T) {
	histories := loadHistories(t)
	var replayed, inFlight atomic.Int64
	releases := map[string]bool{}
	for _, h := range histories {
		releases[h.release] = true
	}
	t.Cleanup(func() {
		t.Logf("replayed %d of %d recorded histories (%d caught in flight) of %d releases", replayed.Load(), len(histories), inFlight.Load(), len(releases))
	})
	for _, h := range histories {
		t.Run(h.release+"/"+h.name, func(t *testing.T) {
			t.Parallel()
			if err := replay(h, workflows.RegisterWorkflows); err != nil {
				t.Fatalf("%s (%s, recorded as %s/%s) does not replay on this code: %v", h.name, h.meta.WorkflowType, h.meta.WorkflowID, h.meta.RunID, err)
			}
			replayed.Add(1)
			if h.meta.Closed == "" {
				inFlight.Add(1)
			}
		})
	}
}

// TestReplayDetectsChangedWorkflows is the negative control: each workflow, changed the way an
// unversioned edit would change it and registered under the same name, fails to replay a
// recorded history with the SDK's non-determinism error.
func TestReplayDetectsChangedWorkflows(t *testing.T) {
	histories := loadHistories(t)
	pick := func(t *testing.T, workflowType string) recordedHistory {
		for _, h := range histories {
			if h.meta.WorkflowType == workflowType && h.meta.Closed == "Completed" {
				return h
			}
		}
		t.Fatalf("no completed %s history recorded", workflowType)
		return recordedHistory{}
	}
	// A timer added before everything else.
	timerFirst := func(ctx workflow.Context) { _ = workflow.Sleep(ctx, time.Minute) }
	// An activity where the code had a local activity (the change GetOperation once went through
	// the other way).
	activityFirst := func(ctx workflow.Context) {
		ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute})
		_ = workflow.ExecuteActivity(ctx, "GetOperation", "projects/p/locations/l/operations/o").Get(ctx, nil)
	}
	cases := []struct {
		name, workflowType string
		register           func(r workflows.WorkflowRegistry)
	}{
		{"create with a timer first", workflows.CreateIssueModelWorkflowType, func(r workflows.WorkflowRegistry) {
			r.RegisterWorkflowWithOptions(func(ctx workflow.Context, in workflows.CreateIssueModelInput) (*workflows.CreateIssueModelResult, error) {
				timerFirst(ctx)
				return workflows.CreateIssueModelWorkflow(ctx, in)
			}, workflow.RegisterOptions{Name: workflows.CreateIssueModelWorkflowType})
		}},
		{"await with an activity first", workflows.AwaitOperationWorkflowType, func(r workflows.WorkflowRegistry) {
			r.RegisterWorkflowWithOptions(func(ctx workflow.Context, in workflows.AwaitOperationInput) (*insights.Operation, error) {
				activityFirst(ctx)
				return workflows.AwaitOperationWorkflow(ctx, in)
			}, workflow.RegisterOptions{Name: workflows.AwaitOperationWorkflowType})
		}},
		{"lifecycle with a timer first", workflows.IssueModelLifecycleWorkflowType, func(r workflows.WorkflowRegistry) {
			r.RegisterWorkflowWithOptions(func(ctx workflow.Context, in workflows.LifecycleInput) (*workflows.LifecycleResult, error) {
				timerFirst(ctx)
				return workflows.IssueModelLifecycleWorkflow(ctx, in)
			}, workflow.RegisterOptions{Name: workflows.IssueModelLifecycleWorkflowType})
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := pick(t, c.workflowType)
			if err := replay(h, workflows.RegisterWorkflows); err != nil {
				t.Fatalf("the unchanged workflow must replay %s: %v", h.name, err)
			}
			err := replay(h, c.register)
			if err == nil {
				t.Fatalf("the changed %s replayed %s without error: the replay test could not catch this change", c.workflowType, h.name)
			}
			if !strings.Contains(err.Error(), "TMPRL1100") {
				t.Fatalf("replaying %s on the changed workflow failed, but not with a non-determinism error (TMPRL1100): %v", h.name, err)
			}
		})
	}
}
