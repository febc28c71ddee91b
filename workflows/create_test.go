package workflows

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"github.com/stretchr/testify/suite"
	sdkpb "go.temporal.io/api/sdk/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

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

func TestCreateIssueModelWorkflow(t *testing.T) { suite.Run(t, new(createSuite)) }

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

func (s *createSuite) TestSucceedsAfterPollsWithBackoffIntervals() {
	s.expectCreate()
	at := s.pollSequence(runningOp(), runningOp(), runningOp(), runningOp(), succeededOp())
	start := s.env.Now()
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(), quietPolicy))

	s.Require().True(s.env.IsWorkflowCompleted())
	s.Require().NoError(s.env.GetWorkflowError())
	var res CreateIssueModelResult
	s.Require().NoError(s.env.GetWorkflowResult(&res))
	s.Equal(OutcomeSucceeded, res.Outcome)
	s.Equal(testOp, res.Operation)
	s.Equal(5, res.Polls)
	s.Contains(string(res.IssueModel), `"state":"UNDEPLOYED"`)
	s.Contains(string(res.IssueModel), `"issueCount":"7"`)
	s.NotNil(res.Metadata.CreateTime)

	var gaps []time.Duration
	prev := start
	for _, t := range *at {
		gaps = append(gaps, t.Sub(prev).Round(time.Second))
		prev = t
	}
	s.Equal([]time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 2 * time.Minute, 2 * time.Minute}, gaps)

	v, err := s.env.QueryWorkflow("__temporal_workflow_metadata")
	s.Require().NoError(err)
	var md sdkpb.WorkflowMetadata
	s.Require().NoError(v.Get(&md))
	s.Equal("**done** `"+testOp+"` · 5 polls · outcome SUCCEEDED", md.GetCurrentDetails())
}

func (s *createSuite) TestAgeFractionStretchesIntervalsPastMaxInterval() {
	s.expectCreate()
	ops := make([]insights.Operation, 6)
	for i := range ops {
		ops[i] = runningOp()
	}
	at := s.pollSequence(append(ops, succeededOp())...)
	start := s.env.Now()
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(),
		`"polling":{"initialInterval":"1m","multiplier":1,"maxInterval":"1m","jitter":0,"ageFraction":0.5}`))
	s.Require().NoError(s.env.GetWorkflowError())
	var gaps []time.Duration
	prev := start
	for _, t := range *at {
		gaps = append(gaps, t.Sub(prev).Round(time.Millisecond))
		prev = t
	}
	// maxInterval until half the age passes it (at 2m), then half the age: 3m -> 4.5m -> ...
	s.Equal([]time.Duration{time.Minute, time.Minute, time.Minute, 90 * time.Second, 135 * time.Second,
		202500 * time.Millisecond, 303750 * time.Millisecond}, gaps)
}

func (s *createSuite) TestJitterSpreadsIntervalsWithinBounds() {
	s.expectCreate()
	ops := make([]insights.Operation, 20)
	for i := range ops {
		ops[i] = runningOp()
	}
	ops = append(ops, succeededOp())
	at := s.pollSequence(ops...)
	start := s.env.Now()
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(),
		`"polling":{"initialInterval":"1m","multiplier":1,"maxInterval":"1m","jitter":0.2}`))
	s.Require().NoError(s.env.GetWorkflowError())
	distinct := map[time.Duration]bool{}
	prev := start
	for _, t := range *at {
		gap := t.Sub(prev)
		prev = t
		s.GreaterOrEqual(gap, 48*time.Second)
		s.LessOrEqual(gap, 72*time.Second)
		distinct[gap.Round(time.Second)] = true
	}
	s.Greater(len(distinct), 5, "jitter should vary the intervals")
}

func (s *createSuite) TestOperationFailureIsTypedWithStatus() {
	s.expectCreate()
	s.pollSequence(runningOp(), failedOp(int32(codes.FailedPrecondition), "too few conversations match the filter"))
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(), quietPolicy))

	err := s.env.GetWorkflowError()
	var appErr *temporal.ApplicationError
	s.Require().True(errors.As(err, &appErr), "%v", err)
	s.Equal(insights.ErrOperationFailed, appErr.Type())
	s.True(appErr.NonRetryable())
	var st insights.Status
	s.Require().NoError(appErr.Details(&st))
	s.Equal(int32(codes.FailedPrecondition), st.Code)
	s.Equal("too few conversations match the filter", st.Message)
}

