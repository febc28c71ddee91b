package workflows

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	sdkpb "go.temporal.io/api/sdk/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/issuemodels/durable-lro/insights"
)

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
	res := s.succeeded()
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
	s.failedWith(insights.ErrOperationLost)
}

func TestPermissionDeniedOnAnUnknownOperationFailsFast(t *testing.T) {
	env := newEnv()
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

func (s *createSuite) TestSucceedsAfterPollsWithBackoffIntervals() {
	s.expectCreate()
	at := s.pollSequence(runningOp(), runningOp(), runningOp(), runningOp(), succeededOp())
	start := s.env.Now()
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(), quietPolicy))

	s.Require().True(s.env.IsWorkflowCompleted())
	res := s.succeeded()
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
