package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/issuemodels/durable-lro/activities"
	"github.com/issuemodels/durable-lro/insights"
)

// awaitSendingCancelOnce is the poll loop of runs recorded before outcomeBeforeEndChange: it
// sends a requested cancel once, whatever the answer, and fails at the timeout without awaiting
// the cancel's outcome. Kept so that those runs replay; new runs use awaitOutcome.
func (p *poller) awaitSendingCancelOnce(immediate bool, deadline time.Time) (insights.Operation, error) {
	for {
		p.checkTemporalCancel()
		if p.state.CancelRequested && !p.state.CancelSent {
			p.sendCancelOnce()
			immediate = true
		}
		if !immediate {
			if p.shouldContinueAsNew() {
				p.drainSignals()
				if !p.state.CancelRequested || p.state.CancelSent {
					return insights.Operation{}, errContinueAsNew
				}
				continue // a cancel arrived: send it before continuing as new
			}
			p.planLearned()
			if !p.skipLearned(deadline) {
				p.sleep(deadline)
			}
			p.checkTemporalCancel()
			if p.state.CancelRequested && !p.state.CancelSent {
				continue
			}
		}
		immediate = false
		op, err := p.poll()
		if err != nil {
			return op, err
		}
		if op.Done {
			p.progress.done, p.progress.nextPollAt = true, nil
			return op, nil
		}
		if !workflow.Now(p.ctx).Before(deadline) {
			return op, p.timeout()
		}
	}
}

// sendCancelOnce calls CancelOperation once; UNIMPLEMENTED and errors are recorded, not fatal:
// polling goes on until the operation is done.
func (p *poller) sendCancelOnce() {
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

// timeout requests cancellation (once) and fails the run at once.
func (p *poller) timeout() error {
	if !p.state.CancelRequested {
		p.requestCancel(pollTimeoutReason)
	}
	p.sendCancelOnce()
	answer := "the server accepted the cancellation request"
	if p.state.CancelUnimplemented {
		answer = "the server cannot cancel it (UNIMPLEMENTED), so it may still finish"
	}
	return temporal.NewNonRetryableApplicationError(
		fmt.Sprintf("operation %s is not done after the polling timeout of %s; %s", p.state.Operation, p.policy.timeout, answer),
		insights.ErrPollTimeout, nil, p.state.Operation)
}

// createForgettingAfterRefusal is createOperation of runs recorded before
// createLooksAfterAmbiguityChange: a refusal made it forget that an earlier attempt may have
// committed, and a Temporal cancel was noticed only when the backoff ended. Kept so that those
// runs replay.
func createForgettingAfterRefusal(ctx workflow.Context, p *poller, in CreateIssueModelInput) (activities.StartedOperation, error) {
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	actx := withCreateActivity(dctx)
	deadline := workflow.Now(ctx).Add(p.policy.timeout)
	backoff := 5 * time.Second
	var lookFrom *time.Time
	for {
		p.checkTemporalCancel()
		cancelled := p.state.CancelRequested
		if cancelled && lookFrom == nil {
			return activities.StartedOperation{}, errNothingCreated
		}
		scheduled := workflow.Now(ctx)
		var started activities.StartedOperation
		err := workflow.ExecuteActivity(actx, acts.CreateIssueModel, activities.CreateIssueModelParams{
			Parent: in.Parent, IssueModel: in.IssueModel, LookFrom: lookFrom, LookOnly: cancelled,
		}).Get(actx, &started)
		switch {
		case err == nil && started.Operation == "":
			return started, errNothingCreated // LookOnly found nothing
		case err == nil:
			p.setLastError("")
			return started, nil
		case isNonRetryable(err):
			return started, err
		}
		p.setLastError(rootMessage(err))
		if !insights.MayHaveCommitted(err) {
			lookFrom = nil // refused: the attempts so far created nothing
		} else if lookFrom == nil {
			lookFrom = &scheduled
		}
		if workflow.Now(ctx).Add(backoff).After(deadline) {
			return started, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
				"could not start CreateIssueModel within the polling timeout of %s; last error: %s", p.policy.timeout, rootMessage(err)),
				insights.ErrPollTimeout, err)
		}
		workflow.GetLogger(ctx).Warn("CreateIssueModel failed; retrying", "Error", err, "Backoff", backoff, "LookForEarlierAttempt", lookFrom != nil)
		_, _ = workflow.AwaitWithOptions(dctx, workflow.AwaitOptions{
			Timeout:      backoff,
			TimerOptions: workflow.TimerOptions{Summary: "retry CreateIssueModel"},
		}, func() bool { return p.state.CancelRequested && !cancelled })
		backoff = min(2*backoff, 5*time.Minute)
	}
}
