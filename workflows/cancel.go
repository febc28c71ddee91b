package workflows

import (
	"fmt"

	"go.temporal.io/sdk/workflow"

	"github.com/issuemodels/durable-lro/activities"
	"github.com/issuemodels/durable-lro/insights"
)

func (p *poller) requestCancel(reason string) {
	if p.state.CancelRequested {
		return
	}
	if reason == "" {
		reason = "cancel requested"
	}
	p.state.CancelRequested, p.state.CancelReason = true, reason
	p.wake, p.cancelDue = true, true
}

// checkTemporalCancel switches to a disconnected context after Temporal cancellation so the
// cancel and the remaining polls can still run.
func (p *poller) checkTemporalCancel() {
	if !p.temporalCancelled && p.root.Err() != nil {
		p.temporalCancelled = true
		p.ctx, _ = workflow.NewDisconnectedContext(p.root)
		p.requestCancel("workflow cancellation requested")
	}
}

// cancelPending: a cancel was requested and the server has not taken it yet.
func (p *poller) cancelPending() bool {
	return p.state.CancelRequested && !p.state.CancelSent && p.state.Operation != ""
}

// tryCancel calls CancelOperation and records the answer. The server has the request once it
// answered OK or UNIMPLEMENTED (CancelSent); any error leaves it pending, to be tried again
// before the next poll, because a cancel lost to a transient error, or refused with NOT_FOUND
// by an operation list that does not show a new operation yet, would leave the training running
// although the user asked to stop it. It runs on a disconnected context: a Temporal cancel that
// follows a cancel signal must not abort the very call that carries it.
func (p *poller) tryCancel() {
	p.cancelDue = false
	if !p.cancelTried {
		p.cancelTried = true
		p.state.BackoffFrom = p.state.Polls // confirm the cancel at the backoff's early pace
	}
	p.progress.phase = PhaseCancelling
	ctx, _ := workflow.NewDisconnectedContext(p.root)
	var res activities.CancelResult
	err := workflow.ExecuteActivity(withCancelActivity(ctx, p.state.Operation), acts.CancelOperation, p.state.Operation).Get(ctx, &res)
	switch {
	case err != nil:
		p.setLastError(fmt.Sprintf("CancelOperation: %v; will try again before the next poll", rootMessage(err)))
	case res.Unimplemented:
		p.state.CancelSent, p.state.CancelUnimplemented = true, true
		p.setLastError("CancelOperation: UNIMPLEMENTED: the server cannot cancel this operation; waiting for it to finish")
	default:
		p.state.CancelSent = true
	}
	p.publish()
	p.logger().Info("Requested cancellation", "Reason", p.state.CancelReason, "Taken", p.state.CancelSent,
		"Unimplemented", res.Unimplemented, "Error", err)
}

// pollTimeoutReason is the cancel reason of a run whose polling timeout passed.
const pollTimeoutReason = "polling timeout"

// timeoutError is the PollTimeout failure of a run whose operation was not done by its deadline;
// outcome says what became of it after the cancel that the timeout requested.
func (p *poller) timeoutError(outcome string, op insights.Operation) error {
	return newPollTimeout(fmt.Sprintf("operation %s is not done after the polling timeout of %s; %s",
		p.state.Operation, p.policy.timeout, outcome), p.state.Operation, op)
}
