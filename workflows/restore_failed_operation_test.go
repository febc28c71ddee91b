package workflows

import (
	"time"

	"github.com/stretchr/testify/mock"

	"github.com/issuemodels/durable-lro/activities"
)

// TestRestoreRetriesARedeployWhoseOperationFailed: undeploy-first removed oldModel, then a
// cancel came. The restoring redeploy of oldModel starts, but its operation ends INTERNAL at
// Google (a transient failure, the model back to UNDEPLOYED). The restore only retries the
// start: the run ends with oldModel undeployed, the location a deployed model short for good,
// while a second redeploy would have succeeded.
func (s *lifecycleSuite) TestRestoreRetriesARedeployWhoseOperationFailed() {
	s.models(deployedModels(MaxDeployedPerLocation)...)
	s.trains(900, 12)
	s.changes(acts.UndeployIssueModel, oldModel, retireOp).After(time.Hour)
	const redeployOp2 = testParent + "/operations/d2-again"
	s.env.OnActivity(acts.DeployIssueModel, mock.Anything, oldModel).Return(activities.StartedOperation{Operation: redeployOp}, nil).Once()
	s.awaitChild(redeployOp, internalErrorOp(redeployOp))
	s.env.OnActivity(acts.DeployIssueModel, mock.Anything, oldModel).Return(activities.StartedOperation{Operation: redeployOp2}, nil).Maybe()
	s.env.OnWorkflow(AwaitOperationWorkflowType, mock.Anything, mock.MatchedBy(func(in AwaitOperationInput) bool {
		return in.Operation == redeployOp2
	})).Return(doneOp(redeployOp2), nil).Maybe()
	s.cancelAfterAMinute()
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, lifecycleInput(QualityGate{}))

	s.Require().True(s.env.IsWorkflowCompleted())
	err := s.env.GetWorkflowError()
	s.Require().Error(err)
	s.NotContains(err.Error(), "internal", "the run ended with %s undeployed after one failed redeploy operation: %v", oldModel, err)
	s.Empty(s.requireCancelled().Undeployed, "the previous model is deployed again")
}
