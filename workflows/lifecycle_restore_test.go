package workflows

import (
	"context"
	"encoding/json"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/issuemodels/durable-lro/activities"
	"github.com/issuemodels/durable-lro/insights"
)

// quotaRefusedFor: every DeployIssueModel is refused RESOURCE_EXHAUSTED until lift (mocked time
// from now); after it, the one of oldModel starts redeployOp, which completes. The new model's
// deploy is refused throughout. It returns the times the redeploy was tried.
func (s *lifecycleSuite) quotaRefusedFor(lift time.Duration) *[]time.Time {
	start := s.env.Now()
	var tries []time.Time
	quota := temporal.NewApplicationError("quota: 5 deployed models", insights.ErrResourceExhausted)
	s.env.OnActivity(acts.DeployIssueModel, mock.Anything, mock.Anything).Return(func(_ context.Context, model string) (activities.StartedOperation, error) {
		if model == oldModel {
			tries = append(tries, s.env.Now())
		}
		if model != oldModel || s.env.Now().Sub(start) < lift {
			return activities.StartedOperation{}, quota
		}
		return activities.StartedOperation{Operation: redeployOp}, nil
	})
	s.env.OnWorkflow(AwaitOperationWorkflowType, mock.Anything, mock.MatchedBy(func(in AwaitOperationInput) bool {
		return in.Operation == redeployOp
	})).Return(doneOp(redeployOp), nil).Maybe()
	return &tries
}

// atQuotaWithSlotTaken: the location holds MaxDeployedPerLocation deployed models; undeploy-first
// frees a slot for the new model, which another deploy elsewhere then takes.
func (s *lifecycleSuite) atQuotaWithSlotTaken(lift time.Duration) *[]time.Time {
	s.models(deployedModels(MaxDeployedPerLocation)...)
	s.trains(900, 12)
	s.changes(acts.UndeployIssueModel, oldModel, retireOp)
	s.env.OnActivity(acts.UndeployIssueModel, mock.Anything, testModel).Return(activities.StartedOperation{AlreadyDone: true}, nil).Maybe()
	return s.quotaRefusedFor(lift)
}

// TestQuotaRefusalAfterUndeployFirstNeverLeavesTheLocationShort: undeploy-first freed a slot,
// another deploy took it, so the new model's deploy and the rollback's redeploy-previous are
// both refused for quota for hours. The rollback must keep trying the redeploy, the status
// saying it waits and why, until the quota lets it through: the run must not end with oldModel
// undeployed (the location a deployed model short for good).
func (s *lifecycleSuite) TestQuotaRefusalAfterUndeployFirstNeverLeavesTheLocationShort() {
	const lift = 5 * time.Hour
	tries := s.atQuotaWithSlotTaken(lift)
	var waiting LifecycleStatus
	s.env.RegisterDelayedCallback(func() { waiting = s.status() }, 3*time.Hour)
	start := s.env.Now()
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, lifecycleInput(QualityGate{}))

	s.Require().True(s.env.IsWorkflowCompleted())
	err := s.env.GetWorkflowError()
	s.Require().Error(err)
	s.True(insights.IsErrorType(err, insights.ErrResourceExhausted), "the run fails with the deploy's error: %v", err)
	s.NotContains(err.Error(), "could not redeploy "+oldModel, "the run ended with the location a deployed model short: %v", err)
	s.Contains(err.Error(), oldModel+" redeployed")
	s.GreaterOrEqual(s.env.Now().Sub(start), lift, "the redeploy went through once the quota lifted")
	s.Less(len(*tries), 200, "tries back off")

	step := waiting.Steps[len(waiting.Steps)-1]
	s.Equal(StepDeploy, step.Name)
	s.Equal(StepStateRunning, step.State)
	s.Contains(step.Detail, "waiting to restore: redeploy-previous of "+oldModel)
	s.Contains(waiting.LastError, "quota: 5 deployed models")
	s.False(waiting.Done)

	st := s.status()
	s.Contains(st.LastError, oldModel+" redeployed")
}

