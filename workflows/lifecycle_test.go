package workflows

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/suite"
	"go.temporal.io/sdk/temporal"

	"github.com/issuemodels/durable-lro/activities"
	"github.com/issuemodels/durable-lro/insights"
)

const (
	oldModel  = testParent + "/issueModels/111"
	deployOp  = testParent + "/operations/d1"
	retireOp  = testParent + "/operations/u1"
	deleteOp1 = testParent + "/operations/x1"
)

type lifecycleSuite struct{ workflowSuite }

func TestIssueModelLifecycleWorkflow(t *testing.T) { suite.Run(t, new(lifecycleSuite)) }

func (s *lifecycleSuite) TestDeploysAndRetiresThePreviousModel() {
	s.models(activities.IssueModelSummary{Name: oldModel, DisplayName: "weekly", State: "DEPLOYED"})
	s.trains(900, 12)
	s.changes(acts.DeployIssueModel, testModel, deployOp)
	s.changes(acts.UndeployIssueModel, oldModel, retireOp)
	s.changes(acts.DeleteIssueModel, oldModel, deleteOp1)

	in := lifecycleInput(QualityGate{MinAnalyzedConversations: 500, MinIssueCount: 5})
	in.DeleteReplaced = true
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, in)

	res := s.result()
	s.Equal(LifecycleDeployed, res.Outcome)
	s.Equal(testModel, res.Model)
	s.Equal("DEPLOYED", res.State)
	s.Equal([]string{oldModel}, res.Undeployed)
	s.Equal([]string{oldModel}, res.Deleted)

	s.Equal(StepDone, s.status().Step)
	names, states := s.stepNames()
	for i, state := range states {
		s.Equal("done", state, names[i])
	}
	s.Equal([]string{StepCheckQuotas, StepCreate, StepQualityGate, StepDeploy, StepRetire}, names)
}

func (s *lifecycleSuite) TestQualityGateRejectsAndKeepsModel() {
	s.models()
	s.trains(100, 2)
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, lifecycleInput(QualityGate{MinAnalyzedConversations: 500, MinIssueCount: 5}))

	var appErr *temporal.ApplicationError
	s.Require().ErrorAs(s.env.GetWorkflowError(), &appErr)
	s.Equal(insights.ErrQualityGate, appErr.Type())
	s.Contains(appErr.Error(), "analyzed conversations 100 < 500")
	s.Contains(appErr.Error(), "issue count 2 < 5")
	s.Contains(appErr.Error(), "kept, undeployed")
}

func (s *lifecycleSuite) TestQualityGateRejectsAndDeletesWhenAsked() {
	s.models()
	s.trains(100, 2)
	s.changes(acts.DeleteIssueModel, testModel, deleteOp1)
	in := lifecycleInput(QualityGate{MinIssueCount: 5})
	in.DeleteRejected = true
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, in)
	s.True(insights.IsErrorType(s.env.GetWorkflowError(), insights.ErrQualityGate))
	s.Contains(s.env.GetWorkflowError().Error(), "was deleted")
}

func (s *lifecycleSuite) TestModelQuotaFailsBeforeCreating() {
	var ms []activities.IssueModelSummary
	for range MaxModelsPerLocation {
		ms = append(ms, activities.IssueModelSummary{Name: oldModel, State: "UNDEPLOYED"})
	}
	s.models(ms...)
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, lifecycleInput(QualityGate{}))
	s.True(insights.IsErrorType(s.env.GetWorkflowError(), "ResourceExhausted"), "%v", s.env.GetWorkflowError())
}

func (s *lifecycleSuite) TestDeployedQuotaUndeploysPreviousFirst() {
	s.models(deployedModels(MaxDeployedPerLocation)...)
	s.trains(900, 12)
	var order []string
	s.startsInOrder(acts.UndeployIssueModel, oldModel, retireOp, "undeploy-old", &order)
	s.awaitChild(retireOp, doneOp(retireOp))
	s.startsInOrder(acts.DeployIssueModel, testModel, deployOp, "deploy-new", &order)
	s.awaitChild(deployOp, doneOp(deployOp))
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, lifecycleInput(QualityGate{}))
	res := s.result()
	s.Equal([]string{"undeploy-old", "deploy-new"}, order)
	s.Equal([]string{oldModel}, res.Undeployed)
}

