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
	s.expectCreate()
	s.pollSequence(runningOp(), runningOp(), succeededOp())
	s.env.OnActivity(acts.CancelOperation, mock.Anything, testOp).Return(activities.CancelResult{}, nil).Once()
	s.env.OnActivity(acts.DeleteIssueModel, mock.Anything, testModel).Return(activities.StartedOperation{Operation: testDeleteOp}, nil).Once()
	s.honorDeletionCancel()
	s.env.SetOnChildWorkflowStartedListener(func(info *workflow.Info, _ workflow.Context, _ converter.EncodedValues) {
		if info.WorkflowExecution.ID == "default-test-workflow-id-delete" {
			s.env.RegisterDelayedCallback(s.env.CancelWorkflow, time.Second)
		}
	})
	s.env.RegisterDelayedCallback(func() { s.env.SignalWorkflow(CancelSignal, CancelRequest{Reason: "oops"}) }, 45*time.Second)
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(), quietPolicy+`,"deleteModelIfCancelFails":true`))

	s.Require().NoError(s.env.GetWorkflowError())
	var res CreateIssueModelResult
	s.Require().NoError(s.env.GetWorkflowResult(&res))
	s.Equal(OutcomeDeletedAfterCancel, res.Outcome)
	s.Equal(testDeleteOp, res.DeleteOperation)
	s.Contains(string(res.IssueModel), testModel)
}

// TestTemporalCancelDuringDeleteCallStillDeletes (O): the same while DeleteIssueModel itself is
// running.
func (s *createSuite) TestTemporalCancelDuringDeleteCallStillDeletes() {
	s.expectCreate()
	s.pollSequence(runningOp(), runningOp(), succeededOp())
	s.env.OnActivity(acts.CancelOperation, mock.Anything, testOp).Return(activities.CancelResult{}, nil).Once()
	// The training is done at the third poll, 1m45s in; the deletion's call then takes a minute.
	s.env.OnActivity(acts.DeleteIssueModel, mock.Anything, testModel).After(time.Minute).
		Return(activities.StartedOperation{Operation: testDeleteOp}, nil).Once()
	s.honorDeletionCancel()
	s.env.RegisterDelayedCallback(s.env.CancelWorkflow, 2*time.Minute+15*time.Second)
	s.env.RegisterDelayedCallback(func() { s.env.SignalWorkflow(CancelSignal, nil) }, 45*time.Second)
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(), quietPolicy+`,"deleteModelIfCancelFails":true`))

	s.Require().NoError(s.env.GetWorkflowError())
	var res CreateIssueModelResult
	s.Require().NoError(s.env.GetWorkflowResult(&res))
	s.Equal(OutcomeDeletedAfterCancel, res.Outcome)
}

// TestFailedDeletionAfterCancelNamesTheModel (O): the failure of the deletion names the model
// that survives, which the run has no result to name.
func (s *createSuite) TestFailedDeletionAfterCancelNamesTheModel() {
	s.deleteAfterCancel(insights.Operation{Error: &insights.Status{Code: 9, Message: "model is deployed"}})

	err := s.env.GetWorkflowError()
	s.True(insights.IsErrorType(err, insights.ErrOperationFailed), "%v", err)
	s.Contains(err.Error(), testModel)
}

// TestDeletionOfEarlierReleasesFollowsTheirCancel: a run that recorded no
// delete-after-cancel-disconnected marker keeps its commands: a Temporal cancel during the
// deletion cancels the deletion child, as it did.
func (s *createSuite) TestDeletionOfEarlierReleasesFollowsTheirCancel() {
	s.env.OnGetVersion(disconnectedDeletionChange, workflow.DefaultVersion, disconnectedDeletionVersion).Return(workflow.DefaultVersion)
	s.expectCreate()
	s.pollSequence(runningOp(), runningOp(), succeededOp())
	s.env.OnActivity(acts.CancelOperation, mock.Anything, testOp).Return(activities.CancelResult{}, nil).Once()
	s.env.OnActivity(acts.DeleteIssueModel, mock.Anything, testModel).Return(activities.StartedOperation{Operation: testDeleteOp}, nil).Once()
	s.honorDeletionCancel()
	s.env.SetOnChildWorkflowStartedListener(func(info *workflow.Info, _ workflow.Context, _ converter.EncodedValues) {
		s.env.RegisterDelayedCallback(s.env.CancelWorkflow, time.Second)
	})
	s.env.RegisterDelayedCallback(func() { s.env.SignalWorkflow(CancelSignal, nil) }, 45*time.Second)
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(), quietPolicy+`,"deleteModelIfCancelFails":true`))
	s.Require().Error(s.env.GetWorkflowError())
}
