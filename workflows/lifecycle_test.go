package workflows

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/suite"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"google.golang.org/protobuf/types/known/anypb"

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

func lifecycleInput(gate QualityGate) LifecycleInput {
	return LifecycleInput{
		Parent:      testParent,
		IssueModel:  insights.IssueModelSpec{DisplayName: "weekly"},
		QualityGate: gate,
	}
}

func trainedResult(analyzed, issues int64) CreateIssueModelResult {
	m := &contactcenterinsightspb.IssueModel{
		Name: testModel, DisplayName: "weekly", State: contactcenterinsightspb.IssueModel_UNDEPLOYED, IssueCount: issues,
		TrainingStats: &contactcenterinsightspb.IssueModelLabelStats{AnalyzedConversationsCount: analyzed},
	}
	return CreateIssueModelResult{Operation: testOp, Outcome: OutcomeSucceeded, IssueModel: insights.MarshalREST(m)}
}

func doneOp(name string) *insights.Operation {
	resp, _ := anypb.New(&contactcenterinsightspb.DeployIssueModelResponse{})
	return &insights.Operation{Name: name, Done: true, Response: insights.MarshalREST(resp)}
}

func (s *lifecycleSuite) models(ms ...activities.IssueModelSummary) {
	s.env.OnActivity(acts.ListIssueModels, mock.Anything, testParent).Return(ms, nil)
}

func (s *lifecycleSuite) awaitChild(op string, result *insights.Operation) *testsuite.MockCallWrapper {
	return s.env.OnWorkflow(AwaitOperationWorkflowType, mock.Anything, mock.MatchedBy(func(in AwaitOperationInput) bool {
		return in.Operation == op
	})).Return(result, nil).Once()
}

func (s *lifecycleSuite) TestDeploysAndRetiresThePreviousModel() {
	s.models(activities.IssueModelSummary{Name: oldModel, DisplayName: "weekly", State: "DEPLOYED"})
	s.env.OnWorkflow(CreateIssueModelWorkflowType, mock.Anything, mock.Anything).Return(ptr(trainedResult(900, 12)), nil).Once()
	s.env.OnActivity(acts.DeployIssueModel, mock.Anything, testModel).Return(activities.StartedOperation{Operation: deployOp}, nil).Once()
	s.awaitChild(deployOp, doneOp(deployOp))
	s.env.OnActivity(acts.UndeployIssueModel, mock.Anything, oldModel).Return(activities.StartedOperation{Operation: retireOp}, nil).Once()
	s.awaitChild(retireOp, doneOp(retireOp))
	s.env.OnActivity(acts.DeleteIssueModel, mock.Anything, oldModel).Return(activities.StartedOperation{Operation: deleteOp1}, nil).Once()
	s.awaitChild(deleteOp1, doneOp(deleteOp1))

	in := lifecycleInput(QualityGate{MinAnalyzedConversations: 500, MinIssueCount: 5})
	in.DeleteReplaced = true
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, in)

	s.Require().NoError(s.env.GetWorkflowError())
	var res LifecycleResult
	s.Require().NoError(s.env.GetWorkflowResult(&res))
	s.Equal(LifecycleDeployed, res.Outcome)
	s.Equal(testModel, res.Model)
	s.Equal("DEPLOYED", res.State)
	s.Equal([]string{oldModel}, res.Undeployed)
	s.Equal([]string{oldModel}, res.Deleted)

	v, err := s.env.QueryWorkflow(StatusQuery)
	s.Require().NoError(err)
	var st LifecycleStatus
	s.Require().NoError(v.Get(&st))
	s.Equal(StepDone, st.Step)
	var names []string
	for _, step := range st.Steps {
		names = append(names, step.Name)
		s.Equal("done", step.State, step.Name)
	}
	s.Equal([]string{StepCheckQuotas, StepCreate, StepQualityGate, StepDeploy, StepRetire}, names)
}

