package workflows

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"github.com/stretchr/testify/suite"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/issuemodels/durable-lro/activities"
	"github.com/issuemodels/durable-lro/insights"
)

func TestCreateIssueModelWorkflow(t *testing.T) { suite.Run(t, new(createSuite)) }

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
	appErr := s.failedWith(insights.ErrInvalidArgument)
	s.True(appErr.NonRetryable())
	var fv insights.FieldViolation
	s.Require().NoError(appErr.Details(&fv))
	s.Equal("parent", fv.Field)
}

func TestAwaitOperationWorkflow(t *testing.T) {
	env := newEnv()
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
