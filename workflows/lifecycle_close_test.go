package workflows

import (
	"context"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/workflow"

	"github.com/issuemodels/durable-lro/activities"
	"github.com/issuemodels/durable-lro/insights"
)

// trainingUntilCancelled runs the real create child against a training that runs until a
// CancelOperation reaches it, and returns whether one did.
func (s *lifecycleSuite) trainingUntilCancelled() *bool {
	cancelled := false
	s.starts(acts.CreateIssueModel, mock.Anything, testOp)
	s.env.OnActivity(acts.CancelOperation, mock.Anything, testOp).Return(func(_ context.Context, _ string) (activities.CancelResult, error) {
		cancelled = true
		return activities.CancelResult{}, nil
	}).Maybe()
	s.env.OnActivity(acts.PollOperation, mock.Anything, testOp).Return(asPoll(func(_ context.Context, _ string) (insights.Operation, error) {
		if cancelled {
			op := failedOp(insights.CodeCancelled, "cancelled")
			return op, nil
		}
		return runningOp(), nil
	}))
	return &cancelled
}

// TestRunTimeoutCancelsTheTraining (F): a lifecycle that closes without cancelling (its run
// timeout here; a terminate the same) asks its create child to cancel, so the child's own
// cancel path cancels the training; TERMINATE killed the child and left the training running,
// untracked.
func (s *lifecycleSuite) TestRunTimeoutCancelsTheTraining() {
	s.models()
	cancelled := s.trainingUntilCancelled()
	s.env.SetWorkflowRunTimeout(time.Hour)
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, lifecycleInput(QualityGate{}))
	s.Require().Error(s.env.GetWorkflowError())
	s.True(*cancelled, "the training was cancelled")
}

// TestChildrenOfEarlierReleasesKeepTerminate: runs that recorded no child-parent-close-policy
// marker start their children as they did.
func (s *lifecycleSuite) TestChildrenOfEarlierReleasesKeepTerminate() {
	s.env.OnGetVersion(parentCloseChange, workflow.DefaultVersion, parentCloseVersion).Return(workflow.DefaultVersion)
	s.models()
	cancelled := s.trainingUntilCancelled()
	s.env.SetWorkflowRunTimeout(time.Hour)
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, lifecycleInput(QualityGate{}))
	s.Require().Error(s.env.GetWorkflowError())
	s.False(*cancelled)
}
