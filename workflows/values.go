package workflows

// The values of the string fields a caller reads in the statuses and results of the workflows,
// in one place: the documented vocabulary of the status queries, the updates and the results.

// Phases reported by the status query.
const (
	PhaseValidating = "validating"
	PhaseCreating   = "creating"
	PhasePolling    = "polling"
	PhaseCancelling = "cancelling"
	PhaseDone       = "done"
)

// Outcomes of an awaited operation, as the status query and the results report them.
const (
	OutcomeSucceeded = "SUCCEEDED"
	// OutcomeCancelled: the operation ended CANCELLED; no model was created.
	OutcomeCancelled = "CANCELLED"
	// OutcomeCompletedDespiteCancel: a cancel was requested, but the server could not
	// (UNIMPLEMENTED) or did not stop the training: the model exists.
	OutcomeCompletedDespiteCancel = "COMPLETED_DESPITE_CANCEL"
	// OutcomeDeletedAfterCancel: as above, and the model was then deleted as the input asked.
	OutcomeDeletedAfterCancel = "DELETED_AFTER_CANCEL"
	// OutcomeFailed: the operation ended with an error (other than CANCELLED).
	OutcomeFailed = "FAILED"
)

// CancelAnswer.Answer values: how the cancel update ended.
const (
	// CancelAccepted: CancelOperation answered OK (best effort: the training may still finish;
	// the run polls on to the outcome).
	CancelAccepted = "ACCEPTED"
	// CancelUnimplemented: the server cannot cancel this operation (UNIMPLEMENTED); the run
	// awaits its outcome.
	CancelUnimplementedAnswer = "UNIMPLEMENTED"
	// CancelAlreadyDone: the operation was done before a cancel reached the server.
	CancelAlreadyDone = "ALREADY_DONE"
	// CancelNothingCreated: the run was still creating; it ends without an operation.
	CancelNothingCreated = "NOTHING_CREATED"
	// CancelPending: the server has not taken the cancel yet (it was refused, e.g. NOT_FOUND
	// from a list that lags) when the run continued as new; the next run keeps trying it.
	CancelPending = "PENDING"
)

// Lifecycle steps, in order, as the status query reports them.
const (
	StepCheckQuotas = "check-quotas"
	StepCreate      = "create"
	StepQualityGate = "quality-gate"
	StepDeploy      = "deploy"
	StepRetire      = "retire-previous"
	StepDone        = "done"
)

// The pipeline's optional lifecycle steps, as the status query and InsightsPhase name them.
const (
	StepIngest  = "ingest"
	StepAnalyze = "analyze"
	StepExport  = "export"
	StepImport  = "import"
)

// States of a lifecycle step.
const (
	StepStateRunning   = "running"
	StepStateDone      = "done"
	StepStateFailed    = "failed"
	StepStateCancelled = "cancelled"
)

// Lifecycle outcomes.
const (
	LifecycleDeployed  = "DEPLOYED"
	LifecycleCancelled = "CANCELLED"
)
