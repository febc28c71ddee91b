package integration_test

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
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
	var canceled *temporal.CanceledError
	var details workflows.CreateIssueModelResult
	if !errors.As(err, &canceled) || canceled.Details(&details) != nil || details.Outcome != workflows.OutcomeCancelled || details.CancelReason != "wrong filter" {
		t.Fatalf("run: %v (details %+v), want CANCELLED for \"wrong filter\"", err, details)
	}
	if op, _ := e.emu.Operation(st.Operation); op.GetError().GetCode() != int32(codes.Canceled) {
		t.Errorf("operation error %v, want CANCELLED", op.GetError())
	}

	if out, err := temporalCLI(t, "workflow", "update", "execute", "--workflow-id", run.GetID(), "--name", "cancel"); err == nil {
		t.Errorf("update cancel after the run ended succeeded:\n%s", out)
	}
}
