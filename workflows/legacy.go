package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/issuemodels/durable-lro/activities"
	"github.com/issuemodels/durable-lro/insights"
)

// joinServerLimits says whether a run paced by its worker now polls through the server-held
// regular activity: a worker of this release keeps no poll budget, so a local poll would escape
// every limit until the run continued as new. Each poll asks its own change ID: the SDK answers
// a change ID first asked while replaying with DefaultVersion for the rest of the run, so one ID
// asked at every poll would keep a run taken over mid-poll (its earlier polls replayed) local
// for good. Polls replayed from before the change stay local; the first poll made live joins.
func (p *poller) joinServerLimits() bool {
	if workflow.GetVersion(p.ctx, joinChangeID(p.attempts), workflow.DefaultVersion, pacedRunsJoinServerLimitsVersion) == workflow.DefaultVersion {
		return false
	}
	fenceOlderWorkers(p.ctx)
	return true
}

// joinChangeID is the change ID of pacedRunsJoinServerLimitsChange at the run's attempt-th poll.
func joinChangeID(attempt int) string {
	return fmt.Sprintf("%s-%d", pacedRunsJoinServerLimitsChange, attempt)
}

// pollPacedByWorker runs PollOperation as a local activity: a poll then costs 6 history events
// (timer started and fired, a workflow task, one marker). Its rate is bounded per worker
// (PollLimiter), and it answers with the interval at which the worker's budget serves every
// operation it polls (WorkerPace), which the loop then keeps to. called is false when the
// worker's budget refused the poll: no call was made.
func (p *poller) pollPacedByWorker() (op insights.Operation, called bool, err error) {
	var res activities.PollResult
	err = workflow.ExecuteLocalActivity(withLocalPollActivity(p.ctx), acts.PollOperation, p.state.Operation).Get(p.ctx, &res)
	if insights.IsErrorType(err, insights.ErrPollThrottled) {
		// The details are activities.PollThrottled's fields.
		var appErr *temporal.ApplicationError
		var next time.Time
		if errors.As(err, &appErr) {
			_ = appErr.Details(&p.state.WorkerPace, &next)
		}
		p.throttled(next)
		workflow.GetMetricsHandler(p.ctx).Counter(MetricPollsThrottled).Inc(1)
		return res.Operation, false, nil
	}
	p.state.WorkerPace = res.WorkerPace
	p.unthrottled(res.NextPollAt)
	return res.Operation, true, err
}

// jittered spreads d by the policy's jitter (see jitter).
func (p *poller) jittered(d time.Duration) time.Duration {
	return jitter(d, p.policy.jitter, workflow.GetInfo(p.ctx).WorkflowExecution.ID, p.state.Polls)
}

// workerPacedWait is the wait before the next poll of a run paced by its worker: the policy's
// interval, slowed to the worker's pace or slot.
func (p *poller) workerPacedWait(now time.Time, interval time.Duration) time.Duration {
	var wait, slower time.Duration
	if p.workerSlots && !p.state.NextPollAt.IsZero() {
		// The worker keeps a slot for the next poll: poll then, or after the policy's interval
		// if that is later. The slots are already spread; jitter would only miss them.
		wait = p.jittered(interval)
		slower = max(p.state.NextPollAt.Sub(now)-wait, 0)
		wait += slower
	} else {
		slower = max(p.state.WorkerPace-interval, 0) + p.state.RateLimitDelay
		wait = p.jittered(interval + slower)
	}
	p.progress.rateLimitDelay = 0
	if slower >= time.Second {
		p.progress.rateLimitDelay = slower.Round(time.Second)
	}
	return wait
}

// maxRateLimitDelay bounds the extra wait the poll loop adds while the worker's poll budget is
// spent.
const maxRateLimitDelay = time.Hour

// Back-pressure from the worker's GetOperation budget (activities.Activities.PollLimiter), which
// the runs wait out in their durable timers rather than in the worker. Since workerSlotsChange a
// run polls at the slot its worker keeps for it (next), whether its last poll got through or
// was refused: the worker spreads its budget over the runs it serves. Before it, and whenever
// the worker names no slot, the loop polls no more often than the worker's pace (WorkerPace);
// a poll that still finds the budget spent makes no call and doubles an extra wait added to
// every interval, starting from the policy's initial interval; each poll that gets through
// shrinks it by a tenth.
func (p *poller) throttled(next time.Time) {
	if p.useSlot(next) {
		return
	}
	p.state.RateLimitDelay = min(max(2*p.state.RateLimitDelay, p.policy.initial), maxRateLimitDelay)
}

func (p *poller) unthrottled(next time.Time) {
	if p.useSlot(next) {
		return
	}
	d := p.state.RateLimitDelay
	d -= d / 10
	if d < time.Second {
		d = 0
	}
	p.state.RateLimitDelay = d
}

// useSlot keeps the worker's slot for the next poll, when this run polls at slots and the
// worker named one.
func (p *poller) useSlot(next time.Time) bool {
	if !p.workerSlots || next.IsZero() {
		p.state.NextPollAt = time.Time{}
		return false
	}
	p.state.NextPollAt, p.state.RateLimitDelay = next, 0
	return true
}

// awaitSendingCancelOnce is the poll loop of runs recorded before outcomeBeforeEndChange: it
// sends a requested cancel once, whatever the answer, and fails at the timeout without awaiting
// the cancel's outcome. Kept so that those runs replay; new runs use the stages of life.go.
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
			p.waitForPoll(deadline)
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
	err := workflow.ExecuteActivity(withCancelActivity(p.ctx, p.state.Operation), acts.CancelOperation, p.state.Operation).Get(p.ctx, &res)
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
	actx := withCreateActivity(dctx, in.Parent)
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
