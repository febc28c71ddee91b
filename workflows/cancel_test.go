package workflows

import (
	"context"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/workflow"

	"github.com/issuemodels/durable-lro/activities"
	"github.com/issuemodels/durable-lro/insights"
)

func (s *createSuite) TestCancelSignalHonored() {
	s.expectCreate()
	s.pollSequence(runningOp(), runningOp(), failedOp(insights.CodeCancelled, "cancelled"))
	s.env.OnActivity(acts.CancelOperation, mock.Anything, testOp).Return(activities.CancelResult{}, nil).Once()
	s.env.RegisterDelayedCallback(func() {
		s.env.SignalWorkflow(CancelSignal, CancelRequest{Reason: "wrong filter"})
	}, 45*time.Second)
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(), quietPolicy))

	res := s.cancelledResult()
	s.Equal(OutcomeCancelled, res.Outcome)
	s.Equal("wrong filter", res.CancelReason)
	s.Equal(testOp, res.Operation)
}

func (s *createSuite) TestCancelUnimplementedReportsModelExists() {
	s.expectCreate()
	s.pollSequence(runningOp(), runningOp(), runningOp(), succeededOp())
	s.env.OnActivity(acts.CancelOperation, mock.Anything, testOp).Return(activities.CancelResult{Unimplemented: true}, nil).Once()
	var statusAfterCancel *PollStatus
	s.env.RegisterDelayedCallback(func() {
		s.env.SignalWorkflow(CancelSignal, nil)
	}, 45*time.Second)
	s.env.RegisterDelayedCallback(func() {
		v, err := s.env.QueryWorkflow(StatusQuery)
		s.Require().NoError(err)
		s.Require().NoError(v.Get(&statusAfterCancel))
	}, 50*time.Second)
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(), quietPolicy))

	res := s.succeeded()
	s.Equal(OutcomeCompletedDespiteCancel, res.Outcome)
	s.True(res.CancelUnimplemented)
	s.Contains(string(res.IssueModel), testModel)
	s.Require().NotNil(statusAfterCancel)
	s.True(statusAfterCancel.CancelRequested)
	s.Equal(PhaseCancelling, statusAfterCancel.Phase)
	s.True(statusAfterCancel.CancelUnimplemented)
}

// deleteAfterCancel runs a creation whose cancel the server ignores and whose input asks to
// delete the model then; the deletion operation ends as deleted says.
func (s *createSuite) deleteAfterCancel(deleted insights.Operation) {
	s.trainingOutlivesCancel()
	deleted.Name, deleted.Done = testDeleteOp, true
	s.env.OnActivity(acts.PollOperation, mock.Anything, testDeleteOp).Return(activities.PollResult{Operation: deleted}, nil)
	s.env.RegisterDelayedCallback(func() { s.env.SignalWorkflow(CancelSignal, CancelRequest{Reason: "oops"}) }, 45*time.Second)
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(), quietPolicy+`,"deleteModelIfCancelFails":true`))
}

func (s *createSuite) TestCancelIgnoredDeletesModelWhenAsked() {
	var childIDs []string
	s.env.SetOnChildWorkflowStartedListener(func(info *workflow.Info, _ workflow.Context, _ converter.EncodedValues) {
		childIDs = append(childIDs, info.WorkflowExecution.ID)
	})
	s.deleteAfterCancel(insights.Operation{})

	res := s.deletedAfterCancel()
	s.Equal(testDeleteOp, res.DeleteOperation)
	s.Equal([]string{"default-test-workflow-id-delete"}, childIDs, "the deletion is awaited by a child AwaitOperationWorkflow")
}

// TestDeletionAfterCancelOfRelease1IsNotAwaited: a run that started on release 1 (no
// await-deletion-after-cancel marker in its history) keeps release 1's commands: it starts the
// deletion and completes, awaiting nothing. The recorded histories of f634c2d replay this path.
func (s *createSuite) TestDeletionAfterCancelOfRelease1IsNotAwaited() {
	s.env.OnGetVersion(awaitDeletionChange, workflow.DefaultVersion, awaitDeletionVersion).Return(workflow.DefaultVersion)
	s.trainingOutlivesCancel()
	s.env.SetOnChildWorkflowStartedListener(func(info *workflow.Info, _ workflow.Context, _ converter.EncodedValues) {
		s.Fail("release 1 awaits no deletion", info.WorkflowExecution.ID)
	})
	s.cancelDeletingTheModel()

	res := s.deletedAfterCancel()
	s.Equal(testDeleteOp, res.DeleteOperation)
}

func (s *createSuite) TestTemporalCancelCancelsOperationAndWaitsForOutcome() {
	s.expectCreate()
	s.pollSequence(runningOp(), runningOp(), failedOp(insights.CodeCancelled, "cancelled"))
	s.env.OnActivity(acts.CancelOperation, mock.Anything, testOp).Return(activities.CancelResult{}, nil).Once()
	s.env.RegisterDelayedCallback(s.env.CancelWorkflow, 45*time.Second)
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(), quietPolicy))

	res := s.cancelledResult()
	s.Equal(OutcomeCancelled, res.Outcome)
	s.Equal(3, res.Polls, "polling goes on after the cancel until the outcome is known")
}