func (s *lifecycleSuite) TestQualityGateRejectsAndKeepsModel() {
	s.models()
	s.env.OnWorkflow(CreateIssueModelWorkflowType, mock.Anything, mock.Anything).Return(ptr(trainedResult(100, 2)), nil).Once()
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, lifecycleInput(QualityGate{MinAnalyzedConversations: 500, MinIssueCount: 5}))

	var appErr *temporal.ApplicationError
	s.Require().True(errors.As(s.env.GetWorkflowError(), &appErr), "%v", s.env.GetWorkflowError())
	s.Equal(insights.ErrQualityGate, appErr.Type())
	s.Contains(appErr.Error(), "analyzed conversations 100 < 500")
	s.Contains(appErr.Error(), "issue count 2 < 5")
	s.Contains(appErr.Error(), "kept, undeployed")
}

func (s *lifecycleSuite) TestQualityGateRejectsAndDeletesWhenAsked() {
	s.models()
	s.env.OnWorkflow(CreateIssueModelWorkflowType, mock.Anything, mock.Anything).Return(ptr(trainedResult(100, 2)), nil).Once()
	s.env.OnActivity(acts.DeleteIssueModel, mock.Anything, testModel).Return(activities.StartedOperation{Operation: deleteOp1}, nil).Once()
	s.awaitChild(deleteOp1, doneOp(deleteOp1))
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
	var ms []activities.IssueModelSummary
	for i := range MaxDeployedPerLocation {
		name := oldModel
		display := "weekly"
		if i > 0 {
			name, display = testParent+"/issueModels/other"+string(rune('a'+i)), "other"
		}
		ms = append(ms, activities.IssueModelSummary{Name: name, DisplayName: display, State: "DEPLOYED"})
	}
	s.models(ms...)
	s.env.OnWorkflow(CreateIssueModelWorkflowType, mock.Anything, mock.Anything).Return(ptr(trainedResult(900, 12)), nil).Once()
	var order []string
	s.env.OnActivity(acts.UndeployIssueModel, mock.Anything, oldModel).Return(func(_ context.Context, _ string) (activities.StartedOperation, error) {
		order = append(order, "undeploy-old")
		return activities.StartedOperation{Operation: retireOp}, nil
	}).Once()
	s.awaitChild(retireOp, doneOp(retireOp))
	s.env.OnActivity(acts.DeployIssueModel, mock.Anything, testModel).Return(func(_ context.Context, _ string) (activities.StartedOperation, error) {
		order = append(order, "deploy-new")
		return activities.StartedOperation{Operation: deployOp}, nil
	}).Once()
	s.awaitChild(deployOp, doneOp(deployOp))
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, lifecycleInput(QualityGate{}))
	s.Require().NoError(s.env.GetWorkflowError())
	s.Equal([]string{"undeploy-old", "deploy-new"}, order)
	var res LifecycleResult
	s.Require().NoError(s.env.GetWorkflowResult(&res))
	s.Equal([]string{oldModel}, res.Undeployed)
}

func (s *lifecycleSuite) TestCancelDuringCreate() {
	s.models(activities.IssueModelSummary{Name: oldModel, DisplayName: "weekly", State: "DEPLOYED"})
	s.env.OnWorkflow(CreateIssueModelWorkflowType, mock.Anything, mock.Anything).After(time.Hour).
		Return(nil, temporal.NewCanceledError(CreateIssueModelResult{Outcome: OutcomeCancelled})).Once()
	s.env.RegisterDelayedCallback(func() { s.env.SignalWorkflow(CancelSignal, CancelRequest{Reason: "stop"}) }, time.Minute)
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, lifecycleInput(QualityGate{}))

	var res LifecycleResult
	s.cancelledWith(&res)
	s.Equal(LifecycleCancelled, res.Outcome)
	s.Empty(res.Undeployed, "the previous deployment is untouched")
}