func (s *lifecycleSuite) TestCancelDuringCreate() {
	s.models(activities.IssueModelSummary{Name: oldModel, DisplayName: "weekly", State: "DEPLOYED"})
	s.env.OnWorkflow(CreateIssueModelWorkflowType, mock.Anything, mock.Anything).After(time.Hour).
		Return(nil, temporal.NewCanceledError(CreateIssueModelResult{Outcome: OutcomeCancelled})).Once()
	s.cancelAfterAMinute()
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, lifecycleInput(QualityGate{}))

	res := s.requireCancelled()
	s.Empty(res.Undeployed, "the previous deployment is untouched")
}

func (s *lifecycleSuite) TestCancelDuringDeployRollsBack() {
	s.models(activities.IssueModelSummary{Name: oldModel, DisplayName: "weekly", State: "DEPLOYED"})
	s.trains(900, 12)
	// The deployment completes although cancelled ("best effort"): the lifecycle undeploys it.
	s.changes(acts.DeployIssueModel, testModel, deployOp).After(time.Hour)
	s.changes(acts.UndeployIssueModel, testModel, retireOp)
	s.env.RegisterDelayedCallback(func() { s.env.SignalWorkflow(CancelSignal, nil) }, time.Minute)
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, lifecycleInput(QualityGate{}))

	res := s.requireCancelled()
	s.Equal(testModel, res.Model)
	s.Equal("UNDEPLOYED", res.State)
	s.Empty(res.Undeployed, "the previous model stays deployed")
}

func (s *lifecycleSuite) TestDeployFailure() {
	s.models()
	s.trains(900, 12)
	s.starts(acts.DeployIssueModel, testModel, deployOp)
	s.awaitChild(deployOp, internalErrorOp(deployOp))
	// The rollback makes sure the new model is not deployed: it is not, nothing to do.
	s.nothingToDo(acts.UndeployIssueModel, testModel)
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, lifecycleInput(QualityGate{}))
	s.requireOperationFailed()
}

func (s *lifecycleSuite) TestCreateFailurePropagates() {
	s.models()
	s.env.OnWorkflow(CreateIssueModelWorkflowType, mock.Anything, mock.Anything).
		Return(nil, temporal.NewNonRetryableApplicationError("operation failed", insights.ErrOperationFailed, nil)).Once()
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, lifecycleInput(QualityGate{}))
	s.requireOperationFailed()
}

func (s *lifecycleSuite) TestInvalidInput() {
	in := lifecycleInput(QualityGate{MinIssueCount: -1})
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, in)
	s.True(insights.IsErrorType(s.env.GetWorkflowError(), insights.ErrInvalidArgument))
	s.Contains(s.env.GetWorkflowError().Error(), "qualityGate.minIssueCount")
}

func (s *lifecycleSuite) TestTemporalCancelDuringCreate() {
	s.models()
	s.env.OnWorkflow(CreateIssueModelWorkflowType, mock.Anything, mock.Anything).After(time.Hour).
		Return(nil, temporal.NewCanceledError(CreateIssueModelResult{Outcome: OutcomeCancelled})).Once()
	s.env.RegisterDelayedCallback(s.env.CancelWorkflow, time.Minute)
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, lifecycleInput(QualityGate{}))
	s.requireCancelled()
	st := s.status()
	s.True(st.CancelRequested)
	s.Equal(LifecycleCancelled, st.Outcome)
	s.Equal("cancelled", st.Steps[len(st.Steps)-1].State)
}

func (s *lifecycleSuite) TestModelQuotaPrunesOldUndeployedModelsWhenAllowed() {
	var ms []activities.IssueModelSummary
	for i := range MaxModelsPerLocation {
		ms = append(ms, activities.IssueModelSummary{
			Name: fmt.Sprintf("%s/issueModels/m%d", testParent, i), DisplayName: "weekly", State: "UNDEPLOYED",
			CreateTime: fmt.Sprintf("2026-11-%02dT00:00:00Z", 20-i), // m9 is the oldest
		})
	}
	s.models(ms...)
	oldest := testParent + "/issueModels/m9"
	s.changes(acts.DeleteIssueModel, oldest, deleteOp1)
	s.trains(900, 12)
	s.nothingToDo(acts.DeployIssueModel, testModel)
	in := lifecycleInput(QualityGate{})
	in.DeleteReplaced = true
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, in)
	s.Equal([]string{oldest}, s.result().Deleted)
}