// TestCancelAfterUndeployFirstRedeploysOnceTheQuotaLifts: a cancel during undeploy-first puts
// the model back; a redeploy refused for hours is tried until it goes through.
func (s *lifecycleSuite) TestCancelAfterUndeployFirstRedeploysOnceTheQuotaLifts() {
	s.models(deployedModels(MaxDeployedPerLocation)...)
	s.trains(900, 12)
	s.changes(acts.UndeployIssueModel, oldModel, retireOp).After(time.Hour)
	s.quotaRefusedFor(4 * time.Hour)
	s.cancelAfterAMinute()
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, lifecycleInput(QualityGate{}))

	s.Empty(s.requireCancelled().Undeployed, "the previous model is deployed again")
}

// TestRestoreStopsAtANonRetryableError: a redeploy refused for good (the model is gone) is not
// tried again; the run says what it could not put back.
func (s *lifecycleSuite) TestRestoreStopsAtANonRetryableError() {
	s.models(deployedModels(MaxDeployedPerLocation)...)
	s.trains(900, 12)
	s.changes(acts.UndeployIssueModel, oldModel, retireOp)
	s.env.OnActivity(acts.UndeployIssueModel, mock.Anything, testModel).Return(activities.StartedOperation{AlreadyDone: true}, nil).Maybe()
	quota := temporal.NewApplicationError("quota", insights.ErrResourceExhausted)
	s.env.OnActivity(acts.DeployIssueModel, mock.Anything, testModel).Return(activities.StartedOperation{}, quota)
	gone := temporal.NewNonRetryableApplicationError("model gone", "NotFound", nil)
	s.env.OnActivity(acts.DeployIssueModel, mock.Anything, oldModel).Return(activities.StartedOperation{}, gone).Once()
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, lifecycleInput(QualityGate{}))

	err := s.env.GetWorkflowError()
	s.Require().Error(err)
	s.Contains(err.Error(), "could not redeploy "+oldModel)
	s.Contains(err.Error(), "model gone")
}

// TestRedeployIsNotWaitedForWhileTheNewModelHoldsTheSlot: the new model could not be undeployed
// (refused for good, and not mid-change), so it holds the slot the previous model needs: the location is not short,
// and waiting for the quota would wait for ever. The redeploy is tried once, as a step.
func (s *lifecycleSuite) TestRedeployIsNotWaitedForWhileTheNewModelHoldsTheSlot() {
	s.models(deployedModels(MaxDeployedPerLocation)...)
	s.trains(900, 12)
	s.changes(acts.UndeployIssueModel, oldModel, retireOp)
	s.env.OnActivity(acts.DeployIssueModel, mock.Anything, testModel).Return(activities.StartedOperation{Operation: deployOp}, nil).Once()
	s.awaitChild(deployOp, internalErrorOp(deployOp))
	refused := temporal.NewNonRetryableApplicationError("model is busy", "FailedPrecondition", nil)
	s.env.OnActivity(acts.UndeployIssueModel, mock.Anything, testModel).Return(activities.StartedOperation{}, refused).Twice()
	s.env.OnActivity(acts.GetIssueModel, mock.Anything, testModel).Return(json.RawMessage(`{"state":"DEPLOYED"}`), nil).Twice()
	tries := s.quotaRefusedFor(100 * time.Hour)
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, lifecycleInput(QualityGate{}))

	err := s.env.GetWorkflowError()
	s.Require().Error(err)
	s.Contains(err.Error(), "could not undeploy "+testModel)
	s.Contains(err.Error(), "could not redeploy "+oldModel)
	s.Len(*tries, defaultTestAttempts, "one start activity, retried by Temporal only")
}

