// Package gocaller is a sample caller in another namespace: a team's pipeline workflow that
// trains an issue model through the issue-models Nexus endpoint as one of its steps, knowing
// nothing of our Go types (README, "Calling it from your own workflow"). The integration and
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
