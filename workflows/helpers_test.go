package workflows

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"github.com/stretchr/testify/suite"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/issuemodels/durable-lro/activities"
	"github.com/issuemodels/durable-lro/insights"
)

const (
	testParent = "projects/acme/locations/us-central1"
	testOp     = testParent + "/operations/123"
	testModel  = testParent + "/issueModels/456"
)

// workflowSuite runs a workflow test on Temporal's test suite, with every workflow and the
// activities registered; the tests mock the activities they expect.
type workflowSuite struct {
	suite.Suite
	testsuite.WorkflowTestSuite
	env *testsuite.TestWorkflowEnvironment
}

func (s *workflowSuite) SetupTest() {
	s.env = s.NewTestWorkflowEnvironment()
	s.env.RegisterActivity(acts)
	RegisterWorkflows(s.env)
}

func (s *workflowSuite) AfterTest(_, _ string) { s.env.AssertExpectations(s.T()) }

type createSuite struct{ workflowSuite }

// input decodes JSON the way the Temporal CLI's --input reaches the workflow.
func input(t testing.TB, js string) CreateIssueModelInput {
	t.Helper()
	p, err := converter.GetDefaultDataConverter().ToPayload(json.RawMessage(js))
	require.NoError(t, err)
	var in CreateIssueModelInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayload(p, &in))
	return in
}

const quietPolicy = `"polling":{"initialInterval":"30s","multiplier":2,"maxInterval":"2m","jitter":0}`

// laggingListPolicy polls every 30 s and gives the operation list a minute to show a new
// operation (notFoundGrace), the lag the look-up tests play against.
const laggingListPolicy = `"polling":{"initialInterval":"30s","notFoundGrace":"1m","jitter":0}`

func sampleInput(t testing.TB, extra string) CreateIssueModelInput {
	return input(t, `{"parent":"`+testParent+`","issueModel":{"displayName":"weekly","inputDataConfig":{"medium":"CHAT","filter":"medium=\"CHAT\""}},`+extra+`}`)
}

func runningOp() insights.Operation {
	md, _ := anypb.New(&contactcenterinsightspb.CreateIssueModelMetadata{CreateTime: timestamppb.New(time.Unix(1700000000, 0))})
	return insights.Operation{Name: testOp, Metadata: insights.MarshalREST(md)}
}

func succeededOp() insights.Operation {
	op := runningOp()
	op.Done = true
	resp, _ := anypb.New(&contactcenterinsightspb.IssueModel{
		Name: testModel, DisplayName: "weekly", State: contactcenterinsightspb.IssueModel_UNDEPLOYED, IssueCount: 7,
	})
	op.Response = insights.MarshalREST(resp)
	return op
}

func failedOp(code int32, msg string) insights.Operation {
	op := runningOp()
	op.Done = true
	op.Error = &insights.Status{Code: code, Message: msg}
	return op
}

// cancelledWith asserts the run ended cancelled and decodes the result carried as details.
func (s *workflowSuite) cancelledWith(res any) {
	var canceled *temporal.CanceledError
	s.Require().True(errors.As(s.env.GetWorkflowError(), &canceled), "%v", s.env.GetWorkflowError())
	s.Require().NoError(canceled.Details(res))
}

// cancelledResult asserts the run ended cancelled and returns the result carried as details.
func (s *createSuite) cancelledResult() CreateIssueModelResult {
	var res CreateIssueModelResult
	s.cancelledWith(&res)
	return res
}

func (s *createSuite) expectCreate() {
	s.env.OnActivity(acts.CreateIssueModel, mock.Anything, mock.Anything).
		Return(activities.StartedOperation{Operation: testOp}, nil).Once()
}

// pollSequence answers GetOperation with ops in order (the last one repeats) and records when
// each poll happened on the test clock.
func (s *createSuite) pollSequence(ops ...insights.Operation) *[]time.Time {
	return pollAnswers(s.env, ops...)
}

// asPoll turns a GetOperation answer into the PollOperation answer the poll loop receives (a
// worker without a poll budget: no pace).
func asPoll(f func(context.Context, string) (insights.Operation, error)) func(context.Context, string) (activities.PollResult, error) {
	return func(ctx context.Context, name string) (activities.PollResult, error) {
		op, err := f(ctx, name)
		return activities.PollResult{Operation: op}, err
	}
}

// createdEnv is a test environment whose CreateIssueModel answers testOp once.
func createdEnv() *testsuite.TestWorkflowEnvironment {
	env := newEnv()
	env.OnActivity(acts.CreateIssueModel, mock.Anything, mock.Anything).Return(activities.StartedOperation{Operation: testOp}, nil).Once()
	return env
}

// gapsFrom lists the gaps between start and the times at.
func gapsFrom(start time.Time, at []time.Time) []string {
	var gaps []string
	prev := start
	for _, a := range at {
		gaps = append(gaps, a.Sub(prev).String())
		prev = a
	}
	return gaps
}

// pollAnswers answers PollOperation with ops in order (the last one repeats) and records when
// each poll happened on the test clock.
func pollAnswers(env *testsuite.TestWorkflowEnvironment, ops ...insights.Operation) *[]time.Time {
	var at []time.Time
	env.OnActivity(acts.PollOperation, mock.Anything, testOp).Return(func(context.Context, string) (activities.PollResult, error) {
		at = append(at, env.Now())
		return activities.PollResult{Operation: ops[min(len(at), len(ops))-1]}, nil
	})
	return &at
}

