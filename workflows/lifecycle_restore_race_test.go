package workflows

import (
	"context"
	"encoding/json"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"

	"github.com/issuemodels/durable-lro/activities"
	"github.com/issuemodels/durable-lro/insights"
)

// deployLostTrackOf: the location holds MaxDeployedPerLocation deployed models, undeploy-first
// retires oldModel, and the new model's deploy step fails on the quota after a start that
// committed and lost its reply, so that deploy runs on untracked. It returns the refusal of an
// undeploy of the new model meanwhile.
func (s *lifecycleSuite) deployLostTrackOf() error {
	s.models(deployedModels(MaxDeployedPerLocation)...)
	s.trains(900, 12)
	s.changes(acts.UndeployIssueModel, oldModel, retireOp)
	quota := temporal.NewApplicationError("quota", insights.ErrResourceExhausted)
	s.env.OnActivity(acts.DeployIssueModel, mock.Anything, testModel).Return(activities.StartedOperation{}, quota)
	return temporal.NewNonRetryableApplicationError("Cannot undeploy issue model in state DEPLOYING", "FailedPrecondition", nil)
}

// refusedOnceThenStarts: start of model is refused with refusal the first time, then starts op.
func (s *lifecycleSuite) refusedOnceThenStarts(start any, model string, refusal error, op string) {
	tries := 0
	s.env.OnActivity(start, mock.Anything, model).Return(func(context.Context, string) (activities.StartedOperation, error) {
		if tries++; tries == 1 {
			return activities.StartedOperation{}, refusal
		}
		return activities.StartedOperation{Operation: op}, nil // the refusal has lifted
	})
}

// The rollback's undeploy of the new model is refused FAILED_PRECONDITION while its
// untracked deploy is DEPLOYING; that deploy finishes before the restore reads the model, which
// shows DEPLOYED. The refusal has lifted, so the restore must try again (and undeploy), not end
// with the new model DEPLOYED after a failed deploy step.
func (s *lifecycleSuite) TestRestoreTriesAgainWhenTheMidChangeEndsBeforeTheRead() {
	busy := s.deployLostTrackOf()
	s.refusedOnceThenStarts(acts.UndeployIssueModel, testModel, busy, rollbackOp)
	// The deploy finished between the refusal and the read.
	s.env.OnActivity(acts.GetIssueModel, mock.Anything, testModel).Return(json.RawMessage(`{"name":"`+testModel+`","state":"DEPLOYED"}`), nil).Maybe()
	s.awaitChild(rollbackOp, doneOp(rollbackOp)).Maybe()
	s.changes(acts.DeployIssueModel, oldModel, redeployOp)
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, lifecycleInput(QualityGate{}))

	err := s.env.GetWorkflowError()
	s.Require().Error(err)
	s.NotContains(err.Error(), "could not undeploy "+testModel, "the refusal had lifted; the new model was left DEPLOYED: %v", err)
	s.Contains(err.Error(), testModel+" is UNDEPLOYED")
}

// Same race on the redeploy: undeploy-first's start committed and gave up (refused
// after a lost reply); the redeploy is refused while oldModel is UNDEPLOYING, the undeploy ends
// before the read (UNDEPLOYED): the restore must try again, not leave the location a deployed
// model short.
func (s *lifecycleSuite) TestRedeployTriesAgainWhenTheUndeployEndsBeforeTheRead() {
	s.models(deployedModels(MaxDeployedPerLocation)...)
	s.trains(900, 12)
	s.env.OnActivity(acts.UndeployIssueModel, mock.Anything, oldModel).Return(activities.StartedOperation{},
		temporal.NewApplicationError("quota", insights.ErrResourceExhausted))
	busy := temporal.NewNonRetryableApplicationError("Cannot deploy issue model in state UNDEPLOYING", "FailedPrecondition", nil)
	s.refusedOnceThenStarts(acts.DeployIssueModel, oldModel, busy, redeployOp)
	s.env.OnActivity(acts.GetIssueModel, mock.Anything, oldModel).Return(json.RawMessage(`{"name":"`+oldModel+`","state":"UNDEPLOYED"}`), nil).Maybe()
	s.awaitChild(redeployOp, doneOp(redeployOp)).Maybe()
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, lifecycleInput(QualityGate{}))

	err := s.env.GetWorkflowError()
	s.Require().Error(err)
	s.NotContains(err.Error(), "could not redeploy "+oldModel, "the refusal had lifted; the location is left short: %v", err)
}
