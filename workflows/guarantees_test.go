package workflows

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/grpc/codes"

	"github.com/issuemodels/durable-lro/activities"
	"github.com/issuemodels/durable-lro/insights"
)

// The tests of this file each reproduce a way a hostile world broke one of the four promises
// (one model per run, no run lost, no training left running untracked, a cancel reaches Google)
// on an earlier release; see docs/RELIABILITY.md, "Findings".

// Finding E: a cancel signal, then Temporal's cancel while CancelOperation is in flight: the
// call that carries the cancel must not be aborted and forgotten.
func (s *createSuite) TestTemporalCancelAfterCancelSignalDoesNotAbortTheCancelCall() {
	s.expectCreate()
	var cancel cancelTaken
	s.env.SetOnActivityCompletedListener(func(info *activity.Info, _ converter.EncodedValue, err error) {
		if info.ActivityType.Name == "CancelOperation" && err == nil {
			cancel.set()
		}
	})
	s.env.OnActivity(acts.CancelOperation, mock.Anything, testOp).After(20*time.Second).Return(activities.CancelResult{}, nil)
	s.pollsEndCancelledOnceTaken(&cancel, 20)
	s.env.RegisterDelayedCallback(func() { s.env.SignalWorkflow(CancelSignal, CancelRequest{Reason: "stop"}) }, 45*time.Second)
	s.env.RegisterDelayedCallback(s.env.CancelWorkflow, 50*time.Second)
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(), quietPolicy))
	res := s.cancelledResult()
	s.Equal(OutcomeCancelled, res.Outcome, "the cancel reached the server and stopped the training")
}

// Finding L: a cancel sent right after the create, while the new operation is not listed yet,
// is refused with NOT_FOUND; it must be tried again until the server has it.
func (s *createSuite) TestCancelRefusedWhileTheOperationIsNotListedYetIsRetried() {
	// The create call takes a second: the cancel arrives while it is in flight.
	s.env.OnActivity(acts.CreateIssueModel, mock.Anything, mock.Anything).After(time.Second).
		Return(activities.StartedOperation{Operation: testOp}, nil).Once()
	var cancel cancelTaken
	cancels := 0
	s.env.OnActivity(acts.CancelOperation, mock.Anything, testOp).Return(func(context.Context, string) (activities.CancelResult, error) {
		cancels++
		if cancels == 1 {
			return activities.CancelResult{}, apiError("CancelOperation", codes.NotFound)
		}
		cancel.set()
		return activities.CancelResult{}, nil
	})
	s.pollsEndCancelledOnceTaken(&cancel, 10)
	s.env.RegisterDelayedCallback(func() { s.env.SignalWorkflow(CancelSignal, nil) }, 500*time.Millisecond)
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(), quietPolicy))
	res := s.cancelledResult()
	s.Equal(OutcomeCancelled, res.Outcome)
	s.Equal(2, cancels, "refused once (not listed yet), then taken")
}

// Finding M: at the polling timeout the run requests cancellation and awaits its outcome before
// it fails, instead of failing while the training may still run.
func (s *createSuite) TestTimeoutAwaitsTheCancelsOutcome() {
	s.expectCreate()
	var cancel cancelTaken
	s.env.OnActivity(acts.CancelOperation, mock.Anything, testOp).Return(func(context.Context, string) (activities.CancelResult, error) {
		cancel.set()
		return activities.CancelResult{}, nil
	}).Once()
	pollsAfterCancel := 0
	s.env.OnActivity(acts.PollOperation, mock.Anything, testOp).Return(asPoll(func(context.Context, string) (insights.Operation, error) {
		if cancel.get() {
			pollsAfterCancel++
			return failedOp(insights.CodeCancelled, "cancelled"), nil
		}
		return runningOp(), nil
	}))
	appErr := s.runsIntoItsTimeout()
	s.Equal(1, pollsAfterCancel, "the run learned the cancel's outcome before failing")
	s.Contains(appErr.Error(), "ended cancelled")
}

// Finding M: a non-retryable poll error of an operation this run created does not end the run
// at once with its training untracked: the run polls on, and if the error outlasts the grace, it
// requests cancellation before it fails.
func (s *createSuite) TestPermissionDeniedOnATrainingInFlightIsOutlastedThenCancelled() {
	s.expectCreate()
	polls := 0
	s.env.OnActivity(acts.PollOperation, mock.Anything, testOp).Return(asPoll(func(context.Context, string) (insights.Operation, error) {
		polls++
		if polls == 1 {
			return runningOp(), nil
		}
		return insights.Operation{}, apiError("GetOperation", codes.PermissionDenied)
	}))
	s.env.OnActivity(acts.CancelOperation, mock.Anything, testOp).Return(activities.CancelResult{}, apiError("CancelOperation", codes.PermissionDenied))
	start := s.env.Now()
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(), quietPolicy))
	var appErr *temporal.ApplicationError
	s.Require().True(errors.As(s.env.GetWorkflowError(), &appErr), "%v", s.env.GetWorkflowError())
	s.Equal("PermissionDenied", appErr.Type())
	s.Contains(appErr.Error(), testOp)
	s.GreaterOrEqual(s.env.Now().Sub(start), time.Hour, "the error was outlasted for the grace")
	s.Greater(polls, 10)
}

