package workflows

import "encoding/json"

// StepStatus is one step of the lifecycle as the status query shows it.
type StepStatus struct {
	Name            string `json:"name"`
	State           string `json:"state"` // StepStateRunning, StepStateDone, StepStateFailed or StepStateCancelled
	Detail          string `json:"detail,omitempty"`
	ChildWorkflowID string `json:"childWorkflowId,omitempty"`
	// Operation is the step's operation (the last one, for a step that runs several), and
	// Metadata that operation's metadata: live progress for ingest and analyze (ingest stats,
	// analysis counts, reported by the child at each poll), the final metadata of the others
	// once they are done.
	Operation string          `json:"operation,omitempty"`
	Metadata  json.RawMessage `json:"metadata,omitempty"`
}

// LifecycleStatus is the answer of the lifecycle's status query.
type LifecycleStatus struct {
	Step            string       `json:"step"`
	Steps           []StepStatus `json:"steps"`
	Model           string       `json:"model,omitempty"`
	CancelRequested bool         `json:"cancelRequested"`
	Done            bool         `json:"done"`
	Outcome         string       `json:"outcome,omitempty"`
	LastError       string       `json:"lastError,omitempty"`
}

// LifecycleResult is the result of IssueModelLifecycleWorkflow (and the details of its
// cancellation): what the cloud looks like afterwards.
type LifecycleResult struct {
	Outcome string `json:"outcome"`
	// Model is the new model, if one exists; State its state when the run ended.
	Model      string          `json:"model,omitempty"`
	State      string          `json:"state,omitempty"`
	IssueModel json.RawMessage `json:"issueModel,omitempty"`
	Undeployed []string        `json:"undeployed,omitempty"`
	Deleted    []string        `json:"deleted,omitempty"`
	// Kept lists replaced models left as they were (a cancel during retirement).
	Kept []string `json:"kept,omitempty"`
	// Ingested is the ingest step's ingestConversationsStats; Analyzed the analyze step's
	// BulkAnalyzeConversationsResponse (successfulAnalysisCount, failedAnalysisCount).
	Ingested json.RawMessage `json:"ingested,omitempty"`
	Analyzed json.RawMessage `json:"analyzed,omitempty"`
	// ExportedTo is the object the export step wrote; ImportedFrom the object a promotion
	// imported the model from.
	ExportedTo   string `json:"exportedTo,omitempty"`
	ImportedFrom string `json:"importedFrom,omitempty"`
}