func (s *createSuite) TestTimeoutCancelsAndFails() {
	start := s.env.Now()
	appErr := s.timesOutRunning()
	s.Contains(appErr.Error(), "accepted")
	s.Contains(appErr.Error(), "still unknown")
	s.Equal(2*time.Hour, s.env.Now().Sub(start).Round(time.Second), "after the timeout, the cancel's outcome is awaited for a grace of min(timeout, 1h)")
}

// honorDeletionCancel answers the deletion's polls: running until a CancelOperation of the
// deletion reaches the server, which honors it (the deletion ends CANCELLED and the model
// survives), else done after three polls.
func (s *createSuite) honorDeletionCancel() {
	cancelled, polls := false, 0
	s.env.OnActivity(acts.CancelOperation, mock.Anything, testDeleteOp).Return(func(_ context.Context, _ string) (activities.CancelResult, error) {
		cancelled = true
		return activities.CancelResult{}, nil
	}).Maybe()
	s.env.OnActivity(acts.PollOperation, mock.Anything, testDeleteOp).Return(asPoll(func(_ context.Context, _ string) (insights.Operation, error) {
		polls++
		switch {
		case cancelled:
			return insights.Operation{Name: testDeleteOp, Done: true, Error: &insights.Status{Code: insights.CodeCancelled, Message: "cancelled"}}, nil
		case polls >= 3:
			return insights.Operation{Name: testDeleteOp, Done: true}, nil
		}
		return insights.Operation{Name: testDeleteOp}, nil
	}))
}

// TestTemporalCancelDuringDeletionAfterCancelStillDeletes (O): the cancel signal could not stop
// the training, so the run deletes the model as its input asks; a Temporal cancel that follows
// while the deletion is awaited must not cancel the deletion: the model is deleted and the
// result names it.
func (s *createSuite) TestTemporalCancelDuringDeletionAfterCancelStillDeletes() {
	s.trainingOutlivesCancel()
	s.honorDeletionCancel()
	s.env.SetOnChildWorkflowStartedListener(func(info *workflow.Info, _ workflow.Context, _ converter.EncodedValues) {
		if info.WorkflowExecution.ID == "default-test-workflow-id-delete" {
			s.env.RegisterDelayedCallback(s.env.CancelWorkflow, time.Second)
		}
	})
	s.env.RegisterDelayedCallback(func() { s.env.SignalWorkflow(CancelSignal, CancelRequest{Reason: "oops"}) }, 45*time.Second)
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(), quietPolicy+`,"deleteModelIfCancelFails":true`))

	res := s.deletedAfterCancel()
	s.Equal(testDeleteOp, res.DeleteOperation)
	s.Contains(string(res.IssueModel), testModel)
}

// TestTemporalCancelDuringDeleteCallStillDeletes (O): the same while DeleteIssueModel itself is
// running.
func (s *createSuite) TestTemporalCancelDuringDeleteCallStillDeletes() {
	s.cancelIgnored()
	// The training is done at the third poll, 1m45s in; the deletion's call then takes a minute.
	s.env.OnActivity(acts.DeleteIssueModel, mock.Anything, testModel).After(time.Minute).
		Return(activities.StartedOperation{Operation: testDeleteOp}, nil).Once()
	s.honorDeletionCancel()
	s.env.RegisterDelayedCallback(s.env.CancelWorkflow, 2*time.Minute+15*time.Second)
	s.cancelDeletingTheModel()

	s.deletedAfterCancel()
}

// TestFailedDeletionAfterCancelNamesTheModel (O): the failure of the deletion names the model
// that survives, which the run has no result to name.
func (s *createSuite) TestFailedDeletionAfterCancelNamesTheModel() {
	s.deleteAfterCancel(insights.Operation{Error: &insights.Status{Code: 9, Message: "model is deployed"}})

	err := s.env.GetWorkflowError()
	s.True(insights.IsErrorType(err, insights.ErrOperationFailed), "%v", err)
	s.Contains(err.Error(), testModel)
	s.Contains(err.Error(), testDeleteOp)
}

// TestDeletionOfEarlierReleasesFollowsTheirCancel: a run that recorded no
// delete-after-cancel-disconnected marker keeps its commands: a Temporal cancel during the
// deletion cancels the deletion child, as it did.
func (s *createSuite) TestDeletionOfEarlierReleasesFollowsTheirCancel() {
	s.env.OnGetVersion(disconnectedDeletionChange, workflow.DefaultVersion, disconnectedDeletionVersion).Return(workflow.DefaultVersion)
	s.trainingOutlivesCancel()
	s.honorDeletionCancel()
	s.env.SetOnChildWorkflowStartedListener(func(info *workflow.Info, _ workflow.Context, _ converter.EncodedValues) {
		s.env.RegisterDelayedCallback(s.env.CancelWorkflow, time.Second)
	})
	s.cancelDeletingTheModel()
	s.Require().Error(s.env.GetWorkflowError())
}
