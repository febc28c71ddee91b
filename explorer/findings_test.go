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
func TestFoundBeforeFixes(t *testing.T) {
	for name, s := range map[string]explorer.Schedule{
		// A, one-training: the create's reply is lost, the retry's look-up misses the lagging operation,
		// the next attempt is refused for the region's one creation slot (held by the run's own
		// training), the refusal made the run forget the first attempt, and it created a second model.
		"A_TwoTrainings": {
			Workflow: explorer.Create, CancelMode: "honor",
			VisibilityDelay: time.Minute, TrainingTime: 20 * time.Minute, Timeout: 2 * time.Hour,
			Faults: []explorer.Fault{
				{Call: "CreateIssueModel", N: 1, Kind: explorer.LostReply, Code: codes.Unavailable},
			},
		},
		// A, nothing-created-is-true: the same lost reply, then a cancel: the run ended "cancelled
		// before an operation was created" while its training ran.
		"A_NothingCreated": {
			Workflow: explorer.Create, CancelMode: "honor",
			VisibilityDelay: time.Minute, TrainingTime: 20 * time.Minute, Timeout: 2 * time.Hour,
			Faults: []explorer.Fault{
				{Call: "CreateIssueModel", N: 1, Kind: explorer.LostReply, Code: codes.Unavailable},
			},
			Events: []explorer.Event{
				{At: 0, Kind: explorer.CancelSignal},
			},
		},
		// D, cancel-is-prompt: a Temporal cancel during the create loop's backoff waited for the
		// backoff to end (2m15s of silence). (NotFoundGrace was added after: the lag must be within it.)
		"D_CancelWaitsOutBackoff": {
			Workflow: explorer.Create, CancelMode: "honor",
			VisibilityDelay: 3 * time.Minute, NotFoundGrace: 5 * time.Minute, TrainingTime: 20 * time.Minute, Timeout: 2 * time.Hour,
			Faults: []explorer.Fault{
				{Call: "CreateIssueModel", N: 1, Kind: explorer.LostReply, Code: codes.Unavailable},
			},
			Events: []explorer.Event{
				{At: 3 * time.Minute, Kind: explorer.TemporalCancel},
			},
		},
		// E, cancel-reaches-server: a `cancel` signal, its CancelOperation refused once (UNAVAILABLE),
		// a Temporal cancel moments later aborted the retry, and the cancel was never sent again.
		"E_TemporalCancelAbortsCancel": {
			Workflow: explorer.Create, CancelMode: "honor",
			TrainingTime: 20 * time.Minute, Timeout: 2 * time.Hour,
			Faults: []explorer.Fault{
				{Call: "CancelOperation", N: 1, Kind: explorer.Refuse, Code: codes.Unavailable},
			},
			Events: []explorer.Event{
				{At: 174 * time.Second, Kind: explorer.CancelSignal},
				{At: 174 * time.Second, Kind: explorer.TemporalCancel},
			},
		},
		// L, cancel-reaches-server: a `cancel` signal right after the create, while the new operation
		// is not listed yet (10s lag): CancelOperation answered NOT_FOUND, was never sent again, and
		// the training ran to its end (COMPLETED_DESPITE_CANCEL).
		"L_CancelBeforeListed": {
			Workflow: explorer.Create, CancelMode: "honor",
			VisibilityDelay: 10 * time.Second, TrainingTime: 20 * time.Minute, Timeout: 2 * time.Hour,
			Events: []explorer.Event{
				{At: 0, Kind: explorer.CancelSignal},
			},
		},
		// M, no-stranded-training (found on acf47ed): a poll refused with a non-retryable code failed the
		// run at once while its training ran on, never cancelled.
		"M_FailedPollStrandsTraining": {
			Workflow: explorer.Create, CancelMode: "honor",
			TrainingTime: 20 * time.Minute, Timeout: 2 * time.Hour,
			Faults: []explorer.Fault{
				{Call: "GetOperation", N: 1, Kind: explorer.Refuse, Code: codes.FailedPrecondition},
			},
		},
	} {
		t.Run(name, func(t *testing.T) { explorer.Check(t, s) })
	}
}