func (s *createSuite) TestCancelSignalHonored() {
	s.expectCreate()
	s.pollSequence(runningOp(), runningOp(), failedOp(insights.CodeCancelled, "cancelled"))
	s.env.OnActivity(acts.CancelOperation, mock.Anything, testOp).Return(activities.CancelResult{Accepted: true}, nil).Once()
	s.env.RegisterDelayedCallback(func() {
		s.env.SignalWorkflow(CancelSignal, CancelRequest{Reason: "wrong filter"})
	}, 45*time.Second)
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(), quietPolicy))

	res := s.cancelledResult()
	s.Equal(OutcomeCancelled, res.Outcome)
	s.Equal("wrong filter", res.CancelReason)
	s.Equal(testOp, res.Operation)
}

func (s *createSuite) TestCancelUnimplementedReportsModelExists() {
	s.expectCreate()
	s.pollSequence(runningOp(), runningOp(), runningOp(), succeededOp())
	s.env.OnActivity(acts.CancelOperation, mock.Anything, testOp).Return(activities.CancelResult{Unimplemented: true}, nil).Once()
	var statusAfterCancel *PollStatus
	s.env.RegisterDelayedCallback(func() {
		s.env.SignalWorkflow(CancelSignal, nil)
	}, 45*time.Second)
	s.env.RegisterDelayedCallback(func() {
		v, err := s.env.QueryWorkflow(StatusQuery)
		s.Require().NoError(err)
		s.Require().NoError(v.Get(&statusAfterCancel))
	}, 50*time.Second)
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(), quietPolicy))

	s.Require().NoError(s.env.GetWorkflowError())
	var res CreateIssueModelResult
	s.Require().NoError(s.env.GetWorkflowResult(&res))
	s.Equal(OutcomeCompletedDespiteCancel, res.Outcome)
	s.True(res.CancelUnimplemented)
	s.Contains(string(res.IssueModel), testModel)
	s.Require().NotNil(statusAfterCancel)
	s.True(statusAfterCancel.CancelRequested)
	s.Equal(PhaseCancelling, statusAfterCancel.Phase)
	s.True(statusAfterCancel.CancelUnimplemented)
}

const testDeleteOp = testParent + "/operations/789"

// deleteAfterCancel runs a creation whose cancel the server ignores and whose input asks to
// delete the model then; the deletion operation ends as deleted says.
func (s *createSuite) deleteAfterCancel(deleted insights.Operation) {
	s.expectCreate()
	s.pollSequence(runningOp(), runningOp(), succeededOp())
	s.env.OnActivity(acts.CancelOperation, mock.Anything, testOp).Return(activities.CancelResult{Accepted: true}, nil).Once()
	s.env.OnActivity(acts.DeleteIssueModel, mock.Anything, testModel).
		Return(activities.StartedOperation{Operation: testDeleteOp}, nil).Once()
	deleted.Name, deleted.Done = testDeleteOp, true
	s.env.OnActivity(acts.PollOperation, mock.Anything, testDeleteOp).Return(activities.PollResult{Operation: deleted}, nil)
	s.env.RegisterDelayedCallback(func() { s.env.SignalWorkflow(CancelSignal, CancelRequest{Reason: "oops"}) }, 45*time.Second)
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(), quietPolicy+`,"deleteModelIfCancelFails":true`))
}

func (s *createSuite) TestCancelIgnoredDeletesModelWhenAsked() {
	var childIDs []string
	s.env.SetOnChildWorkflowStartedListener(func(info *workflow.Info, _ workflow.Context, _ converter.EncodedValues) {
		childIDs = append(childIDs, info.WorkflowExecution.ID)
	})
	s.deleteAfterCancel(insights.Operation{})

	s.Require().NoError(s.env.GetWorkflowError())
	var res CreateIssueModelResult
	s.Require().NoError(s.env.GetWorkflowResult(&res))
	s.Equal(OutcomeDeletedAfterCancel, res.Outcome)
	s.Equal(testDeleteOp, res.DeleteOperation)
	s.Equal([]string{"default-test-workflow-id-delete"}, childIDs, "the deletion is awaited by a child AwaitOperationWorkflow")
}

