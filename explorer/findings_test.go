package explorer_test

import (
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/issuemodels/durable-lro/explorer"
)

// The minimal schedules the explorer found on main acf47ed, before the fixes of issue 25
// (docs/RELIABILITY.md, "Fault-schedule explorer"), pasted as it prints them. Each broke the
// invariant named in its comment then; they hold since.

// A, one-training: the create's reply is lost, the retry's look-up misses the lagging operation,
// the next attempt is refused for the region's one creation slot (held by the run's own
// training), the refusal made the run forget the first attempt, and it created a second model.
func TestFoundBeforeFixesA_TwoTrainings(t *testing.T) {
	explorer.Check(t, explorer.Schedule{
		Workflow: explorer.Create, CancelMode: "honor",
		VisibilityDelay: time.Minute, TrainingTime: 20 * time.Minute, Timeout: 2 * time.Hour,
		Faults: []explorer.Fault{
			{Call: "CreateIssueModel", N: 1, Kind: explorer.LostReply, Code: codes.Unavailable},
		},
	})
}

// A, nothing-created-is-true: the same lost reply, then a cancel: the run ended "cancelled
// before an operation was created" while its training ran.
func TestFoundBeforeFixesA_NothingCreated(t *testing.T) {
	explorer.Check(t, explorer.Schedule{
		Workflow: explorer.Create, CancelMode: "honor",
		VisibilityDelay: time.Minute, TrainingTime: 20 * time.Minute, Timeout: 2 * time.Hour,
		Faults: []explorer.Fault{
			{Call: "CreateIssueModel", N: 1, Kind: explorer.LostReply, Code: codes.Unavailable},
		},
		Events: []explorer.Event{
			{At: 0, Kind: explorer.CancelSignal},
		},
	})
}

// D, cancel-is-prompt: a Temporal cancel during the create loop's backoff waited for the
// backoff to end (2m15s of silence). (NotFoundGrace was added after: the lag must be within it.)
func TestFoundBeforeFixesD_CancelWaitsOutBackoff(t *testing.T) {
	explorer.Check(t, explorer.Schedule{
		Workflow: explorer.Create, CancelMode: "honor",
		VisibilityDelay: 3 * time.Minute, NotFoundGrace: 5 * time.Minute, TrainingTime: 20 * time.Minute, Timeout: 2 * time.Hour,
		Faults: []explorer.Fault{
			{Call: "CreateIssueModel", N: 1, Kind: explorer.LostReply, Code: codes.Unavailable},
		},
		Events: []explorer.Event{
			{At: 3 * time.Minute, Kind: explorer.TemporalCancel},
		},
	})
}

// E, cancel-reaches-server: a `cancel` signal, its CancelOperation refused once (UNAVAILABLE),
// a Temporal cancel moments later aborted the retry, and the cancel was never sent again.
func TestFoundBeforeFixesE_TemporalCancelAbortsCancel(t *testing.T) {
	explorer.Check(t, explorer.Schedule{
		Workflow: explorer.Create, CancelMode: "honor",
		TrainingTime: 20 * time.Minute, Timeout: 2 * time.Hour,
		Faults: []explorer.Fault{
			{Call: "CancelOperation", N: 1, Kind: explorer.Refuse, Code: codes.Unavailable},
		},
		Events: []explorer.Event{
			{At: 174 * time.Second, Kind: explorer.CancelSignal},
			{At: 174 * time.Second, Kind: explorer.TemporalCancel},
		},
	})
}

// L, cancel-reaches-server: a `cancel` signal right after the create, while the new operation
// is not listed yet (10s lag): CancelOperation answered NOT_FOUND, was never sent again, and
// the training ran to its end (COMPLETED_DESPITE_CANCEL).
func TestFoundBeforeFixesL_CancelBeforeListed(t *testing.T) {
	explorer.Check(t, explorer.Schedule{
		Workflow: explorer.Create, CancelMode: "honor",
		VisibilityDelay: 10 * time.Second, TrainingTime: 20 * time.Minute, Timeout: 2 * time.Hour,
		Events: []explorer.Event{
			{At: 0, Kind: explorer.CancelSignal},
		},
	})
}

// Found on main after the first fixes (1feb820, a1e2210), fixed since:

// C, deployed-restored: a lifecycle cancelled while its new model deploys, at the 5-deployed
// quota, did not redeploy the model undeploy-first had removed.
func TestFoundAfterFirstFixesC_CancelAtQuotaRedeploys(t *testing.T) {
	explorer.Check(t, explorer.Schedule{
		Workflow: explorer.Lifecycle, CancelMode: "honor",
		VisibilityDelay: 100 * time.Second, TrainingTime: 20 * time.Minute, Timeout: 2 * time.Hour, Replaced: 1, OtherDeployed: 4,
		Events: []explorer.Event{
			{At: 23 * time.Minute, Kind: explorer.CancelSignal},
		},
	})
}

// F, no-stranded-training: terminating a lifecycle (its run timeout) terminated its -create
// child, whose training ran on with no CancelOperation.
func TestFoundAfterFirstFixesF_TerminatedLifecycleCancelsTraining(t *testing.T) {
	explorer.Check(t, explorer.Schedule{
		Workflow: explorer.Lifecycle, CancelMode: "honor",
		VisibilityDelay: time.Minute, TrainingTime: 2 * time.Hour, Timeout: 2 * time.Hour, Replaced: 1,
		Events: []explorer.Event{
			{At: 10 * time.Second, Kind: explorer.TerminateParent},
		},
	})
}

// M, no-stranded-training (found on acf47ed): a poll refused with a non-retryable code failed the
// run at once while its training ran on, never cancelled.
func TestFoundBeforeFixesM_FailedPollStrandsTraining(t *testing.T) {
	explorer.Check(t, explorer.Schedule{
		Workflow: explorer.Create, CancelMode: "honor",
		TrainingTime: 20 * time.Minute, Timeout: 2 * time.Hour,
		Faults: []explorer.Fault{
			{Call: "GetOperation", N: 1, Kind: explorer.Refuse, Code: codes.FailedPrecondition},
		},
	})
}
