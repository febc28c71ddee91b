package workflows

import (
	"fmt"

	"go.temporal.io/sdk/workflow"
)

// Updates beside the signals: `cancel` and `poll-now` as Workflow Updates answer the caller
// (the signals, unchanged, do not). They carry the same names as the signals: Temporal keeps
// signal and update names apart.
const (
	// CancelUpdate requests cancellation like the cancel signal (payload CancelRequest,
	// optional) and returns a CancelAnswer once CancelOperation was sent and the server answered,
	// or once the run knows no cancel is to be sent.
	CancelUpdate = "cancel"
	// PollNowUpdate polls at once, like the poll-now signal, and returns the status (PollStatus)
	// after that poll.
	PollNowUpdate = "poll-now"
)

// CancelAnswer is the result of the cancel update.
type CancelAnswer struct {
	Operation string `json:"operation,omitempty"`
	// Answer is ACCEPTED, UNIMPLEMENTED, ALREADY_DONE, NOTHING_CREATED or PENDING.
	Answer string `json:"answer"`
	// Reason is the run's cancel reason: this request's, or an earlier one's.
	Reason string `json:"reason"`
}

// listenForUpdates registers the update handlers on runs that serve them (updatesChange).
// The handlers only change the poller's state and await what the loop does, so a run that gets
// no update emits the commands it did before (and the change's marker).
func (p *poller) listenForUpdates() error {
	if workflow.GetVersion(p.root, updatesChange, workflow.DefaultVersion, updatesVersion) == workflow.DefaultVersion {
		return nil
	}
	fenceOlderWorkers(p.root)
	p.updates = true
	if err := workflow.SetUpdateHandlerWithOptions(p.root, CancelUpdate, p.cancelUpdate, workflow.UpdateHandlerOptions{
		Validator:   p.validateCancel,
		Description: "request cancellation; returns once CancelOperation was sent, with the server's answer",
	}); err != nil {
		return err
	}
	return workflow.SetUpdateHandlerWithOptions(p.root, PollNowUpdate, p.pollNowUpdate, workflow.UpdateHandlerOptions{
		Validator:   p.validatePollNow,
		Description: "poll at once; returns the status after the poll",
	})
}

// outcomeKnown: the run knows its operation's outcome or is ending; no update can apply.
func (p *poller) outcomeKnown() bool { return p.progress.done || p.ending }

// validateCancel refuses, without writing history, a cancel that cannot apply: the run is
// ending (a refused update leaves no event).
func (p *poller) validateCancel(req *CancelRequest) error {
	if p.outcomeKnown() {
		return fmt.Errorf("the run is ending (operation %q, outcome %q): nothing to cancel", p.state.Operation, p.progress.outcome)
	}
	return nil
}

func (p *poller) cancelUpdate(ctx workflow.Context, req *CancelRequest) (CancelAnswer, error) {
	reason := ""
	if req != nil {
		reason = req.Reason
	}
	p.requestCancel(reason)
	// Disconnected: a Temporal cancel of the run must not cut this answer short (the run goes
	// on to send the cancel and learn the outcome).
	ctx, _ = workflow.NewDisconnectedContext(ctx)
	err := workflow.Await(ctx, func() bool { return p.state.CancelSent || p.outcomeKnown() })
	answer := CancelAnswer{Operation: p.state.Operation, Reason: p.state.CancelReason}
	switch {
	case p.state.CancelUnimplemented:
		answer.Answer = CancelUnimplementedAnswer
	case p.state.CancelSent:
		answer.Answer = CancelAccepted
	case p.state.Operation == "":
		answer.Answer = CancelNothingCreated
	case p.ending && !p.progress.done:
		answer.Answer = CancelPending
	default:
		answer.Answer = CancelAlreadyDone
	}
	return answer, err
}

// validatePollNow refuses a poll-now before the operation exists or once the run is ending.
func (p *poller) validatePollNow() error {
	if p.state.Operation == "" {
		return fmt.Errorf("no operation to poll yet: the run is %s", p.progress.phase)
	}
	if p.outcomeKnown() {
		return fmt.Errorf("the run is ending (operation %q, outcome %q): no more polls", p.state.Operation, p.progress.outcome)
	}
	return nil
}

// pollNowUpdate answers after a GetOperation call that began after the update: a poll already
// running when it came was asked before it, and one the worker's budget refuses makes no call
// (the run then polls at its next slot).
func (p *poller) pollNowUpdate(ctx workflow.Context) (*PollStatus, error) {
	begun := p.attempts
	p.wake, p.pollNowDue = true, true
	ctx, _ = workflow.NewDisconnectedContext(ctx) // as cancelUpdate's
	err := workflow.Await(ctx, func() bool { return p.polledAt > begun || p.outcomeKnown() })
	return p.status(), err
}

// finishUpdates lets update handlers still waiting see the run's end and answer before the run
// closes (a run that closes under a running handler would leave its caller without an answer).
// It emits no command.
func (p *poller) finishUpdates() {
	if !p.updates {
		return
	}
	p.ending = true
	ctx, _ := workflow.NewDisconnectedContext(p.root)
	_ = workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
}