func (s *createSuite) TestFailedDeletionAfterCancelFailsTheRun() {
	s.deleteAfterCancel(insights.Operation{Error: &insights.Status{Code: 9, Message: "model is deployed"}})

	err := s.env.GetWorkflowError()
	s.True(insights.IsErrorType(err, insights.ErrOperationFailed), "%v", err)
	s.Contains(err.Error(), testDeleteOp)
}

// TestDeletionAfterCancelOfRelease1IsNotAwaited: a run that started on release 1 (no
// await-deletion-after-cancel marker in its history) keeps release 1's commands: it starts the
// deletion and completes, awaiting nothing. The recorded histories of f634c2d replay this path.
func (s *createSuite) TestDeletionAfterCancelOfRelease1IsNotAwaited() {
	s.env.OnGetVersion(awaitDeletionChange, workflow.DefaultVersion, awaitDeletionVersion).Return(workflow.DefaultVersion)
	s.expectCreate()
	s.pollSequence(runningOp(), runningOp(), succeededOp())
	s.env.OnActivity(acts.CancelOperation, mock.Anything, testOp).Return(activities.CancelResult{Accepted: true}, nil).Once()
	s.env.OnActivity(acts.DeleteIssueModel, mock.Anything, testModel).
		Return(activities.StartedOperation{Operation: testDeleteOp}, nil).Once()
	s.env.SetOnChildWorkflowStartedListener(func(info *workflow.Info, _ workflow.Context, _ converter.EncodedValues) {
		s.Fail("release 1 awaits no deletion", info.WorkflowExecution.ID)
	})
	s.env.RegisterDelayedCallback(func() { s.env.SignalWorkflow(CancelSignal, nil) }, 45*time.Second)
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(), quietPolicy+`,"deleteModelIfCancelFails":true`))

	s.Require().NoError(s.env.GetWorkflowError())
	var res CreateIssueModelResult
	s.Require().NoError(s.env.GetWorkflowResult(&res))
	s.Equal(OutcomeDeletedAfterCancel, res.Outcome)
	s.Equal(testDeleteOp, res.DeleteOperation)
}

func (s *createSuite) TestTemporalCancelCancelsOperationAndWaitsForOutcome() {
	s.expectCreate()
	s.pollSequence(runningOp(), runningOp(), failedOp(insights.CodeCancelled, "cancelled"))
	s.env.OnActivity(acts.CancelOperation, mock.Anything, testOp).Return(activities.CancelResult{Accepted: true}, nil).Once()
	s.env.RegisterDelayedCallback(s.env.CancelWorkflow, 45*time.Second)
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(), quietPolicy))

	res := s.cancelledResult()
	s.Equal(OutcomeCancelled, res.Outcome)
	s.Equal(3, res.Polls, "polling goes on after the cancel until the outcome is known")
}

func (s *createSuite) TestTimeoutCancelsAndFails() {
	s.expectCreate()
	s.pollSequence(runningOp())
	s.env.OnActivity(acts.CancelOperation, mock.Anything, testOp).Return(activities.CancelResult{Accepted: true}, nil).Once()
	start := s.env.Now()
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(),
		`"polling":{"initialInterval":"1m","maxInterval":"10m","timeout":"1h","jitter":0}`))

	var appErr *temporal.ApplicationError
	s.Require().True(errors.As(s.env.GetWorkflowError(), &appErr), "%v", s.env.GetWorkflowError())
	s.Equal(insights.ErrPollTimeout, appErr.Type())
	s.Contains(appErr.Error(), "accepted")
	s.Contains(appErr.Error(), "still unknown")
	s.Equal(2*time.Hour, s.env.Now().Sub(start).Round(time.Second), "after the timeout, the cancel's outcome is awaited for a grace of min(timeout, 1h)")
}

func (s *createSuite) TestContinueAsNewWhenSuggested() {
	s.expectCreate()
	s.pollSequence(runningOp())
	s.env.SetContinueAsNewSuggested(true)
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(), quietPolicy))
	s.assertContinuedAsNew(1)
}

func (s *createSuite) TestContinueAsNewAfterConfiguredPolls() {
	s.expectCreate()
	s.pollSequence(runningOp())
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(),
		`"polling":{"initialInterval":"30s","continueAsNewAfterPolls":3}`))
	s.assertContinuedAsNew(3)
}

