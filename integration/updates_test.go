package integration_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"google.golang.org/grpc/codes"

	"github.com/issuemodels/durable-lro/insightstest"
	"github.com/issuemodels/durable-lro/internal/devserver"
	"github.com/issuemodels/durable-lro/workflows"
)

// temporalCLI runs the pinned Temporal CLI against the package's dev server.
func temporalCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cli, err := devserver.EnsureCLI()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, cli, append(args, "--address", devServer.HostPort)...).CombinedOutput()
	return string(out), err
}

// The cookbook's update commands: poll-now returns the status after its poll; cancel returns
// the server's answer once CancelOperation was sent; the run then ends with the cancel's outcome
// as with the signal; an update after the run ended is refused.
func TestUpdatesThroughTheCLI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, insightstest.Options{TrainingTime: trainingTime(1000 * time.Hour)})
	run := e.start(createType, createInput("updates", `"polling":{"initialInterval":"30s","maxInterval":"30s"}`))
	st := e.waitStatus(run, "the operation", func(s workflows.PollStatus) bool { return s.Operation != "" && s.NextPollAt != nil })

	out, err := temporalCLI(t, "workflow", "update", "execute", "--workflow-id", run.GetID(), "--name", "poll-now", "-o", "json")
	if err != nil || !strings.Contains(out, `"polls": 1`) && !strings.Contains(out, `"polls":1`) {
		t.Fatalf("update poll-now: %v\n%s", err, out)
	}

	t.Logf("poll-now:\n%s", out)
	out, err = temporalCLI(t, "workflow", "update", "execute", "--workflow-id", run.GetID(), "--name", "cancel",
		"--input", `{"reason":"wrong filter"}`, "-o", "json")
	if err != nil || !strings.Contains(out, workflows.CancelAccepted) || !strings.Contains(out, st.Operation) {
		t.Fatalf("update cancel: %v\n%s", err, out)
	}
	t.Logf("cancel:\n%s", out)
	_, err = e.result(run)
	var details workflows.CreateIssueModelResult
	e.cancelledWith(err, &details)
	if details.Outcome != workflows.OutcomeCancelled || details.CancelReason != "wrong filter" {
		t.Fatalf("details %+v, want CANCELLED for \"wrong filter\"", details)
	}
	if op, _ := e.emu.Operation(st.Operation); op.GetError().GetCode() != int32(codes.Canceled) {
		t.Errorf("operation error %v, want CANCELLED", op.GetError())
	}

	if out, err := temporalCLI(t, "workflow", "update", "execute", "--workflow-id", run.GetID(), "--name", "cancel"); err == nil {
		t.Errorf("update cancel after the run ended succeeded:\n%s", out)
	}
}

// A poll-now while the run is still creating its operation is refused by the validator, and the
// refusal leaves no event in the run's history.
func TestPollNowUpdateRefusedWhileCreating(t *testing.T) {
	t.Parallel()
	e := newEnv(t, insightstest.Options{})
	e.emu.SetFaults("CreateIssueModel", insightstest.Fault{Probability: 1, Latency: 5 * time.Second})
	run := e.start(createType, createInput("refused", fastPolling))
	e.waitStatus(run, "the create call", func(s workflows.PollStatus) bool { return s.Phase == workflows.PhaseCreating })
	out, err := temporalCLI(t, "workflow", "update", "execute", "--workflow-id", run.GetID(), "--name", "poll-now")
	if err == nil || !strings.Contains(out, "no operation to poll yet") {
		t.Fatalf("poll-now while creating: %v\n%s", err, out)
	}
	iter := e.c.GetWorkflowHistory(e.ctx(), run.GetID(), "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(ev.GetEventType().String(), "UPDATE") {
			t.Errorf("the refused update left %s in the history", ev.GetEventType())
		}
	}
}
