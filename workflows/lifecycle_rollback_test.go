package workflows

import (
	"errors"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/issuemodels/durable-lro/insights"
)

// Operations of the rollback (issue 25, C and M).
const (
	rollbackOp = testParent + "/operations/u2"
	redeployOp = testParent + "/operations/d2"
)

// atDeployedQuota lists oldModel ("weekly", the model this run replaces) and four other
// deployed models: the deploy step must undeploy oldModel first. The run trains testModel.
func (s *lifecycleSuite) atDeployedQuota() {
	s.models(deployedModels(MaxDeployedPerLocation)...)
	s.trains(900, 12)
	s.changes(acts.UndeployIssueModel, oldModel, retireOp)
	s.starts(acts.DeployIssueModel, testModel, deployOp)
}

// expectRollback expects the new model to be undeployed (it ended deployed) and oldModel to be
// redeployed, in that order (at the quota, the other way round would be refused).
func (s *lifecycleSuite) expectRollback() *[]string {
	var order []string
	s.startsInOrder(acts.UndeployIssueModel, testModel, rollbackOp, "undeploy-new", &order)
	s.awaitChild(rollbackOp, doneOp(rollbackOp))
	s.startsInOrder(acts.DeployIssueModel, oldModel, redeployOp, "redeploy-old", &order)
	s.awaitChild(redeployOp, doneOp(redeployOp))
	return &order
}

// TestCancelDuringDeployAtQuotaRedeploysThePrevious (C): undeploy-first made room for the new
// model; a cancel during its deployment must leave the location as it was: the new model
// undeployed and the one undeploy-first removed deployed again.
func (s *lifecycleSuite) TestCancelDuringDeployAtQuotaRedeploysThePrevious() {
	s.atDeployedQuota()
	// The deployment completes although cancelled ("best effort").
	s.awaitChild(deployOp, doneOp(deployOp)).After(time.Hour)
	order := s.expectRollback()
	s.env.RegisterDelayedCallback(func() { s.env.SignalWorkflow(CancelSignal, nil) }, time.Minute)
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, lifecycleInput(QualityGate{}))

	res := s.requireCancelled()
	s.Equal("UNDEPLOYED", res.State)
	s.Empty(res.Undeployed, "the previous model is deployed again")
	s.Equal([]string{"undeploy-new", "redeploy-old"}, *order)
	st := s.status()
	s.Equal(StepStateCancelled, st.Steps[len(st.Steps)-1].State)
	s.Contains(st.Steps[len(st.Steps)-1].Detail, oldModel+" redeployed")
}

// TestTemporalCancelDuringDeployAtQuotaRedeploysThePrevious: the same for Temporal's cancel,
// with the deployment cancelled by the server.
func (s *lifecycleSuite) TestTemporalCancelDuringDeployAtQuotaRedeploysThePrevious() {
	s.atDeployedQuota()
	s.awaitChild(deployOp, cancelledStepOp(deployOp)).After(time.Hour)
	s.nothingToDo(acts.UndeployIssueModel, testModel)
	s.changes(acts.DeployIssueModel, oldModel, redeployOp)
	s.env.RegisterDelayedCallback(s.env.CancelWorkflow, time.Minute)
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, lifecycleInput(QualityGate{}))

	res := s.requireCancelled()
	s.Equal("UNDEPLOYED", res.State)
	s.Empty(res.Undeployed)
}

// TestDeployTimeoutAwaitsTheOutcomeAndRollsBack (M): the deploy child gives up (PollTimeout;
// it asked for the cancellation) while the deployment runs on. The run must not end before the
// deployment has: it awaits the operation again, finds the new model deployed anyway, undeploys
// it, redeploys the model undeploy-first removed, and fails with the original error.
func (s *lifecycleSuite) TestDeployTimeoutAwaitsTheOutcomeAndRollsBack() {
	s.atDeployedQuota()
	timedOut := temporal.NewNonRetryableApplicationError("operation "+deployOp+" is not done after the polling timeout of 24h0m0s", insights.ErrPollTimeout, nil)
	s.env.OnWorkflow(AwaitOperationWorkflowType, mock.Anything, mock.MatchedBy(func(in AwaitOperationInput) bool { return in.Operation == deployOp })).
		Return(nil, timedOut).Once()
	var settled []string
	s.env.OnWorkflow(AwaitOperationWorkflowType, mock.Anything, mock.MatchedBy(func(in AwaitOperationInput) bool { return in.Operation == deployOp })).
		Return(func(ctx workflow.Context, _ AwaitOperationInput) (*insights.Operation, error) {
			settled = append(settled, workflow.GetInfo(ctx).WorkflowExecution.ID)
			return doneOp(deployOp), nil
		}).Once()
	order := s.expectRollback()
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, lifecycleInput(QualityGate{}))

	err := s.env.GetWorkflowError()
	s.True(insights.IsErrorType(err, insights.ErrPollTimeout), "%v", err)
	s.Contains(err.Error(), oldModel+" redeployed")
	s.Equal([]string{"default-test-workflow-id-deploy-outcome"}, settled, "the deploy operation is awaited to its end")
	s.Equal([]string{"undeploy-new", "redeploy-old"}, *order)
	var appErr *temporal.ApplicationError
	s.Require().True(errors.As(err, &appErr))
	var res LifecycleResult
	s.Require().NoError(appErr.Details(&res))
	s.Equal("UNDEPLOYED", res.State)
	s.Empty(res.Undeployed)
	st := s.status()
	s.Equal(StepStateFailed, st.Steps[len(st.Steps)-1].State)
	s.Contains(st.LastError, "rolled back")
}

