package workflows

import (
	"fmt"

	"go.temporal.io/sdk/temporal"
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
	p.wake = true
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

// sendCancel calls CancelOperation once; UNIMPLEMENTED and errors are recorded, not fatal:
// polling goes on until the operation is done.
func (p *poller) sendCancel() {
	if p.state.CancelSent || p.state.Operation == "" {
		return
	}
	p.state.CancelSent = true
	p.progress.phase = PhaseCancelling
	p.state.BackoffFrom = p.state.Polls
	var res activities.CancelResult
	err := workflow.ExecuteActivity(withShortActivity(p.ctx), acts.CancelOperation, p.state.Operation).Get(p.ctx, &res)
	switch {
	case err != nil:
		p.setLastError(fmt.Sprintf("CancelOperation: %v", rootMessage(err)))
	case res.Unimplemented:
		p.state.CancelUnimplemented = true
		p.setLastError("CancelOperation: UNIMPLEMENTED: the server cannot cancel this operation; waiting for it to finish")
	}
	p.publish()
	p.logger().Info("Requested cancellation", "Reason", p.state.CancelReason, "Unimplemented", res.Unimplemented)
}

// timeout requests cancellation (once) and fails the run.
func (p *poller) timeout() error {
	if !p.state.CancelRequested {
		p.requestCancel("polling timeout")
	}
	p.sendCancel()
	answer := "the server accepted the cancellation request"
	if p.state.CancelUnimplemented {
		answer = "the server cannot cancel it (UNIMPLEMENTED), so it may still finish"
	}
	return temporal.NewNonRetryableApplicationError(
		fmt.Sprintf("operation %s is not done after the polling timeout of %s; %s", p.state.Operation, p.policy.timeout, answer),
		insights.ErrPollTimeout, nil, p.state.Operation)
}
