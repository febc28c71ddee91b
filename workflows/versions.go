package workflows

import "go.temporal.io/sdk/workflow"

// fenceOlderWorkers records a SideEffect where a versioned change begins, on the runs that take
// the new path. Workers of an earlier release skip the version marker but not this command: they
// fail such a run's tasks as non-deterministic (retried until a worker of this release takes
// them) instead of advancing the run on their old path, which this release could not replay. A
// change whose new path diverges later than its marker needs the fence; one whose marker sits
// at the divergence does not.
func fenceOlderWorkers(ctx workflow.Context) {
	_ = workflow.SideEffect(ctx, func(workflow.Context) any { return true })
}

// Versions of the workflows' command-changing edits (workflow.GetVersion change IDs; README,
// "Changing a workflow").
const (
	// updatesChange: the run serves the cancel and poll-now updates. Decided once, at the run's
	// start, so that a run an older release started (no marker) never accepts an update, and a
	// worker of that release that replays its own runs meets no update it has no handler for. An
	// update accepted by this release's worker on a run it started cannot be replayed by an
	// older worker (which replays without the update's effect: TMPRL1100, and the task is
	// retried until a worker of this release takes it; reliability's TestUpdatesInAMixedFleet):
	// updates need this release's workers; during a rolling deploy, use the signals (README,
	// "Steering by Update").
	updatesChange  = "updates-cancel-poll-now"
	updatesVersion = 1
	// learnedScheduleChange: the learned schedule (PollingPolicy.Learn). Runs of earlier
	// releases cannot reach it: their inputs could not ask for it.
	learnedScheduleChange  = "learned-schedule"
	learnedScheduleVersion = 1
	// awaitDeletionChange: a run that deletes the model a cancel could not stop awaits the
	// deletion (child AwaitOperationWorkflow "<id>-delete") before it reports
	// DELETED_AFTER_CANCEL; runs of release f634c2d, which recorded no marker, only started it.
	awaitDeletionChange  = "await-deletion-after-cancel"
	awaitDeletionVersion = 1
	// workerSlotsChange: the poll loop polls at the slot its worker keeps for the operation
	// (activities.PollResult.NextPollAt), refused or not, instead of at the worker's pace plus
	// an extra wait that doubles at every refusal; runs of releases up to 725c0d1, which
	// recorded no marker, keep their old timers.
	workerSlotsChange  = "poll-at-worker-slot"
	workerSlotsVersion = 1
	// createLooksAfterAmbiguityChange: once any CreateIssueModel attempt may have committed,
	// every later attempt looks for its operation first, a refusal does not forget that, and an
	// empty look-up is trusted only after the operation list has had NotFoundGrace to catch up;
	// a Temporal cancel wakes the retry backoff at once (createOperation).
	createLooksAfterAmbiguityChange  = "create-looks-after-ambiguity"
	createLooksAfterAmbiguityVersion = 1
	// outcomeBeforeEndChange: the poll loop retries a requested cancel until the server takes
	// it, awaits the outcome after its timeout and through non-retryable poll errors of a known
	// operation (for a bounded grace), and continues as new by the SDK's history length
	// (life.go).
	outcomeBeforeEndChange  = "outcome-before-end"
	outcomeBeforeEndVersion = 1
	// workflowWrittenStateChange: a continuation is taken only from the workflow's own
	// continue-as-new, never from a person's input (validateInput).
	workflowWrittenStateChange  = "continuation-from-workflow-only"
	workflowWrittenStateVersion = 1
	// apiCallsUnderServerLimitsChange: the poll (and the learned schedule's estimate) is a
	// regular activity, held with every other API call by the task queue's rate limits, and the
	// loop waits the policy's interval only; before it, the poll was a local activity that the
	// loop paced by its worker's budget (legacy.go).
	apiCallsUnderServerLimitsChange  = "api-calls-under-server-limits"
	apiCallsUnderServerLimitsVersion = 1
	// pacedRunsJoinServerLimitsChange: a run that polls paced by its worker (it began before
	// apiCallsUnderServerLimitsChange) polls through the server-held regular activity from its
	// next poll on, since no worker paces it any more; the ID has the poll's attempt appended
	// (joinChangeID).
	pacedRunsJoinServerLimitsChange  = "paced-runs-join-server-limits"
	pacedRunsJoinServerLimitsVersion = 1
)
