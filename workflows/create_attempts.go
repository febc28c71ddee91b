package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/issuemodels/durable-lro/activities"
	"github.com/issuemodels/durable-lro/insights"
)

// createOperation runs the CreateIssueModel activity, retrying here rather than in the
// activity's retry policy because each retry depends on how the earlier attempts failed.
//
// The rule that keeps one model per run: once any attempt may have committed (its reply was lost,
// its worker died: insights.MayHaveCommitted), every later attempt first looks for an identical
// creation made since that attempt (LookFrom) and adopts it. A later refusal does not undo this:
// a refusal proves only that the refused attempt created nothing, and RESOURCE_EXHAUSTED may be
// the region's one creation slot held by our own earlier attempt. An empty look-up is trusted only
// after the operation list has had NotFoundGrace to show that attempt's operation; until then
// attempts only look. A cancel likewise ends the run "before an operation was created" only when
// no attempt may have committed, or a trusted look-up found nothing.
//
// RESOURCE_EXHAUSTED, notably another creation running in the region, is waited out with
// backoff for as long as the policy timeout allows. The activity runs to its end even if the run
// is cancelled meanwhile: the server may already have committed, and the operation is needed to
// cancel it; a cancel, Temporal's included, ends the backoff at once.
func createOperation(ctx workflow.Context, p *poller, in CreateIssueModelInput) (activities.StartedOperation, error) {
	if workflow.GetVersion(ctx, createLooksAfterAmbiguityChange, workflow.DefaultVersion, createLooksAfterAmbiguityVersion) == workflow.DefaultVersion {
		return createForgettingAfterRefusal(ctx, p, in)
	}
	fenceOlderWorkers(ctx)
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	c := &creation{p: p, in: in, ctx: ctx, dctx: dctx, actx: withCreateActivity(dctx, in.Parent),
		deadline: workflow.Now(ctx).Add(p.policy.timeout), backoff: 5 * time.Second}
	for {
		p.checkTemporalCancel()
		cancelled := p.state.CancelRequested
		if cancelled && c.lookFrom == nil {
			return activities.StartedOperation{}, errNothingCreated
		}
		started, done, err := c.attempt(cancelled)
		if done {
			return started, err
		}
		if ended := c.pastDeadline(err); ended != nil {
			return started, ended
		}
		c.wait(err, cancelled)
	}
}

// creation is what createOperation knows of its attempts so far.
type creation struct {
	p               *poller
	in              CreateIssueModelInput
	ctx, dctx, actx workflow.Context
	deadline        time.Time
	backoff         time.Duration
	lookFrom        *time.Time // when the first attempt that may have committed was scheduled
	ambiguousEnd    time.Time  // when the last such attempt failed: none can have committed later
	refusedSince    time.Time  // start of a streak of non-retryable answers after an ambiguous attempt
}