func (s *lifecycleSuite) TestCancelDuringDeployRollsBack() {
	s.models(activities.IssueModelSummary{Name: oldModel, DisplayName: "weekly", State: "DEPLOYED"})
	s.env.OnWorkflow(CreateIssueModelWorkflowType, mock.Anything, mock.Anything).Return(ptr(trainedResult(900, 12)), nil).Once()
	s.env.OnActivity(acts.DeployIssueModel, mock.Anything, testModel).Return(activities.StartedOperation{Operation: deployOp}, nil).Once()
	// The deployment completes although cancelled ("best effort"): the lifecycle undeploys it.
	s.awaitChild(deployOp, doneOp(deployOp)).After(time.Hour)
	s.env.OnActivity(acts.UndeployIssueModel, mock.Anything, testModel).Return(activities.StartedOperation{Operation: retireOp}, nil).Once()
	s.awaitChild(retireOp, doneOp(retireOp))
	s.env.RegisterDelayedCallback(func() { s.env.SignalWorkflow(CancelSignal, nil) }, time.Minute)
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, lifecycleInput(QualityGate{}))

	var res LifecycleResult
	s.cancelledWith(&res)
	s.Equal(testModel, res.Model)
	s.Equal("UNDEPLOYED", res.State)
	s.Empty(res.Undeployed, "the previous model stays deployed")
}

func (s *lifecycleSuite) TestDeployFailure() {
	s.models()
	s.env.OnWorkflow(CreateIssueModelWorkflowType, mock.Anything, mock.Anything).Return(ptr(trainedResult(900, 12)), nil).Once()
	s.env.OnActivity(acts.DeployIssueModel, mock.Anything, testModel).Return(activities.StartedOperation{Operation: deployOp}, nil).Once()
	s.awaitChild(deployOp, &insights.Operation{Name: deployOp, Done: true, Error: &insights.Status{Code: 13, Message: "internal"}})
	// The rollback makes sure the new model is not deployed: it is not, nothing to do.
	s.env.OnActivity(acts.UndeployIssueModel, mock.Anything, testModel).Return(activities.StartedOperation{AlreadyDone: true}, nil).Once()
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

func ptr[T any](v T) *T { return &v }

func (s *lifecycleSuite) TestTemporalCancelDuringCreate() {
	s.models()
	s.env.OnWorkflow(CreateIssueModelWorkflowType, mock.Anything, mock.Anything).After(time.Hour).
		Return(nil, temporal.NewCanceledError(CreateIssueModelResult{Outcome: OutcomeCancelled})).Once()
	s.env.RegisterDelayedCallback(s.env.CancelWorkflow, time.Minute)
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, lifecycleInput(QualityGate{}))
	var canceled *temporal.CanceledError
	s.Require().True(errors.As(s.env.GetWorkflowError(), &canceled), "%v", s.env.GetWorkflowError())
	v, err := s.env.QueryWorkflow(StatusQuery)
	s.Require().NoError(err)
	var st LifecycleStatus
	s.Require().NoError(v.Get(&st))
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
	s.env.OnActivity(acts.DeleteIssueModel, mock.Anything, oldest).Return(activities.StartedOperation{Operation: deleteOp1}, nil).Once()
	s.awaitChild(deleteOp1, doneOp(deleteOp1))
	s.env.OnWorkflow(CreateIssueModelWorkflowType, mock.Anything, mock.Anything).Return(ptr(trainedResult(900, 12)), nil).Once()
	s.env.OnActivity(acts.DeployIssueModel, mock.Anything, testModel).Return(activities.StartedOperation{AlreadyDone: true}, nil).Once()
	in := lifecycleInput(QualityGate{})
	in.DeleteReplaced = true
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, in)
	s.Require().NoError(s.env.GetWorkflowError())
	var res LifecycleResult
	s.Require().NoError(s.env.GetWorkflowResult(&res))
	s.Equal([]string{oldest}, res.Deleted)
}
