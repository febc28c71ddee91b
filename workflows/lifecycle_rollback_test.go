package workflows

import (
	"context"
	"errors"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/issuemodels/durable-lro/activities"
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
	ms := []activities.IssueModelSummary{{Name: oldModel, DisplayName: "weekly", State: "DEPLOYED"}}
	for i := 1; i < MaxDeployedPerLocation; i++ {
		ms = append(ms, activities.IssueModelSummary{Name: testParent + "/issueModels/other" + string(rune('a'+i)), DisplayName: "other", State: "DEPLOYED"})
	}
	s.models(ms...)
	s.env.OnWorkflow(CreateIssueModelWorkflowType, mock.Anything, mock.Anything).Return(ptr(trainedResult(900, 12)), nil).Once()
	s.env.OnActivity(acts.UndeployIssueModel, mock.Anything, oldModel).Return(activities.StartedOperation{Operation: retireOp}, nil).Once()
	s.awaitChild(retireOp, doneOp(retireOp))
	s.env.OnActivity(acts.DeployIssueModel, mock.Anything, testModel).Return(activities.StartedOperation{Operation: deployOp}, nil).Once()
}

// expectRollback expects the new model to be undeployed (it ended deployed) and oldModel to be
// redeployed, in that order (at the quota, the other way round would be refused).
func (s *lifecycleSuite) expectRollback() *[]string {
	var order []string
	s.env.OnActivity(acts.UndeployIssueModel, mock.Anything, testModel).Return(func(_ context.Context, _ string) (activities.StartedOperation, error) {
		order = append(order, "undeploy-new")
		return activities.StartedOperation{Operation: rollbackOp}, nil
	}).Once()
	s.awaitChild(rollbackOp, doneOp(rollbackOp))
	s.env.OnActivity(acts.DeployIssueModel, mock.Anything, oldModel).Return(func(_ context.Context, _ string) (activities.StartedOperation, error) {
		order = append(order, "redeploy-old")
		return activities.StartedOperation{Operation: redeployOp}, nil
	}).Once()
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

	var res LifecycleResult
	s.cancelledWith(&res)
	s.Equal(LifecycleCancelled, res.Outcome)
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
	s.awaitChild(deployOp, &insights.Operation{Name: deployOp, Done: true, Error: &insights.Status{Code: insights.CodeCancelled, Message: "cancelled"}}).After(time.Hour)
	s.env.OnActivity(acts.UndeployIssueModel, mock.Anything, testModel).Return(activities.StartedOperation{AlreadyDone: true}, nil).Once()
	s.env.OnActivity(acts.DeployIssueModel, mock.Anything, oldModel).Return(activities.StartedOperation{Operation: redeployOp}, nil).Once()
	s.awaitChild(redeployOp, doneOp(redeployOp))
	s.env.RegisterDelayedCallback(s.env.CancelWorkflow, time.Minute)
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, lifecycleInput(QualityGate{}))

	var res LifecycleResult
	s.cancelledWith(&res)
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
	s.awaitChild(deployOp, &insights.Operation{Name: deployOp, Done: true, Error: &insights.Status{Code: 13, Message: "internal"}})
	s.env.OnActivity(acts.UndeployIssueModel, mock.Anything, testModel).Return(activities.StartedOperation{AlreadyDone: true}, nil).Once()
	s.env.OnActivity(acts.DeployIssueModel, mock.Anything, oldModel).Return(activities.StartedOperation{Operation: redeployOp}, nil).Once()
	s.awaitChild(redeployOp, doneOp(redeployOp))
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, lifecycleInput(QualityGate{}))
	s.requireOperationFailed()
	s.Contains(s.env.GetWorkflowError().Error(), oldModel+" redeployed")
}

// TestUndeployFirstTimeoutRedeploysThePrevious (M): the child awaiting undeploy-first gives up;
// the undeploy may still happen, so the run awaits it and puts the model back.
func (s *lifecycleSuite) TestUndeployFirstTimeoutRedeploysThePrevious() {
	var ms []activities.IssueModelSummary
	ms = append(ms, activities.IssueModelSummary{Name: oldModel, DisplayName: "weekly", State: "DEPLOYED"})
	for i := 1; i < MaxDeployedPerLocation; i++ {
		ms = append(ms, activities.IssueModelSummary{Name: testParent + "/issueModels/other" + string(rune('a'+i)), DisplayName: "other", State: "DEPLOYED"})
	}
	s.models(ms...)
	s.env.OnWorkflow(CreateIssueModelWorkflowType, mock.Anything, mock.Anything).Return(ptr(trainedResult(900, 12)), nil).Once()
	s.env.OnActivity(acts.UndeployIssueModel, mock.Anything, oldModel).Return(activities.StartedOperation{Operation: retireOp}, nil).Once()
	s.env.OnWorkflow(AwaitOperationWorkflowType, mock.Anything, mock.MatchedBy(func(in AwaitOperationInput) bool { return in.Operation == retireOp })).
		Return(nil, temporal.NewNonRetryableApplicationError("lost", insights.ErrOperationLost, nil)).Once()
	s.awaitChild(retireOp, doneOp(retireOp)) // the undeploy finished after all
	s.env.OnActivity(acts.DeployIssueModel, mock.Anything, oldModel).Return(activities.StartedOperation{Operation: redeployOp}, nil).Once()
	s.awaitChild(redeployOp, doneOp(redeployOp))
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
	s.env.OnActivity(acts.UndeployIssueModel, mock.Anything, testModel).Return(activities.StartedOperation{Operation: rollbackOp}, nil).Once()
	s.awaitChild(rollbackOp, doneOp(rollbackOp))
	s.env.RegisterDelayedCallback(func() { s.env.SignalWorkflow(CancelSignal, nil) }, time.Minute)
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, lifecycleInput(QualityGate{}))

	var res LifecycleResult
	s.cancelledWith(&res)
	s.Equal([]string{oldModel}, res.Undeployed)
}

// TestCancelDuringRollbackOfAFailureStillFails: a cancel that comes while a failed deploy step
// is rolled back neither stops the rollback nor hides the failure.
func (s *lifecycleSuite) TestCancelDuringRollbackOfAFailureStillFails() {
	s.atDeployedQuota()
	s.awaitChild(deployOp, &insights.Operation{Name: deployOp, Done: true, Error: &insights.Status{Code: 13, Message: "internal"}})
	s.env.OnActivity(acts.UndeployIssueModel, mock.Anything, testModel).Return(activities.StartedOperation{AlreadyDone: true}, nil).Once()
	s.env.OnActivity(acts.DeployIssueModel, mock.Anything, oldModel).Return(activities.StartedOperation{Operation: redeployOp}, nil).Once()
	s.awaitChild(redeployOp, doneOp(redeployOp)).After(time.Hour)
	s.env.RegisterDelayedCallback(func() { s.env.SignalWorkflow(CancelSignal, nil) }, 30*time.Minute)
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, lifecycleInput(QualityGate{}))
	s.requireOperationFailed()
	s.Contains(s.env.GetWorkflowError().Error(), oldModel+" redeployed")
}
