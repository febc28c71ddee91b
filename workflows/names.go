// Package workflows holds the Temporal workflows that make Contact Center Insights long-running
// operations durable. The names below are a public contract: users type them in the Temporal CLI
// and Web UI.
package workflows

import "github.com/issuemodels/durable-lro/activities"

const (
	// DefaultTaskQueue is the task queue the worker polls unless configured otherwise.
	DefaultTaskQueue = "issue-models"

	CreateIssueModelWorkflowType    = "CreateIssueModelWorkflow"
	AwaitOperationWorkflowType      = "AwaitOperationWorkflow"
	IssueModelLifecycleWorkflowType = "IssueModelLifecycleWorkflow"

	// CancelSignal asks the workflow to cancel its operation; payload CancelRequest (optional).
	CancelSignal = "cancel"
	// PollNowSignal makes the workflow poll at once instead of waiting for its timer.
	PollNowSignal = "poll-now"
	// StatusQuery returns Status.
	StatusQuery = "status"
)

// CancelRequest is the payload of the cancel signal.
type CancelRequest struct {
	Reason string `json:"reason,omitempty"`
}

// acts names the activities: a typed nil pointer whose method values the SDK resolves to the
// registered activity names ("CreateIssueModel", "GetOperation", ...).
var acts *activities.Activities