func (s *createSuite) assertContinuedAsNew(polls int) {
	var can *workflow.ContinueAsNewError
	s.Require().True(errors.As(s.env.GetWorkflowError(), &can), "%v", s.env.GetWorkflowError())
	s.Equal(CreateIssueModelWorkflowType, can.WorkflowType.Name)
	var next CreateIssueModelInput
	s.Require().NoError(converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	s.Require().NotNil(next.Continuation)
	s.Equal(testOp, next.Continuation.Operation)
	s.Equal(polls, next.Continuation.Polls)
	s.Equal(1, next.Continuation.ContinuedAsNew)
	s.Equal("weekly", next.IssueModel.DisplayName)
}

func (s *createSuite) TestResumesFromContinuationWithoutCreating() {
	// No CreateIssueModel expectation: a continued run must not create again.
	s.pollSequence(succeededOp())
	in := sampleInput(s.T(), quietPolicy)
	in.Continuation = &PollState{Operation: testOp, StartedAt: s.env.Now(), Polls: 40, ContinuedAsNew: 2}
	s.env.SetContinuedExecutionRunID("the-previous-run")
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, in)
	s.Require().NoError(s.env.GetWorkflowError())
	var res CreateIssueModelResult
	s.Require().NoError(s.env.GetWorkflowResult(&res))
	s.Equal(41, res.Polls)
}

func (s *createSuite) TestStatusQueryWhilePolling() {
	s.expectCreate()
	s.pollSequence(runningOp(), runningOp(), succeededOp())
	var st PollStatus
	var details string
	s.env.RegisterDelayedCallback(func() {
		v, err := s.env.QueryWorkflow(StatusQuery)
		s.Require().NoError(err)
		s.Require().NoError(v.Get(&st))
		v, err = s.env.QueryWorkflow("__temporal_workflow_metadata")
		s.Require().NoError(err)
		var md sdkpb.WorkflowMetadata
		s.Require().NoError(v.Get(&md))
		details = md.GetCurrentDetails()
	}, 40*time.Second)
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(), quietPolicy))
	s.Require().NoError(s.env.GetWorkflowError())
	s.Equal(PhasePolling, st.Phase)
	s.Equal(testOp, st.Operation)
	s.Equal(1, st.Polls)
	s.False(st.Done)
	s.Require().NotNil(st.LastPolledAt)
	s.Require().NotNil(st.NextPollAt)
	s.Equal(time.Minute, st.NextPollAt.Sub(*st.LastPolledAt).Round(time.Second))
	s.Contains(string(st.Metadata), "CreateIssueModelMetadata")
	s.Contains(details, "**polling** `"+testOp+"` · 1 polls · next poll ", "the Web UI's current details")
}

func (s *createSuite) TestPollNowWakesTheLoop() {
	s.expectCreate()
	at := s.pollSequence(runningOp(), succeededOp())
	start := s.env.Now()
	s.env.RegisterDelayedCallback(func() { s.env.SignalWorkflow(PollNowSignal, nil) }, 10*time.Minute)
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(),
		`"polling":{"initialInterval":"1h","maxInterval":"2h","jitter":0}`))
	s.Require().NoError(s.env.GetWorkflowError())
	s.Require().Len(*at, 2)
	s.Equal(10*time.Minute, (*at)[0].Sub(start).Round(time.Second))
}

func (s *createSuite) TestNotFoundRightAfterCreateIsTolerated() {
	s.expectCreate()
	n := 0
	s.env.OnActivity(acts.PollOperation, mock.Anything, testOp).Return(asPoll(func(_ context.Context, _ string) (insights.Operation, error) {
		n++
		if n == 1 {
			return insights.Operation{}, insights.FromAPIError("GetOperation", status.Error(codes.NotFound, "no such operation"))
		}
		return succeededOp(), nil
	}))
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(), `"polling":{"initialInterval":"10s","notFoundGrace":"1m"}`))
	s.Require().NoError(s.env.GetWorkflowError())
}

func (s *createSuite) TestNotFoundLaterMeansOperationLost() {
	s.expectCreate()
	n := 0
	s.env.OnActivity(acts.PollOperation, mock.Anything, testOp).Return(asPoll(func(_ context.Context, _ string) (insights.Operation, error) {
		n++
		if n < 4 {
			return runningOp(), nil
		}
		return insights.Operation{}, insights.FromAPIError("GetOperation", status.Error(codes.NotFound, "no such operation"))
	}))
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(), quietPolicy))
	var appErr *temporal.ApplicationError
	s.Require().True(errors.As(s.env.GetWorkflowError(), &appErr), "%v", s.env.GetWorkflowError())
	s.Equal(insights.ErrOperationLost, appErr.Type())
}

