package workflows_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/issuemodels/durable-lro/insights"
	"github.com/issuemodels/durable-lro/workflows"
)

// MyPipeline is a user's own workflow: it trains a model through the creation workflow, then
// awaits some other operation of the API (e.g. one it started with its own activity) through
// the reusable awaiting workflow. Both run as children on the issue-models task queue.
func MyPipeline(ctx workflow.Context, parent, otherOperation string) (string, error) {
	ctx = workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		TaskQueue: workflows.DefaultTaskQueue,
		// Let the child cancel its operation and learn the outcome before we go on.
		WaitForCancellation: true,
	})
	var created workflows.CreateIssueModelResult
	err := workflow.ExecuteChildWorkflow(ctx, workflows.CreateIssueModelWorkflowType, workflows.CreateIssueModelInput{
		Parent:     parent,
		IssueModel: insights.IssueModelSpec{DisplayName: "weekly", InputDataConfig: insights.InputDataConfig{Medium: "CHAT"}},
		Polling:    &workflows.PollingPolicy{InitialInterval: "1m", MaxInterval: "10m", Timeout: "12h"},
	}).Get(ctx, &created)
	if err != nil {
		return "", err // InvalidArgument, OperationFailed (details: google.rpc.Status), PollTimeout, ...
	}

	var op insights.Operation
	err = workflow.ExecuteChildWorkflow(ctx, workflows.AwaitOperationWorkflowType, workflows.AwaitOperationInput{
		Operation: otherOperation,
		Polling:   &workflows.PollingPolicy{InitialInterval: "10s", Timeout: "1h"},
	}).Get(ctx, &op)
	if err != nil {
		return "", err
	}
	if op.Error != nil {
		return "", temporal.NewNonRetryableApplicationError(op.Error.Message, "OtherOperationFailed", nil, op.Error)
	}
	return created.Operation, nil
}

// This is how a pipeline of your own composes the creation and awaiting workflows as child
// workflows. Register MyPipeline on your worker next to workflows.Register.
func Example() {
	_ = MyPipeline
	fmt.Println(workflows.CreateIssueModelWorkflowType, workflows.AwaitOperationWorkflowType, workflows.DefaultTaskQueue)
	// Output: CreateIssueModelWorkflow AwaitOperationWorkflow issue-models
}

func TestMyPipelineComposesTheChildren(t *testing.T) {
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(workflows.CreateIssueModelWorkflow, workflow.RegisterOptions{Name: workflows.CreateIssueModelWorkflowType})
	env.RegisterWorkflowWithOptions(workflows.AwaitOperationWorkflow, workflow.RegisterOptions{Name: workflows.AwaitOperationWorkflowType})
	const op = "projects/p/locations/l/operations/1"
	env.OnWorkflow(workflows.CreateIssueModelWorkflowType, mock.Anything, mock.Anything).
		Return(&workflows.CreateIssueModelResult{Operation: op, Outcome: workflows.OutcomeSucceeded}, nil)
	env.OnWorkflow(workflows.AwaitOperationWorkflowType, mock.Anything, mock.Anything).
		Return(&insights.Operation{Name: "projects/p/locations/l/operations/2", Done: true, Error: &insights.Status{Code: 9, Message: "precondition"}}, nil)
	env.ExecuteWorkflow(MyPipeline, "projects/p/locations/l", "projects/p/locations/l/operations/2")
	require.True(t, insights.IsErrorType(env.GetWorkflowError(), "OtherOperationFailed"), "%v", env.GetWorkflowError())
}
