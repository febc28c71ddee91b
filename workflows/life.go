package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/issuemodels/durable-lro/activities"
	"github.com/issuemodels/durable-lro/insights"
)

// stage is where a run is in its life. step does one stage's work and returns the next stage;
// live steps the run from its first stage until it ends.
//
//	creating ──▶ polling ◀──▶ cancelling
//	    │           │              │
//	    └───────────┴──▶ ending ◀──┘
type stage int

const (
	// creating: CreateIssueModel until an operation exists (createOperation); a run that
	// awaits an existing operation, or continues a chain, begins at polling.
	creating stage = iota
	// polling: wait for the next poll time (nextPoll), then GetOperation; a requested cancel
	// the server has not taken yet moves to cancelling after the wait.
	polling
	// cancelling: CancelOperation, then GetOperation, since only a poll tells the outcome.
	cancelling
	// ending: the outcome, a failure or continue-as-new is decided (p.op, p.err).
	ending
)

// live runs the machine from first until it ends, and returns the operation as last polled and
// the error that ended the run: errContinueAsNew, errNothingCreated or a creation error (the
// state has no operation then), a PollTimeout, OperationLost or a non-retryable API error.
func (p *poller) live(first stage) (insights.Operation, error) {
	s := first
	if s == polling {
		s = p.startPolling()
	}
	for s != ending {
		s = p.step(s)
	}
	return p.op, p.err
}

func (p *poller) step(s stage) stage {
	switch s {
	case creating:
		return p.creatingStep()
	case polling:
		return p.pollingStep()
	case cancelling:
		p.tryCancel()
		return p.pollAndDecide()
	}
	return ending
}

// creatingStep starts the operation (createOperation) and then polls it, from the first poll's
// wait.
func (p *poller) creatingStep() stage {
	p.progress.phase = PhaseCreating
	p.publish()
	started, err := p.create()
	if err != nil {
		p.err = err
		return ending
	}
	p.state.Operation, p.state.StartedAt = started.Operation, workflow.Now(p.ctx)
	p.immediate = false
	return p.startPolling()
}

// startPolling begins the polling of a run: which loop its recorded versions ask for, its
// deadline, and what it knows of the operation and of a pending cancel.
func (p *poller) startPolling() stage {
	if p.state.CancelRequested {
		p.progress.phase = PhaseCancelling
	} else {
		p.progress.phase = PhasePolling
	}
	p.deadline = p.state.StartedAt.Add(p.policy.timeout)
	if workflow.GetVersion(p.ctx, apiCallsUnderServerLimitsChange, workflow.DefaultVersion, apiCallsUnderServerLimitsVersion) == workflow.DefaultVersion {
		p.workerSlots = workflow.GetVersion(p.ctx, workerSlotsChange, workflow.DefaultVersion, workerSlotsVersion) >= workerSlotsVersion
		if workflow.GetVersion(p.ctx, outcomeBeforeEndChange, workflow.DefaultVersion, outcomeBeforeEndVersion) == workflow.DefaultVersion {
			p.op, p.err = p.awaitSendingCancelOnce(p.immediate, p.deadline)
			return ending
		}
	} else {
		p.serverLimits = true
	}
	fenceOlderWorkers(p.ctx)
	p.outcomeFirst = true
	// A child awaits an operation its parent just started (a lifecycle's deploy, say).
	p.known = p.known || p.startedOperation || p.state.ContinuedAsNew > 0 || workflow.GetInfo(p.root).ParentWorkflowExecution != nil
	p.cancelDue = p.cancelPending()
	return polling
}