func TestPermissionDeniedOnAnUnknownOperationFailsFast(t *testing.T) {
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestWorkflowEnvironment()
	env.RegisterActivity(acts)
	calls := 0
	env.OnActivity(acts.PollOperation, mock.Anything, testOp).Return(asPoll(func(_ context.Context, _ string) (insights.Operation, error) {
		calls++
		return insights.Operation{}, insights.FromAPIError("GetOperation", status.Error(codes.PermissionDenied, "caller lacks contactcenterinsights.operations.get"))
	}))
	env.ExecuteWorkflow(AwaitOperationWorkflow, AwaitOperationInput{Operation: testOp})
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(env.GetWorkflowError(), &appErr), "%v", env.GetWorkflowError())
	require.Equal(t, "PermissionDenied", appErr.Type())
	require.Equal(t, 1, calls, "no retries of a non-retryable error before the operation is known to exist")
}

func (s *createSuite) TestTransientPollErrorsAreRetried() {
	s.expectCreate()
	calls := 0
	s.env.OnActivity(acts.PollOperation, mock.Anything, testOp).Return(asPoll(func(_ context.Context, _ string) (insights.Operation, error) {
		calls++
		if calls <= 3 {
			return insights.Operation{}, insights.FromAPIError("GetOperation", status.Error(codes.Unavailable, "try again"))
		}
		return succeededOp(), nil
	}))
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(), quietPolicy))
	s.Require().NoError(s.env.GetWorkflowError())
	s.Equal(4, calls)
}

func (s *createSuite) TestCreateFailureIsReturned() {
	s.env.OnActivity(acts.CreateIssueModel, mock.Anything, mock.Anything).Return(activities.StartedOperation{},
		insights.FromAPIError("CreateIssueModel", status.Error(codes.PermissionDenied, "denied"))).Once()
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(), quietPolicy))
	var appErr *temporal.ApplicationError
	s.Require().True(errors.As(s.env.GetWorkflowError(), &appErr), "%v", s.env.GetWorkflowError())
	s.Equal("PermissionDenied", appErr.Type())
}

func (s *createSuite) TestInvalidInputFailsBeforeAnyActivity() {
	// No activity expectations: any call would fail the test.
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, input(s.T(), `{"parent":"projects/acme","issueModel":{"displayName":"x"}}`))
	var appErr *temporal.ApplicationError
	s.Require().True(errors.As(s.env.GetWorkflowError(), &appErr), "%v", s.env.GetWorkflowError())
	s.Equal(insights.ErrInvalidArgument, appErr.Type())
	s.True(appErr.NonRetryable())
	var fv insights.FieldViolation
	s.Require().NoError(appErr.Details(&fv))
	s.Equal("parent", fv.Field)
}

func TestAwaitOperationWorkflow(t *testing.T) {
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestWorkflowEnvironment()
	env.RegisterActivity(acts)
	n := 0
	env.OnActivity(acts.PollOperation, mock.Anything, testOp).Return(asPoll(func(_ context.Context, _ string) (insights.Operation, error) {
		n++
		if n < 3 {
			return runningOp(), nil
		}
		return failedOp(int32(codes.Internal), "boom"), nil
	}))
	env.ExecuteWorkflow(AwaitOperationWorkflow, AwaitOperationInput{Operation: testOp, Polling: &PollingPolicy{InitialInterval: "5s"}})
	require.NoError(t, env.GetWorkflowError())
	var op insights.Operation
	require.NoError(t, env.GetWorkflowResult(&op))
	require.True(t, op.Done)
	require.Equal(t, int32(codes.Internal), op.Error.Code)
	require.Contains(t, string(op.Metadata), `"@type":"type.googleapis.com/google.cloud.contactcenterinsights.v1.CreateIssueModelMetadata"`)
	require.Equal(t, 3, n, "the first poll is immediate when attaching")
}

func createParams(lookFrom, lookOnly bool) any {
	return mock.MatchedBy(func(p activities.CreateIssueModelParams) bool {
		return (p.LookFrom != nil) == lookFrom && p.LookOnly == lookOnly
	})
}

