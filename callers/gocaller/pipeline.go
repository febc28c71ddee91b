// Package gocaller is a sample caller in another namespace: a team's pipeline workflow that
// trains an issue model through the issue-models Nexus endpoint as one of its steps, knowing
// nothing of our Go types (docs/CALLING.md). The integration and
// reliability tests run it.
package gocaller

import (
	"encoding/json"
	"time"

	"go.temporal.io/sdk/workflow"
)

// PipelineInput is the pipeline's input: the endpoint to call and the CreateIssueModelWorkflow
// input, as the README's JSON.
type PipelineInput struct {
	Endpoint string          `json:"endpoint"`
	Request  json.RawMessage `json:"request"`
}

// PipelineResult is what the pipeline keeps of the training.
type PipelineResult struct {
	Operation string          `json:"operation"`
	Outcome   string          `json:"outcome"`
	Model     json.RawMessage `json:"issueModel,omitempty"`
}

// PipelineWorkflow is the sample pipeline: its own steps around one Nexus operation,
// create-issue-model of service issue-models. Cancelling the pipeline cancels the operation
// (the default cancellation type waits for it to complete): the training is cancelled and the
// pipeline ends with the operation's cancellation, once the outcome is known.
func PipelineWorkflow(ctx workflow.Context, in PipelineInput) (*PipelineResult, error) {
	issueModels := workflow.NewNexusClient(in.Endpoint, "issue-models")
	fut := issueModels.ExecuteOperation(ctx, "create-issue-model", in.Request, workflow.NexusOperationOptions{
		// A bound for the whole training, its cancel included (the server's maximum otherwise).
		ScheduleToCloseTimeout: 24 * time.Hour,
		Summary:                "train an issue model",
	})
	var trained PipelineResult
	if err := fut.Get(ctx, &trained); err != nil {
		return nil, err
	}
	// ... the pipeline's next steps would use trained.Model here.
	return &trained, nil
}

// ChildInput is ChildPipelineWorkflow's input: the task queue our worker polls and the
// CreateIssueModelWorkflow input.
type ChildInput struct {
	TaskQueue string          `json:"taskQueue"`
	Request   json.RawMessage `json:"request"`
}

// ChildPipelineWorkflow is the same step in our own namespace: CreateIssueModelWorkflow as a
// child, by its type name, with the README's JSON. Cancelling the pipeline cancels the child,
// which runs the same cancel path.
func ChildPipelineWorkflow(ctx workflow.Context, in ChildInput) (*PipelineResult, error) {
	ctx = workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		TaskQueue:  in.TaskQueue,
		WorkflowID: workflow.GetInfo(ctx).WorkflowExecution.ID + "-train",
	})
	var trained PipelineResult
	if err := workflow.ExecuteChildWorkflow(ctx, "CreateIssueModelWorkflow", in.Request).Get(ctx, &trained); err != nil {
		return nil, err
	}
	return &trained, nil
}
