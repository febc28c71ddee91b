package workflows

import (
	"context"
	"time"

	"cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/issuemodels/durable-lro/activities"
	"github.com/issuemodels/durable-lro/insights"
)

// The lifecycle suite's helpers: inputs, operations, the mocks of its steps, and what the
// status query shows.

func lifecycleInput(gate QualityGate) LifecycleInput {
	return LifecycleInput{
		Parent:      testParent,
		IssueModel:  insights.IssueModelSpec{DisplayName: "weekly"},
		QualityGate: gate,
	}
}

func ptr[T any](v T) *T { return &v }

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

// opWith is a done operation with the given metadata and response messages.
func opWith(name string, md, resp proto.Message) *insights.Operation {
	op := &insights.Operation{Name: name, Done: true}
	if md != nil {
		a, _ := anypb.New(md)
		op.Metadata = insights.MarshalREST(a)
	}
	a, _ := anypb.New(resp)
	op.Response = insights.MarshalREST(a)
	return op
}

func failedStepOp(name string) *insights.Operation {
	return &insights.Operation{Name: name, Done: true, Error: &insights.Status{Code: 9, Message: "bucket gone"}}
}

func cancelledStepOp(name string) *insights.Operation {
	return &insights.Operation{Name: name, Done: true, Error: &insights.Status{Code: insights.CodeCancelled, Message: "cancelled"}}
}

// internalErrorOp is an operation that failed INTERNAL.
func internalErrorOp(name string) *insights.Operation {
	return &insights.Operation{Name: name, Done: true, Error: &insights.Status{Code: 13, Message: "internal"}}
}

// deployedModels is oldModel ("weekly", the model a run replaces) and other deployed models,
// count in all.
func deployedModels(count int) []activities.IssueModelSummary {
	ms := []activities.IssueModelSummary{{Name: oldModel, DisplayName: "weekly", State: "DEPLOYED"}}
	for i := 1; i < count; i++ {
		ms = append(ms, activities.IssueModelSummary{Name: testParent + "/issueModels/other" + string(rune('a'+i)), DisplayName: "other", State: "DEPLOYED"})
	}
	return ms
}

func (s *lifecycleSuite) models(ms ...activities.IssueModelSummary) {
	s.env.OnActivity(acts.ListIssueModels, mock.Anything, testParent).Return(ms, nil)
}

// trains mocks the create child: it trains testModel with the given statistics.
func (s *lifecycleSuite) trains(analyzed, issues int64) {
	s.env.OnWorkflow(CreateIssueModelWorkflowType, mock.Anything, mock.Anything).Return(ptr(trainedResult(analyzed, issues)), nil).Once()
}

// starts mocks a start activity (deploy, undeploy, delete, a pipeline step) called with params
// (a value or a mock matcher): it answers op, once.
func (s *lifecycleSuite) starts(activity, params any, op string) {
	s.env.OnActivity(activity, mock.Anything, params).Return(activities.StartedOperation{Operation: op}, nil).Once()
}

// changes mocks a model change that starts op and ends done.
func (s *lifecycleSuite) changes(activity any, model, op string) *testsuite.MockCallWrapper {
	s.starts(activity, model, op)
	return s.awaitChild(op, doneOp(op))
}

// startsInOrder is starts that appends label to order when called.
func (s *lifecycleSuite) startsInOrder(activity any, model, op, label string, order *[]string) {
	s.env.OnActivity(activity, mock.Anything, model).Return(func(_ context.Context, _ string) (activities.StartedOperation, error) {
		*order = append(*order, label)
		return activities.StartedOperation{Operation: op}, nil
	}).Once()
}

// nothingToDo mocks a model change that finds the model already where it leads.
func (s *lifecycleSuite) nothingToDo(activity any, model string) {
	s.env.OnActivity(activity, mock.Anything, model).Return(activities.StartedOperation{AlreadyDone: true}, nil).Once()
}

func (s *lifecycleSuite) awaitChild(op string, result *insights.Operation) *testsuite.MockCallWrapper {
	return s.env.OnWorkflow(AwaitOperationWorkflowType, mock.Anything, mock.MatchedBy(func(in AwaitOperationInput) bool {
		return in.Operation == op
	})).Return(result, nil).Once()
}

func (s *lifecycleSuite) cancelAfterAMinute() {
	s.env.RegisterDelayedCallback(func() { s.env.SignalWorkflow(CancelSignal, CancelRequest{Reason: "stop"}) }, time.Minute)
}

func (s *lifecycleSuite) status() LifecycleStatus {
	v, err := s.env.QueryWorkflow(StatusQuery)
	s.Require().NoError(err)
	var st LifecycleStatus
	s.Require().NoError(v.Get(&st))
	return st
}

func (s *lifecycleSuite) stepNames() (names, states []string) {
	for _, st := range s.status().Steps {
		names, states = append(names, st.Name), append(states, st.State)
	}
	return names, states
}

// result is the run's result; it must have succeeded.
func (s *lifecycleSuite) result() LifecycleResult {
	var res LifecycleResult
	s.succeededWith(&res)
	return res
}

func (s *lifecycleSuite) requireOperationFailed() {
	s.True(insights.IsErrorType(s.env.GetWorkflowError(), insights.ErrOperationFailed), "%v", s.env.GetWorkflowError())
}

// requireFailedAt checks that the workflow failed on the operation of step, its last step, and
// returns the steps' states.
func (s *lifecycleSuite) requireFailedAt(step string) []string {
	s.requireOperationFailed()
	names, states := s.stepNames()
	s.Equal(step, names[len(names)-1])
	s.Equal(StepStateFailed, states[len(states)-1])
	return states
}

// requireCancelled checks that the run ended cancelled and returns its result.
func (s *lifecycleSuite) requireCancelled() LifecycleResult {
	var res LifecycleResult
	s.cancelledWith(&res)
	s.Equal(LifecycleCancelled, res.Outcome)
	return res
}
