package reliability_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/issuemodels/durable-lro/insights"
	"github.com/issuemodels/durable-lro/insightstest"
	"github.com/issuemodels/durable-lro/workflows"
)

// quirkEnv is one emulator and one worker process on a task queue of the test's own.
type quirkEnv struct {
	t      *testing.T
	emu    *insightstest.Server
	tq, id string
	seq    int
}

func newQuirkEnv(t *testing.T, opts insightstest.Options) *quirkEnv {
	emu := newEmulator(t, 60, opts)
	tq, prefix := names(t)
	f := newFleet(t, 1, workerEnv(devServer.HostPort, emu.Addr(), tq))
	t.Cleanup(f.stopAll)
	return &quirkEnv{t: t, emu: emu, tq: tq, id: prefix}
}

func (e *quirkEnv) start(input string) client.WorkflowRun {
	e.seq++
	return startCreate(e.t, devServer.Client, fmt.Sprintf("%s-%d", e.id, e.seq), e.tq, input)
}

func (e *quirkEnv) status(run client.WorkflowRun) workflows.PollStatus {
	var st workflows.PollStatus
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if v, err := devServer.Client.QueryWorkflow(ctx, run.GetID(), "", workflows.StatusQuery); err == nil {
		_ = v.Get(&st)
	}
	return st
}