// TestRestoreOfEarlierReleasesGivesUp: a run that recorded no restore-until-done marker keeps
// its commands: the refused redeploy fails once its start activity gives up.
func (s *lifecycleSuite) TestRestoreOfEarlierReleasesGivesUp() {
	s.env.OnGetVersion(restoreUntilDoneChange, workflow.DefaultVersion, restoreUntilDoneVersion).Return(workflow.DefaultVersion)
	tries := s.atQuotaWithSlotTaken(100 * time.Hour)
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, lifecycleInput(QualityGate{}))

	err := s.env.GetWorkflowError()
	s.Require().Error(err)
	s.Contains(err.Error(), "could not redeploy "+oldModel)
	s.Len(*tries, defaultTestAttempts, "one start activity, retried by Temporal only")
}

// defaultTestAttempts is the testsuite's cap on the attempts of an activity whose retry policy
// sets no maximum (the server sets none: it retries until the schedule-to-close bound).
const defaultTestAttempts = 10

// TestRollbackWaitsOutADeployItDoesNotTrack (the deploy's start committed, its reply was lost,
// then refusals outlasted startBound: the step failed without the operation, which runs on
// untracked). The rollback's undeploy is refused FAILED_PRECONDITION while the new model is
// DEPLOYING: it waits for the model to leave DEPLOYING, then undeploys it, so the deployment the
// run lost track of cannot outlive the run, and redeploys the previous model.
func (s *lifecycleSuite) TestRollbackWaitsOutADeployItDoesNotTrack() {
	busy := s.deployLostTrackOf()
	s.env.OnActivity(acts.UndeployIssueModel, mock.Anything, testModel).Return(activities.StartedOperation{}, busy).Twice()
	reads := 0
	s.env.OnActivity(acts.GetIssueModel, mock.Anything, testModel).Return(func(context.Context, string) (json.RawMessage, error) {
		reads++
		return json.RawMessage(`{"name":"` + testModel + `","state":"DEPLOYING"}`), nil
	})
	s.changes(acts.UndeployIssueModel, testModel, rollbackOp)
	s.changes(acts.DeployIssueModel, oldModel, redeployOp)
	var waiting LifecycleStatus
	s.env.RegisterDelayedCallback(func() { waiting = s.status() }, 7*time.Minute) // during the second wait
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, lifecycleInput(QualityGate{}))

	err := s.env.GetWorkflowError()
	s.Require().Error(err)
	s.True(insights.IsErrorType(err, insights.ErrResourceExhausted), "%v", err)
	s.Contains(err.Error(), testModel+" is UNDEPLOYED, "+oldModel+" redeployed")
	s.NotContains(err.Error(), "not rolled back")
	s.Equal(2, reads, "the model is read after each refusal")
	s.Contains(waiting.Steps[len(waiting.Steps)-1].Detail, "waiting to restore: rollback-deploy of "+testModel)
	s.Contains(waiting.LastError, "DEPLOYING")
}

// TestRestoreRefusedForAModelNotMidChangeStops: FAILED_PRECONDITION for a model that is not
// mid-change may come from a change that ended before the read, so the restore is tried once
// more; refused the same way again, it will not lift: the restore stops.
func (s *lifecycleSuite) TestRestoreRefusedForAModelNotMidChangeStops() {
	s.atDeployedQuota()
	s.awaitChild(deployOp, internalErrorOp(deployOp))
	s.nothingToDo(acts.UndeployIssueModel, testModel)
	refused := temporal.NewNonRetryableApplicationError("Cannot deploy issue model in state TRAINING", "FailedPrecondition", nil)
	s.env.OnActivity(acts.DeployIssueModel, mock.Anything, oldModel).Return(activities.StartedOperation{}, refused).Twice()
	s.env.OnActivity(acts.GetIssueModel, mock.Anything, oldModel).Return(json.RawMessage(`{"state":"TRAINING"}`), nil).Twice()
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, lifecycleInput(QualityGate{}))

	s.requireOperationFailed()
	s.Contains(s.env.GetWorkflowError().Error(), "could not redeploy "+oldModel)
}