// cancelIgnored runs a creation whose training goes on to succeed (at the third poll) although
// the server accepts its cancel.
func (s *createSuite) cancelIgnored() {
	s.expectCreate()
	s.pollSequence(runningOp(), runningOp(), succeededOp())
	s.env.OnActivity(acts.CancelOperation, mock.Anything, testOp).Return(activities.CancelResult{}, nil).Once()
}

const testDeleteOp = testParent + "/operations/789"

// trainingOutlivesCancel is cancelIgnored where the run then deletes the model: the deletion is
// testDeleteOp.
func (s *createSuite) trainingOutlivesCancel() {
	s.cancelIgnored()
	s.env.OnActivity(acts.DeleteIssueModel, mock.Anything, testModel).Return(activities.StartedOperation{Operation: testDeleteOp}, nil).Once()
}

// runsIntoItsTimeout runs a creation with a polling timeout of an hour and returns its failure,
// a PollTimeout.
func (s *createSuite) runsIntoItsTimeout() *temporal.ApplicationError {
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(),
		`"polling":{"initialInterval":"1m","maxInterval":"10m","timeout":"1h","jitter":0}`))
	appErr := s.failedWith(insights.ErrPollTimeout)
	return appErr
}

// timesOutRunning is runsIntoItsTimeout for a training that keeps running, whose cancel the
// server accepts.
func (s *createSuite) timesOutRunning() *temporal.ApplicationError {
	s.expectCreate()
	s.pollSequence(runningOp())
	s.env.OnActivity(acts.CancelOperation, mock.Anything, testOp).Return(activities.CancelResult{}, nil).Once()
	return s.runsIntoItsTimeout()
}

// cancelDeletingTheModel runs a creation whose input asks to delete the model a cancel could
// not stop, with a cancel signal 45s in.
func (s *createSuite) cancelDeletingTheModel() {
	s.env.RegisterDelayedCallback(func() { s.env.SignalWorkflow(CancelSignal, nil) }, 45*time.Second)
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(), quietPolicy+`,"deleteModelIfCancelFails":true`))
}

// deletedAfterCancel asserts the run completed with outcome DELETED_AFTER_CANCEL.
func (s *createSuite) deletedAfterCancel() CreateIssueModelResult {
	res := s.succeeded()
	s.Equal(OutcomeDeletedAfterCancel, res.Outcome)
	return res
}

// succeededWith asserts the run completed without error and decodes its result into res.
func (s *workflowSuite) succeededWith(res any) {
	s.Require().NoError(s.env.GetWorkflowError())
	s.Require().NoError(s.env.GetWorkflowResult(res))
}

// succeeded asserts the run completed without error and returns its result.
func (s *createSuite) succeeded() CreateIssueModelResult {
	var res CreateIssueModelResult
	s.succeededWith(&res)
	return res
}

// cancelSignalledAt runs a creation on policy with a cancel signal at the given time: the server
// takes one cancel of testOp, and the next poll finds the training cancelled. It returns the
// result of the run, which must have ended cancelled.
func (s *createSuite) cancelSignalledAt(at time.Duration, policy string) CreateIssueModelResult {
	s.env.OnActivity(acts.CancelOperation, mock.Anything, testOp).Return(activities.CancelResult{}, nil).Once()
	s.pollSequence(failedOp(insights.CodeCancelled, "cancelled"))
	s.env.RegisterDelayedCallback(func() { s.env.SignalWorkflow(CancelSignal, nil) }, at)
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(), policy))
	return s.cancelledResult()
}

// failedWith asserts the run failed with an ApplicationError of type errType and returns it.
func (s *workflowSuite) failedWith(errType string) *temporal.ApplicationError {
	var appErr *temporal.ApplicationError
	s.Require().True(errors.As(s.env.GetWorkflowError(), &appErr), "%v", s.env.GetWorkflowError())
	s.Equal(errType, appErr.Type())
	return appErr
}

// newEnv is a test environment with the activities registered, for the tests to mock.
func newEnv() *testsuite.TestWorkflowEnvironment {
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestWorkflowEnvironment()
	env.RegisterActivity(acts)
	return env
}

// createSucceeds runs CreateIssueModelWorkflow on env with the quiet policy, requires that it
// succeeded, and returns its result.
func createSucceeds(t *testing.T, env *testsuite.TestWorkflowEnvironment) CreateIssueModelResult {
	t.Helper()
	env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(t, quietPolicy))
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var res CreateIssueModelResult
	require.NoError(t, env.GetWorkflowResult(&res))
	return res
}

// cancelTaken records whether a cancel reached the server, for the activities' mocks (each
// runs on its own goroutine) and the test.
type cancelTaken struct {
	mu    sync.Mutex
	taken bool
}

func (c *cancelTaken) set() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.taken = true
}

func (c *cancelTaken) get() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.taken
}

// pollsEndCancelledOnceTaken answers the polls of testOp: the training ends cancelled once a
// cancel reached the server (cancel); nobody cancelled it, it completes after limit polls;
// until then it runs.
func (s *createSuite) pollsEndCancelledOnceTaken(cancel *cancelTaken, limit int) {
	polls := 0
	s.env.OnActivity(acts.PollOperation, mock.Anything, testOp).Return(asPoll(func(context.Context, string) (insights.Operation, error) {
		polls++
		switch {
		case cancel.get():
			return failedOp(insights.CodeCancelled, "cancelled"), nil
		case polls > limit:
			return succeededOp(), nil
		}
		return runningOp(), nil
	}))
}