// attempt makes one attempt: a creation, or a look-up only while cancelled or while the
// operation list may not show an earlier attempt yet. done: the creation ended, with the
// operation started or found, or with the run's error; otherwise err is the attempt's error
// (nil: a look-up that found nothing yet).
func (c *creation) attempt(cancelled bool) (started activities.StartedOperation, done bool, err error) {
	p := c.p
	scheduled := workflow.Now(c.ctx)
	listMayLag := c.lookFrom != nil && scheduled.Before(c.ambiguousEnd.Add(p.policy.notFoundGrace))
	lookOnly := cancelled || listMayLag
	activity := acts.CreateIssueModel
	if lookOnly {
		activity = acts.FindIssueModelCreation
	}
	err = workflow.ExecuteActivity(c.actx, activity, activities.CreateIssueModelParams{
		Parent: c.in.Parent, IssueModel: c.in.IssueModel, LookFrom: c.lookFrom, LookOnly: lookOnly,
	}).Get(c.actx, &started)
	switch {
	case err == nil && started.Operation == "" && cancelled && !listMayLag:
		return started, true, errNothingCreated // a trusted look-up found nothing
	case err == nil && started.Operation == "":
		p.setLastError("an earlier CreateIssueModel attempt may have created the model; looking again until the operation list has caught up")
	case err == nil:
		p.setLastError("")
		return started, true, nil
	case isNonRetryable(err) && c.lookFrom == nil:
		return started, true, err
	case isNonRetryable(err):
		// An earlier attempt may have created the training: ending now (a look-up refused,
		// say) would leave it untracked. Outlast the refusal for the outcome grace.
		p.setLastError(rootMessage(err))
		if c.refusedSince.IsZero() {
			c.refusedSince = scheduled
		}
		if workflow.Now(c.ctx).Sub(c.refusedSince) >= p.outcomeGrace() {
			return started, true, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
				"an earlier CreateIssueModel attempt may have created the model, but it could not be looked up for %s: %s",
				p.outcomeGrace(), rootMessage(err)), errorType(err), err)
		}
	default:
		p.setLastError(rootMessage(err))
		c.refusedSince = time.Time{}
		if insights.MayHaveCommitted(err) && !lookOnly && !failedLookingUp(err) {
			if c.lookFrom == nil {
				c.lookFrom = &scheduled
			}
			c.ambiguousEnd = workflow.Now(c.ctx)
		}
	}
	return started, false, err
}

// pastDeadline returns the run's PollTimeout once the next attempt would come after the polling
// timeout and no attempt may have committed, or once the outcome grace after it passed too.
// Before that grace, an attempt may have created the training: the timeout cancels it, so the
// run looks for it (until the list has caught up) and cancels what it finds, as the poll loop's
// timeout does; a trusted empty look-up ends the run with nothing created.
func (c *creation) pastDeadline(err error) error {
	p := c.p
	if !workflow.Now(c.ctx).Add(c.backoff).After(c.deadline) {
		return nil
	}
	switch {
	case c.lookFrom == nil:
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"could not start CreateIssueModel within the polling timeout of %s; last error: %s", p.policy.timeout, p.state.LastError),
			insights.ErrPollTimeout, err)
	case workflow.Now(c.ctx).After(c.deadline.Add(p.outcomeGrace())):
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"could not start CreateIssueModel within the polling timeout of %s, and an attempt that may have created the model could not be found within %s more; last error: %s",
			p.policy.timeout, p.outcomeGrace(), p.state.LastError), insights.ErrPollTimeout, err)
	}
	p.requestCancel(pollTimeoutReason)
	return nil
}

// wait waits before the next attempt: the backoff after a failure (growing with each), or,
// after a look-up that found nothing yet, until the operation list can be trusted. A cancel,
// Temporal's included, ends the wait at once.
func (c *creation) wait(err error, cancelled bool) {
	p := c.p
	wait, summary := c.backoff, "retry CreateIssueModel"
	if err == nil {
		// Not listed yet: nothing failed, so the backoff does not grow.
		wait, summary = max(c.ambiguousEnd.Add(p.policy.notFoundGrace).Sub(workflow.Now(c.ctx)), time.Second), "look again once the operation list has caught up"
	}
	workflow.GetLogger(c.ctx).Warn("CreateIssueModel did not start the operation; retrying", "Error", err, "Wait", wait, "LookForEarlierAttempt", c.lookFrom != nil)
	_, _ = workflow.AwaitWithOptions(c.dctx, workflow.AwaitOptions{
		Timeout:      wait,
		TimerOptions: workflow.TimerOptions{Summary: summary},
	}, func() bool {
		return (p.state.CancelRequested && !cancelled) || (p.root.Err() != nil && !p.temporalCancelled)
	})
	if err != nil {
		c.backoff = min(2*c.backoff, 5*time.Minute)
	}
}

// failedLookingUp: the attempt failed in its look-up (CreateIssueModel lists the operations
// before it creates, and says so in its error), so it made no create call and cannot have
// committed.
func failedLookingUp(err error) bool {
	return strings.HasPrefix(rootMessage(err), "ListOperations: ")
}