func (s *createSuite) TestCreateAfterAmbiguousFailureLooksForTheEarlierAttempt() {
	s.env.OnActivity(acts.CreateIssueModel, mock.Anything, createParams(false, false)).
		Return(activities.StartedOperation{}, insights.FromAPIError("CreateIssueModel", status.Error(codes.Unavailable, "reply lost"))).Once()
	s.env.OnActivity(acts.CreateIssueModel, mock.Anything, createParams(true, false)).
		Return(activities.StartedOperation{Operation: testOp, Adopted: true}, nil).Once()
	s.pollSequence(succeededOp())
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(), quietPolicy))
	s.Require().NoError(s.env.GetWorkflowError())
}

func (s *createSuite) TestCreateAfterRefusalDoesNotLookForOthersOperations() {
	s.env.OnActivity(acts.CreateIssueModel, mock.Anything, createParams(false, false)).
		Return(activities.StartedOperation{}, insights.FromAPIError("CreateIssueModel", status.Error(codes.ResourceExhausted, "one creation per region"))).Twice()
	s.env.OnActivity(acts.CreateIssueModel, mock.Anything, createParams(false, false)).
		Return(activities.StartedOperation{Operation: testOp}, nil).Once()
	s.pollSequence(succeededOp())
	start := s.env.Now()
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(), quietPolicy))
	s.Require().NoError(s.env.GetWorkflowError())
	// Two backoffs (5s, 10s) then the first poll interval (30s).
	s.Equal(45*time.Second, s.env.Now().Sub(start).Round(time.Second))
}

func (s *createSuite) TestQuotaWaitIsBoundedByTheTimeout() {
	s.env.OnActivity(acts.CreateIssueModel, mock.Anything, mock.Anything).
		Return(activities.StartedOperation{}, insights.FromAPIError("CreateIssueModel", status.Error(codes.ResourceExhausted, "one creation per region")))
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(), `"polling":{"timeout":"30m"}`))
	var appErr *temporal.ApplicationError
	s.Require().True(errors.As(s.env.GetWorkflowError(), &appErr), "%v", s.env.GetWorkflowError())
	s.Equal(insights.ErrPollTimeout, appErr.Type())
	s.Contains(appErr.Error(), "one creation per region")
}

func (s *createSuite) TestCancelWhileWaitingForQuotaCreatesNothing() {
	s.env.OnActivity(acts.CreateIssueModel, mock.Anything, createParams(false, false)).
		Return(activities.StartedOperation{}, insights.FromAPIError("CreateIssueModel", status.Error(codes.ResourceExhausted, "one creation per region")))
	s.env.RegisterDelayedCallback(func() { s.env.SignalWorkflow(CancelSignal, CancelRequest{Reason: "not now"}) }, 2*time.Minute)
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(), quietPolicy))
	res := s.cancelledResult()
	s.Equal(OutcomeCancelled, res.Outcome)
	s.Empty(res.Operation)
}

func (s *createSuite) TestCancelAfterAmbiguousCreateOnlyLooksUp() {
	s.env.OnActivity(acts.CreateIssueModel, mock.Anything, createParams(false, false)).
		Return(activities.StartedOperation{}, insights.FromAPIError("CreateIssueModel", status.Error(codes.DeadlineExceeded, "deadline"))).Once()
	s.env.OnActivity(acts.FindIssueModelCreation, mock.Anything, createParams(true, true)).
		Return(activities.StartedOperation{Operation: testOp, Adopted: true}, nil).Once()
	s.env.OnActivity(acts.CancelOperation, mock.Anything, testOp).Return(activities.CancelResult{Accepted: true}, nil).Once()
	s.pollSequence(failedOp(insights.CodeCancelled, "cancelled"))
	s.env.RegisterDelayedCallback(func() { s.env.SignalWorkflow(CancelSignal, nil) }, time.Second)
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(), quietPolicy))
	res := s.cancelledResult()
	s.Equal(testOp, res.Operation)
}

// asPoll turns a GetOperation answer into the PollOperation answer the poll loop receives (a
// worker without a poll budget: no pace).
func asPoll(f func(context.Context, string) (insights.Operation, error)) func(context.Context, string) (activities.PollResult, error) {
	return func(ctx context.Context, name string) (activities.PollResult, error) {
		op, err := f(ctx, name)
		return activities.PollResult{Operation: op}, err
	}
}
