package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/issuemodels/durable-lro/insights"
)

// maxOutcomeGrace bounds how long a run that must end (its timeout passed, or its polls keep
// failing) goes on awaiting its operation's outcome; a shorter polling timeout is the grace.
const maxOutcomeGrace = time.Hour

func (p *poller) outcomeGrace() time.Duration { return min(p.policy.timeout, maxOutcomeGrace) }

// outlast keeps the run polling through non-retryable errors of an operation known to exist (a
// PERMISSION_DENIED while IAM is being changed, say): failing at once would leave its training
// running untracked. After the outcome grace of such errors without a successful poll, it
// requests cancellation (best effort) and fails with the error, naming the operation. It returns
// nil while the run is to poll on.
func (p *poller) outlast(err error) error {
	now := workflow.Now(p.ctx)
	if p.failingSince.IsZero() {
		p.failingSince = now
	}
	grace := p.outcomeGrace()
	if now.Sub(p.failingSince) < grace {
		p.logger().Warn("GetOperation failed with a non-retryable error; polling on", "Error", err, "Since", p.failingSince)
		return nil
	}
	p.requestCancel("GetOperation kept failing: " + rootMessage(err))
	if p.cancelPending() {
		p.tryCancel()
	}
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(
		"GetOperation of %s has failed for %s: %s; cancellation was requested%s; the operation may still be running",
		p.state.Operation, grace, rootMessage(err), p.cancelAnswer()), errorType(err), err, p.state.Operation)
}

// cancelAnswer says how the server took the run's cancellation request, for error messages.
func (p *poller) cancelAnswer() string {
	switch {
	case p.state.CancelUnimplemented:
		return " (the server cannot cancel it: UNIMPLEMENTED)"
	case p.state.CancelSent:
		return " and accepted"
	}
	return " but not taken by the server yet"
}

// endedAs describes a done operation's outcome for the PollTimeout message.
func endedAs(op insights.Operation) string {
	switch outcome, _ := operationOutcome(op); outcome {
	case OutcomeCancelled:
		return "cancellation was requested and the operation then ended cancelled"
	case OutcomeFailed:
		return fmt.Sprintf("cancellation was requested and the operation then failed: %v", op.Error)
	}
	return "cancellation was requested, but the operation finished anyway: its result is in the error's details"
}

// newPollTimeout is the PollTimeout failure; its details are the operation's name and, when
// known, the operation as last polled.
func newPollTimeout(msg, name string, op insights.Operation) error {
	return temporal.NewNonRetryableApplicationError(msg, insights.ErrPollTimeout, nil, name, op)
}
