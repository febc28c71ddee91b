package workflows

import (
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/issuemodels/durable-lro/activities"
)

// Register registers every workflow of this package and the activities on a worker, under the
// public names users type in the CLI and Web UI.
func Register(r worker.Registry, acts *activities.Activities) {
	r.RegisterWorkflowWithOptions(CreateIssueModelWorkflow, workflow.RegisterOptions{Name: CreateIssueModelWorkflowType})
	r.RegisterWorkflowWithOptions(AwaitOperationWorkflow, workflow.RegisterOptions{Name: AwaitOperationWorkflowType})
	r.RegisterWorkflowWithOptions(IssueModelLifecycleWorkflow, workflow.RegisterOptions{Name: IssueModelLifecycleWorkflowType})
	r.RegisterActivity(acts)
}
