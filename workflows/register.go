package workflows

import (
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/issuemodels/durable-lro/activities"
)

// Register registers every workflow of this package and the activities on a worker, under the
// public names users type in the CLI and Web UI.
func Register(r worker.Registry, acts *activities.Activities) {
	RegisterWorkflows(r)
	r.RegisterActivity(acts)
}

// WorkflowRegistry is where workflows are registered: a worker, or a worker.WorkflowReplayer.
type WorkflowRegistry interface {
	RegisterWorkflowWithOptions(w any, options workflow.RegisterOptions)
}

// RegisterWorkflows registers every workflow of this package under its public name.
func RegisterWorkflows(r WorkflowRegistry) {
	r.RegisterWorkflowWithOptions(CreateIssueModelWorkflow, workflow.RegisterOptions{Name: CreateIssueModelWorkflowType})
	r.RegisterWorkflowWithOptions(AwaitOperationWorkflow, workflow.RegisterOptions{Name: AwaitOperationWorkflowType})
	r.RegisterWorkflowWithOptions(IssueModelLifecycleWorkflow, workflow.RegisterOptions{Name: IssueModelLifecycleWorkflowType})
}