// TestDeployFailureAtQuotaRedeploysThePrevious (M): the deployment fails; the new model is not
// deployed (nothing to undeploy), the model undeploy-first removed is redeployed.
func (s *lifecycleSuite) TestDeployFailureAtQuotaRedeploysThePrevious() {
	s.atDeployedQuota()
	s.awaitChild(deployOp, internalErrorOp(deployOp))
	s.nothingToDo(acts.UndeployIssueModel, testModel)
	s.changes(acts.DeployIssueModel, oldModel, redeployOp)
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, lifecycleInput(QualityGate{}))
	s.requireOperationFailed()
	s.Contains(s.env.GetWorkflowError().Error(), oldModel+" redeployed")
}

// TestUndeployFirstTimeoutRedeploysThePrevious (M): the child awaiting undeploy-first gives up;
// the undeploy may still happen, so the run awaits it and puts the model back.
func (s *lifecycleSuite) TestUndeployFirstTimeoutRedeploysThePrevious() {
	s.models(deployedModels(MaxDeployedPerLocation)...)
	s.trains(900, 12)
	s.starts(acts.UndeployIssueModel, oldModel, retireOp)
	s.env.OnWorkflow(AwaitOperationWorkflowType, mock.Anything, mock.MatchedBy(func(in AwaitOperationInput) bool { return in.Operation == retireOp })).
		Return(nil, temporal.NewNonRetryableApplicationError("lost", insights.ErrOperationLost, nil)).Once()
	s.awaitChild(retireOp, doneOp(retireOp)) // the undeploy finished after all
	s.changes(acts.DeployIssueModel, oldModel, redeployOp)
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, lifecycleInput(QualityGate{}))

	err := s.env.GetWorkflowError()
	s.True(insights.IsErrorType(err, insights.ErrOperationLost), "%v", err)
	s.Contains(err.Error(), oldModel+" redeployed")
}

// TestDeployRollbackOfEarlierReleasesKeepsTheirCommands: a run that recorded no deploy-rollback
// marker (started before the change, reaching the point in replay) ends as it always did: a
// cancel during deploy undeploys the new model and redeploys nothing.
func (s *lifecycleSuite) TestDeployRollbackOfEarlierReleasesKeepsTheirCommands() {
	s.env.OnGetVersion(deployRollbackChange, workflow.DefaultVersion, deployRollbackVersion).Return(workflow.DefaultVersion)
	s.atDeployedQuota()
	s.awaitChild(deployOp, doneOp(deployOp)).After(time.Hour)
	s.changes(acts.UndeployIssueModel, testModel, rollbackOp)
	s.env.RegisterDelayedCallback(func() { s.env.SignalWorkflow(CancelSignal, nil) }, time.Minute)
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, lifecycleInput(QualityGate{}))

	s.Equal([]string{oldModel}, s.requireCancelled().Undeployed)
}

// TestCancelDuringRollbackOfAFailureStillFails: a cancel that comes while a failed deploy step
// is rolled back neither stops the rollback nor hides the failure.
func (s *lifecycleSuite) TestCancelDuringRollbackOfAFailureStillFails() {
	s.atDeployedQuota()
	s.awaitChild(deployOp, internalErrorOp(deployOp))
	s.nothingToDo(acts.UndeployIssueModel, testModel)
	s.changes(acts.DeployIssueModel, oldModel, redeployOp).After(time.Hour)
	s.env.RegisterDelayedCallback(func() { s.env.SignalWorkflow(CancelSignal, nil) }, 30*time.Minute)
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, lifecycleInput(QualityGate{}))
	s.requireOperationFailed()
	s.Contains(s.env.GetWorkflowError().Error(), oldModel+" redeployed")
}
