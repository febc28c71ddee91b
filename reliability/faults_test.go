package reliability_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/grpc/codes"

	"github.com/issuemodels/durable-lro/insights"
	"github.com/issuemodels/durable-lro/insightstest"
)

// TestTransientFaults answers 20% of every RPC with UNAVAILABLE, RESOURCE_EXHAUSTED or
// DEADLINE_EXCEEDED (one third each): every run must succeed, with no duplicate.
func TestTransientFaults(t *testing.T) {
	t.Parallel()
	n := size(20, 100)
	emu := newEmulator(t, 60, insightstest.Options{TrainingTime: uniform(5*time.Minute, 15*time.Minute, 0)})
	// The emulator tries faults in order and the first that fires decides: these probabilities
	// make each code fire on 1/15 of the calls, 20% in all.
	emu.SetFaults("*",
		insightstest.Fault{Code: codes.Unavailable, Probability: 1.0 / 15},
		insightstest.Fault{Code: codes.ResourceExhausted, Probability: (1.0 / 15) / (1 - 1.0/15)},
		insightstest.Fault{Code: codes.DeadlineExceeded, Probability: (1.0 / 15) / (1 - 2.0/15)},
	)
	tq, prefix := names(t)
	f := newFleet(t, 1, workerEnv(devServer.HostPort, emu.Addr(), tq))
	// notFoundGrace 20s: this emulator lists a new operation at once, so a create retry after an
	// ambiguous failure need not wait the default 2 minutes for the list to catch up.
	parents, runs := startCreations(t, devServer.Client, n, tq, prefix, "transient", `{"initialInterval":"1s","multiplier":1.5,"maxInterval":"3s","notFoundGrace":"20s"}`)
	outs := awaitAll(runs, 8*time.Minute)
	f.stopAll()
	failed := len(outs) - countSucceeded(t, outs)
	st := emu.Stats()
	duplicates := extraModels(t, st, parents)
	var rpcs, faults int64
	for _, v := range st.RPCs {
		rpcs += v
	}
	for _, v := range st.Faults {
		faults += v
	}
	t.Logf("FIGURE transient-faults workflows=%d faultRate=0.20 rpcs=%d faultsInjected=%d observedRate=%.3f failed=%d duplicates=%d",
		n, rpcs, faults, float64(faults)/float64(max(rpcs, 1)), failed, duplicates)
}

// TestNonRetryableFaults injects PERMISSION_DENIED, INVALID_ARGUMENT and NOT_FOUND on
// CreateIssueModel and GetOperation, always. A refused create fails the run at once with the gRPC
// code as the ApplicationError type, after exactly one call (no retry storm). A refused poll of
// the operation the run created is outlasted for the grace (the polling timeout, 6 s here) so
// that a passing IAM change does not leave the training untracked; then the run requests its
// cancellation and fails with the same type.
func TestNonRetryableFaults(t *testing.T) {
	t.Parallel()
	emu := newEmulator(t, 60, insightstest.Options{TrainingTime: fixed(10 * time.Minute)})
	tq, prefix := names(t)
	f := newFleet(t, 1, workerEnv(devServer.HostPort, emu.Addr(), tq))
	defer f.stopAll()
	type tc struct {
		method   string
		code     codes.Code
		wantType string // the failure's ApplicationError type
		wantCode string // the gRPC code type in the cause chain
		// outlasted: the faulted RPC is retried until the grace passes, then the run cancels.
		outlasted bool
	}
	cases := []tc{
		{"CreateIssueModel", codes.PermissionDenied, "PermissionDenied", "PermissionDenied", false},
		{"CreateIssueModel", codes.InvalidArgument, "InvalidArgument", "InvalidArgument", false},
		{"CreateIssueModel", codes.NotFound, "NotFound", "NotFound", false},
		{"GetOperation", codes.PermissionDenied, "PermissionDenied", "PermissionDenied", true},
		{"GetOperation", codes.InvalidArgument, "InvalidArgument", "InvalidArgument", true},
		// NOT_FOUND from GetOperation after the policy's notFoundGrace (0s here) means the
		// operation vanished: OperationLost, caused by NotFound.
		{"GetOperation", codes.NotFound, insights.ErrOperationLost, "NotFound", false},
	}
	var summary []string
	for i, c := range cases {
		// Sequential: faults and counters are the emulator's, shared by the cases.
		before := emu.Stats()
		emu.SetFaults(c.method, insightstest.Fault{Code: c.code, Probability: 1})
		parent := fmt.Sprintf("projects/nonretry-%d/locations/us-central1", i)
		startAt := time.Now()
		run := startCreate(t, devServer.Client, fmt.Sprintf("%s-%d", prefix, i), tq,
			createInput(parent, "nonretry", `"polling":{"initialInterval":"1s","maxInterval":"1s","notFoundGrace":"0s","timeout":"6s"}`))
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		err := run.Get(ctx, nil)
		cancel()
		took := time.Since(startAt)
		emu.SetFaults(c.method)
		after := emu.Stats()
		name := fmt.Sprintf("%s:%s", c.method, c.code)
		var appErr *temporal.ApplicationError
		switch {
		case err == nil:
			t.Errorf("%s: the run succeeded", name)
			continue
		case !errors.As(err, &appErr):
			t.Errorf("%s: %v is not an ApplicationError", name, err)
			continue
		case appErr.Type() != c.wantType:
			t.Errorf("%s: failure type %q, want %q (%v)", name, appErr.Type(), c.wantType, err)
		case !appErr.NonRetryable():
			t.Errorf("%s: the failure is retryable", name)
		}
		if !hasErrorType(err, c.wantCode) {
			t.Errorf("%s: no %s in the cause chain: %v", name, c.wantCode, err)
		}
		calls := after.RPCs[c.method] - before.RPCs[c.method]
		switch {
		case c.outlasted && calls < 3:
			t.Errorf("%s: %d %s RPCs, want the refusals outlasted", name, calls, c.method)
		case c.outlasted && after.RPCs["CancelOperation"] == before.RPCs["CancelOperation"]:
			t.Errorf("%s: the run ended without requesting its operation's cancellation", name)
		case !c.outlasted && calls != 1:
			t.Errorf("%s: %d %s RPCs, want exactly 1", name, calls, c.method)
		}
		creates := after.RPCs["CreateIssueModel"] - before.RPCs["CreateIssueModel"]
		if creates != 1 {
			t.Errorf("%s: %d CreateIssueModel RPCs, want 1", name, creates)
		}
		evs := history(t, devServer.Client, run.GetID(), run.GetRunID())
		if n := countEvents(evs, enumspb.EVENT_TYPE_WORKFLOW_TASK_FAILED); n != 0 {
			t.Errorf("%s: %d WorkflowTaskFailed", name, n)
		}
		summary = append(summary, fmt.Sprintf("%s=%s/rpcs:%d/%s", name, appErr.Type(), calls, took.Round(100*time.Millisecond)))
	}
	t.Logf("FIGURE non-retryable cases=%d %s", len(cases), strings.Join(summary, " "))
}

// hasErrorType reports whether an ApplicationError of the type is anywhere in err's chain.
func hasErrorType(err error, typ string) bool {
	for err != nil {
		var appErr *temporal.ApplicationError
		if errors.As(err, &appErr) {
			if appErr.Type() == typ {
				return true
			}
			err = appErr.Unwrap()
			continue
		}
		err = errors.Unwrap(err)
	}
	return false
}