// pollingStep waits for the next poll time (unless a cancel or poll-now is due at once), or
// ends the run for continue-as-new; then cancels, if a cancel is pending, and polls.
func (p *poller) pollingStep() stage {
	p.checkTemporalCancel()
	if p.cancelDue && p.cancelPending() {
		p.immediate = true
	}
	p.cancelDue = false
	if !p.immediate {
		if p.shouldContinueAsNew() {
			p.drainSignals()
			if !p.cancelDue {
				p.err = errContinueAsNew
				return ending
			}
			return polling // a cancel arrived: try it before continuing as new
		}
		until := p.deadline
		if !workflow.Now(p.ctx).Before(p.deadline) {
			until = p.deadline.Add(p.outcomeGrace())
		}
		p.planLearned()
		// A poll-now update that came while the loop was busy (polling, cancelling) polls at
		// once rather than after the next timer; only runs that got one take this branch.
		if !p.pollNowDue {
			p.waitForPoll(until)
		}
		p.checkTemporalCancel()
	}
	p.immediate = false
	if p.cancelPending() {
		return cancelling
	}
	return p.pollAndDecide()
}

// pollAndDecide polls once and decides what follows: the end, once the operation is done or
// the poll failed for good or the outcome grace after the deadline passed; otherwise more
// polling, with a cancel requested once the deadline passed.
func (p *poller) pollAndDecide() stage {
	op, err := p.poll()
	p.op = op
	if err != nil {
		p.err = err
		return ending
	}
	now := workflow.Now(p.ctx)
	if op.Done {
		p.progress.done, p.progress.nextPollAt = true, nil
		if !now.Before(p.deadline) && p.state.CancelReason == pollTimeoutReason {
			p.err = p.timeoutError(endedAs(op), op)
		}
		return ending
	}
	if now.Before(p.deadline) {
		return polling
	}
	p.requestCancel(pollTimeoutReason)
	if grace := p.outcomeGrace(); !now.Before(p.deadline.Add(grace)) {
		p.err = p.timeoutError(fmt.Sprintf("cancellation was requested%s, and the outcome is still unknown %s later: it may still be running",
			p.cancelAnswer(), grace), op)
		return ending
	}
	return polling
}

// waitForPoll waits as the schedule says (nextPoll), no later than until, and wakes early on a
// signal, an update or Temporal's cancellation. A learned skip that ends in a re-check re-runs
// the estimate and asks the schedule again.
func (p *poller) waitForPoll(until time.Time) {
	for {
		now := workflow.Now(p.ctx)
		w := nextPoll(p.policy, p.state, now, until, workflow.GetInfo(p.ctx).WorkflowExecution.ID)
		if !w.Skip {
			p.sleep(now, until, w)
			return
		}
		summary := "learned: skip polls until " + p.state.Learned.SkipUntil.UTC().Format("15:04:05 UTC")
		if p.timer(w.For, w.PollAt, summary) || !w.Recheck {
			return
		}
		p.recheckLearned(p.state.Learned)
	}
}

// sleep waits the policy's wait w (for runs paced by their worker, stretched to its pace).
func (p *poller) sleep(now, until time.Time, w pollWait) {
	wait := w.For
	if !p.serverLimits {
		wait = min(p.workerPacedWait(now, w.interval), until.Sub(now))
	}
	if wait <= 0 {
		return
	}
	p.timer(wait, now.Add(wait), "next poll")
}

// timer waits d for the poll at pollAt, which the status shows, or until a signal, an update or
// Temporal's cancellation wakes the loop; it returns whether one did. An error of the wait is
// Temporal cancellation, which checkTemporalCancel handles.
func (p *poller) timer(d time.Duration, pollAt time.Time, summary string) (woken bool) {
	p.progress.nextPollAt = &pollAt
	p.publish()
	p.wake = false
	_, _ = workflow.AwaitWithOptions(p.ctx, workflow.AwaitOptions{
		Timeout:      d,
		TimerOptions: workflow.TimerOptions{Summary: summary},
	}, func() bool { return p.wake })
	p.checkTemporalCancel()
	woken = p.wake || p.state.CancelRequested
	p.wake = false
	return woken
}

// createWith makes the run begin at creating, starting its operation with create.
func (p *poller) createWith(create func() (activities.StartedOperation, error)) {
	p.create, p.startedOperation = create, true
}