// Finding M: a run whose permission comes back goes on to the outcome.
func (s *createSuite) TestPermissionDeniedThatPassesLetsTheRunSucceed() {
	s.expectCreate()
	polls := 0
	s.env.OnActivity(acts.PollOperation, mock.Anything, testOp).Return(asPoll(func(context.Context, string) (insights.Operation, error) {
		polls++
		switch {
		case polls == 1:
			return runningOp(), nil
		case polls < 5:
			return insights.Operation{}, apiError("GetOperation", codes.PermissionDenied)
		}
		return succeededOp(), nil
	}))
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(), quietPolicy))
	s.Require().NoError(s.env.GetWorkflowError())
}

// Finding J: the run continues as new by the history length the SDK reports, whatever its own
// count of polls says.
func (s *createSuite) TestContinuesAsNewByHistoryLength() {
	s.expectCreate()
	s.pollSequence(runningOp(), runningOp(), succeededOp())
	s.env.SetCurrentHistoryLength(3900)
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(), quietPolicy))
	s.assertContinuedAsNew(1)
}

// Finding B: what a newer release's worker wrote at continue-as-new decodes here, its unknown
// fields ignored, instead of failing the run through the bad-input path.
func (s *createSuite) TestContinuationFromANewerReleaseIsRead() {
	s.pollSequence(succeededOp())
	s.env.SetContinuedExecutionRunID("the-previous-run")
	// Raw JSON, as the server hands it over: a struct would drop the unknown fields on the way.
	s.env.ExecuteWorkflow(CreateIssueModelWorkflowType, json.RawMessage(`{"parent":"`+testParent+`","issueModel":{"displayName":"weekly","futureModelOption":1},`+
		`"futureOption":true,"continuation":{"operation":"`+testOp+`","startedAt":"2026-01-01T00:00:00Z","polls":7,"futureState":{"x":1}}}`))
	res := s.succeeded()
	s.Equal(8, res.Polls)
}

// Security: a continuation is state only the workflow writes; a person's input carrying one is
// refused before any call, so that nobody attaches a run to an operation they did not create.
func (s *createSuite) TestContinuationFromAPersonIsRefused() {
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, input(s.T(), `{"parent":"`+testParent+`","issueModel":{"displayName":"weekly"},`+
		`"deleteModelIfCancelFails":true,"continuation":{"operation":"projects/victim/locations/us-central1/operations/1"}}`))
	appErr := s.failedWith(insights.ErrInvalidArgument)
	var fv insights.FieldViolation
	s.Require().NoError(appErr.Details(&fv))
	s.Equal("continuation", fv.Field)
}

// Finding B for children: the input a parent of a newer release hands its child decodes here.
func TestChildInputFromANewerReleaseIsRead(t *testing.T) {
	env := newEnv()
	RegisterWorkflows(env)
	parent := func(ctx workflow.Context) (*CreateIssueModelResult, error) {
		ctx = workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{WorkflowID: "child"})
		var res CreateIssueModelResult
		raw := json.RawMessage(`{"parent":"` + testParent + `","issueModel":{"displayName":"weekly"},"futureOption":{"a":1}}`)
		err := workflow.ExecuteChildWorkflow(ctx, CreateIssueModelWorkflowType, raw).Get(ctx, &res)
		return &res, err
	}
	env.RegisterWorkflowWithOptions(parent, workflow.RegisterOptions{Name: "newer-parent"})
	env.OnActivity(acts.CreateIssueModel, mock.Anything, mock.Anything).Return(activities.StartedOperation{Operation: testOp}, nil).Once()
	env.OnActivity(acts.PollOperation, mock.Anything, testOp).Return(activities.PollResult{Operation: succeededOp()}, nil)
	env.ExecuteWorkflow("newer-parent")
	require.NoError(t, env.GetWorkflowError())
}

// Runs recorded before outcomeBeforeEndChange keep their commands: the timeout fails at once.
func (s *createSuite) TestTimeoutOfARecordedRunFailsAtTheDeadline() {
	for attempt := 1; attempt <= 50; attempt++ {
		s.env.OnGetVersion(joinChangeID(attempt), workflow.DefaultVersion, pacedRunsJoinServerLimitsVersion).Return(workflow.DefaultVersion).Maybe()
	}
	s.env.OnGetVersion(apiCallsUnderServerLimitsChange, workflow.DefaultVersion, apiCallsUnderServerLimitsVersion).Return(workflow.DefaultVersion)
	s.env.OnGetVersion(outcomeBeforeEndChange, workflow.DefaultVersion, outcomeBeforeEndVersion).Return(workflow.DefaultVersion)
	start := s.env.Now()
	s.timesOutRunning()
	s.Equal(time.Hour, s.env.Now().Sub(start).Round(time.Second))
}