func (e *quirkEnv) waitStatus(run client.WorkflowRun, what string, ok func(workflows.PollStatus) bool) workflows.PollStatus {
	e.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if st := e.status(run); ok(st) {
			return st
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.t.Fatalf("%s: timed out waiting for %s", run.GetID(), what)
	return workflows.PollStatus{}
}

func get(run client.WorkflowRun, res any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	return run.Get(ctx, res)
}

// failedActivities counts failed activities whose failure (or a cause of it) has the given type:
// ActivityTaskFailed events, and the markers of failed local activities (GetOperation).
func failedActivities(evs []*historyEvent, typ string) int {
	n := 0
	for _, ev := range evs {
		f := ev.GetActivityTaskFailedEventAttributes().GetFailure()
		if f == nil {
			f = ev.GetMarkerRecordedEventAttributes().GetFailure()
		}
		for ; f != nil; f = f.GetCause() {
			if f.GetApplicationFailureInfo().GetType() == typ {
				n++
				break
			}
		}
	}
	return n
}

// TestVisibilityDelay: right after CreateIssueModel the operation answers NOT_FOUND for 10
// emulated minutes (10 s: wide enough that a loaded CI machine still polls inside it); the default
// notFoundGrace (2m) absorbs it and the run succeeds.
func TestVisibilityDelay(t *testing.T) {
	t.Parallel()
	e := newQuirkEnv(t, insightstest.Options{TrainingTime: fixed(20 * time.Minute), OperationVisibilityDelay: 10 * time.Minute})
	run := e.start(createInput("projects/quirks/locations/us-central1", "visibility", `"polling":{"initialInterval":"1s","multiplier":1,"maxInterval":"1s"}`))
	var res createResult
	if err := get(run, &res); err != nil || res.Outcome != workflows.OutcomeSucceeded {
		t.Fatalf("outcome %q, error %v", res.Outcome, err)
	}
	notFound := failedActivities(history(t, devServer.Client, run.GetID(), run.GetRunID()), "NotFound")
	if notFound == 0 {
		t.Error("no GetOperation answered NOT_FOUND: the delay was not exercised")
	}
	t.Logf("FIGURE visibility-delay delay=10m(emulated)=10s notFoundGrace=2m notFoundPollsTolerated=%d polls=%d outcome=%s", notFound, res.Polls, res.Outcome)
}

// TestOperationExpired: the operation vanishes mid-run (as operations expire on the real
// service); once past notFoundGrace the run fails with OperationLost, not a retry loop.
func TestOperationExpired(t *testing.T) {
	t.Parallel()
	e := newQuirkEnv(t, insightstest.Options{TrainingTime: fixed(60 * time.Minute)})
	run := e.start(createInput("projects/quirks/locations/us-central1", "expired", `"polling":{"initialInterval":"1s","multiplier":1,"maxInterval":"1s","notFoundGrace":"2s"}`))
	st := e.waitStatus(run, "3 polls", func(s workflows.PollStatus) bool { return s.Polls >= 3 })
	e.emu.ExpireOperation(st.Operation)
	expiredAt := time.Now()
	before := e.emu.Stats().RPCs["GetOperation"]
	err := get(run, nil)
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != insights.ErrOperationLost || !appErr.NonRetryable() {
		t.Fatalf("want a non-retryable OperationLost, got %v", err)
	}
	polls := e.emu.Stats().RPCs["GetOperation"] - before
	if polls != 1 {
		t.Errorf("%d GetOperation RPCs after the expiry, want 1", polls)
	}
	t.Logf("FIGURE operation-expired failure=%s pollsAfterExpiry=%d detectedAfter=%s", appErr.Type(), polls, time.Since(expiredAt).Round(100*time.Millisecond))
}

// TestCreationQuota: the emulator allows one creation in flight per project+location, like the
// real service per region. A second creation in the same location gets RESOURCE_EXHAUSTED, waits
// durably (activity retries with backoff 5s, 10s, 20s, ... up to 5m) and succeeds once the first
// is done; a third whose polling timeout ends before the quota frees fails with a timeout.
func TestCreationQuota(t *testing.T) {
	t.Parallel()
	e := newQuirkEnv(t, insightstest.Options{TrainingTime: fixed(10 * time.Minute)}) // 10 s
	const parent = "projects/quota/locations/us-central1"
	policy := `"polling":{"initialInterval":"1s","multiplier":1,"maxInterval":"2s"}`
	first := e.start(createInput(parent, "first", policy))
	e.waitStatus(first, "the first operation", func(s workflows.PollStatus) bool { return s.Operation != "" })
	secondStart := time.Now()
	second := e.start(createInput(parent, "second", policy))

	// A third, in another location whose creation runs for 60 s, with a 12 s polling timeout.
	const parent2 = "projects/quota/locations/europe-west1"
	e.emu.SetTrainingTime(fixed(60 * time.Minute))
	blocker := e.start(createInput(parent2, "blocker", policy))
	e.waitStatus(blocker, "the blocker's operation", func(s workflows.PollStatus) bool { return s.Operation != "" })
	e.emu.SetTrainingTime(fixed(10 * time.Minute))
	third := e.start(createInput(parent2, "bounded", `"polling":{"initialInterval":"1s","timeout":"12s"}`))

	var r1, r2 createResult
	if err := get(first, &r1); err != nil || r1.Outcome != workflows.OutcomeSucceeded {
		t.Fatalf("first: %q %v", r1.Outcome, err)
	}
	if err := get(second, &r2); err != nil || r2.Outcome != workflows.OutcomeSucceeded {
		t.Fatalf("second: %q %v", r2.Outcome, err)
	}
	waited := time.Since(secondStart)
	evs := history(t, devServer.Client, second.GetID(), second.GetRunID())
	createAttempts := scheduledActivities(evs, "CreateIssueModel")
	if createAttempts < 2 {
		t.Errorf("the second creation ran %d CreateIssueModel activities: the quota did not make it wait", createAttempts)
	}
	if got := len(e.emu.Models(parent)); got != 2 {
		t.Errorf("%d models in %s, want 2", got, parent)
	}

	err := get(third, nil)
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != insights.ErrPollTimeout || !hasErrorType(err, "ResourceExhausted") {
		t.Errorf("bounded: want PollTimeout caused by ResourceExhausted, got %v", err)
	}
	boundedAttempts := scheduledActivities(history(t, devServer.Client, third.GetID(), third.GetRunID()), "CreateIssueModel")
	if got := len(e.emu.Models(parent2)); got != 1 {
		t.Errorf("%d models in %s, want only the blocker's", got, parent2)
	}
	st := e.emu.Stats()
	t.Logf("FIGURE creation-quota secondCreateAttempts=%d secondWaited=%s bothSucceeded=true boundedRun=%s boundedCreateAttempts=%d createRPCs=%d",
		createAttempts, waited.Round(100*time.Millisecond), errType(err), boundedAttempts, st.RPCs["CreateIssueModel"])
}

func errType(err error) string {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Type()
	}
	return fmt.Sprintf("%T", err)
}

// scheduledActivities counts the activities of the type the run scheduled.
func scheduledActivities(evs []*historyEvent, activityType string) int {
	n := 0
	for _, ev := range evs {
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil && a.GetActivityType().GetName() == activityType {
			n++
		}
	}
	return n
}
