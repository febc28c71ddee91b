package workflows

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/issuemodels/durable-lro/activities"
	"github.com/issuemodels/durable-lro/insights"
)

// Phases reported by the status query.
const (
	PhaseValidating = "validating"
	PhaseCreating   = "creating"
	PhasePolling    = "polling"
	PhaseCancelling = "cancelling"
	PhaseDone       = "done"
)

// PollState is what an awaiting run carries over continue-as-new.
type PollState struct {
	Operation string `json:"operation"`
	// StartedAt is when the operation was started or attached (workflow time); the policy
	// timeout and the NOT_FOUND grace count from it.
	StartedAt time.Time `json:"startedAt"`
	Polls     int       `json:"polls"`
	// BackoffFrom is the poll count at which the backoff last restarted (a cancel restarts it).
	BackoffFrom     int    `json:"backoffFrom,omitempty"`
	CancelRequested bool   `json:"cancelRequested,omitempty"`
	CancelReason    string `json:"cancelReason,omitempty"`
	CancelSent      bool   `json:"cancelSent,omitempty"`
	// CancelUnimplemented records that the server answered UNIMPLEMENTED to CancelOperation.
	CancelUnimplemented bool   `json:"cancelUnimplemented,omitempty"`
	LastError           string `json:"lastError,omitempty"`
	ContinuedAsNew      int    `json:"continuedAsNew,omitempty"`
	// WorkerPace is the shortest interval the worker's poll budget allows every run it serves
	// (activities.PollResult.MinInterval), as of the last poll.
	WorkerPace time.Duration `json:"workerPace,omitempty"`
	// RateLimitDelay is added to every interval after polls that found the worker's poll budget
	// spent (see poller.throttled).
	RateLimitDelay time.Duration `json:"rateLimitDelay,omitempty"`
}

// Status is the answer of the status query.
type Status struct {
	Operation       string     `json:"operation,omitempty"`
	Phase           string     `json:"phase"`
	Step            string     `json:"step,omitempty"` // lifecycle workflow only
	Done            bool       `json:"done"`
	Polls           int        `json:"polls"`
	LastPolledAt    *time.Time `json:"lastPolledAt,omitempty"`
	NextPollAt      *time.Time `json:"nextPollAt,omitempty"`
	LastError       string     `json:"lastError,omitempty"`
	CancelRequested bool       `json:"cancelRequested"`
	CancelReason    string     `json:"cancelReason,omitempty"`
	// CancelUnimplemented: the server answered UNIMPLEMENTED to CancelOperation.
	CancelUnimplemented bool            `json:"cancelUnimplemented,omitempty"`
	Metadata            json.RawMessage `json:"metadata,omitempty"`
	Outcome             string          `json:"outcome,omitempty"`
	ContinuedAsNew      int             `json:"continuedAsNew"`
	// RateLimitDelay ("1m30s") is how much longer than the policy says the run waits before its
	// next poll to share the worker's poll budget (POLLS_PER_SECOND).
	RateLimitDelay string `json:"rateLimitDelay,omitempty"`
}

// openStatus registers the status query and validates the input; an invalid input ends the run
// with the status saying why.
func openStatus(ctx workflow.Context, validate func() (pollPolicy, error)) (*Status, pollPolicy, error) {
	status := &Status{Phase: PhaseValidating}
	if err := workflow.SetQueryHandler(ctx, StatusQuery, func() (*Status, error) { return status, nil }); err != nil {
		return nil, pollPolicy{}, err
	}
	policy, err := validate()
	if err != nil {
		status.finish(err)
		workflow.GetMetricsHandler(ctx).WithTags(map[string]string{"outcome": errorType(err)}).Counter(MetricOutcomes).Inc(1)
	}
	return status, policy, err
}

// finish marks the run done, with the error that ended it if any.
func (s *Status) finish(err error) {
	s.Phase, s.Done, s.NextPollAt = PhaseDone, true, nil
	if err != nil {
		s.LastError = rootMessage(err)
	}
}

// continueAsNew continues the workflow as new; next is its input carrying p's state.
func (p *poller) continueAsNew(workflowFn, next any) error {
	p.state.ContinuedAsNew++
	return workflow.NewContinueAsNewError(p.ctx, workflowFn, next)
}

// errContinueAsNew tells the caller of await to continue as new with the poller's state.
var errContinueAsNew = errors.New("continue as new")

// poller is the one poll loop of the codebase: a durable timer with backoff and jitter, then the
// GetOperation activity, until the operation is done. It wakes early on the cancel and poll-now
// signals and on Temporal's own cancellation, requests cancellation from the API at most once,
// and keeps polling until the outcome is known.
type poller struct {
	ctx      workflow.Context // switches to a disconnected context once the run is cancelled
	root     workflow.Context
	policy   pollPolicy
	state    *PollState
	status   *Status
	wake     bool
	canceled bool // Temporal cancellation seen
	runPolls int
	vis      *visibility
}

// newPoller registers the signal handlers and the status query. status must outlive the
// poller (the query reads it).
func newPoller(ctx workflow.Context, policy pollPolicy, state *PollState, status *Status) *poller {
	p := &poller{ctx: ctx, root: ctx, policy: policy, state: state, status: status, vis: newVisibility(ctx)}
	status.Polls = state.Polls
	status.CancelRequested = state.CancelRequested
	status.CancelReason = state.CancelReason
	status.CancelUnimplemented = state.CancelUnimplemented
	status.ContinuedAsNew = state.ContinuedAsNew
	status.Operation = state.Operation
	// Signal handlers run for the whole run, also while an activity runs, so status shows a
	// cancel at once; a disconnected context keeps them alive after Temporal cancellation.
	sigCtx, _ := workflow.NewDisconnectedContext(ctx)
	cancelCh := workflow.GetSignalChannel(ctx, CancelSignal)
	pollNowCh := workflow.GetSignalChannel(ctx, PollNowSignal)
	workflow.Go(sigCtx, func(c workflow.Context) {
		for {
			var req CancelRequest
			cancelCh.Receive(c, &req)
			p.requestCancel(req.Reason)
		}
	})
	workflow.Go(sigCtx, func(c workflow.Context) {
		for {
			pollNowCh.Receive(c, nil)
			p.wake = true
		}
	})
	return p
}

// drainSignals takes signals that arrived in this workflow task but that the handlers have not
// run for yet, so none is lost at continue-as-new.
func (p *poller) drainSignals() {
	cancelCh := workflow.GetSignalChannel(p.root, CancelSignal)
	for {
		var req CancelRequest
		if !cancelCh.ReceiveAsync(&req) {
			break
		}
		p.requestCancel(req.Reason)
	}
	pollNowCh := workflow.GetSignalChannel(p.root, PollNowSignal)
	for pollNowCh.ReceiveAsync(nil) {
	}
}

func (p *poller) requestCancel(reason string) {
	if p.state.CancelRequested {
		return
	}
	if reason == "" {
		reason = "cancel requested"
	}
	p.state.CancelRequested, p.state.CancelReason = true, reason
	p.status.CancelRequested, p.status.CancelReason = true, reason
	p.wake = true
}

// checkTemporalCancel switches to a disconnected context after Temporal cancellation so the
// cancel and the remaining polls can still run.
func (p *poller) checkTemporalCancel() {
	if !p.canceled && p.root.Err() != nil {
		p.canceled = true
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
	p.status.Phase = PhaseCancelling
	p.state.BackoffFrom = p.state.Polls
	var res activities.CancelResult
	err := workflow.ExecuteActivity(withShortActivity(p.ctx), acts.CancelOperation, p.state.Operation).Get(p.ctx, &res)
	switch {
	case err != nil:
		p.setLastError(fmt.Sprintf("CancelOperation: %v", rootMessage(err)))
	case res.Unimplemented:
		p.state.CancelUnimplemented = true
		p.status.CancelUnimplemented = true
		p.setLastError("CancelOperation: UNIMPLEMENTED: the server cannot cancel this operation; waiting for it to finish")
	}
	p.publish()
	p.logger().Info("Requested cancellation", "Reason", p.state.CancelReason, "Unimplemented", res.Unimplemented)
}

// logger logs with the operation's name besides the SDK's workflow ID, run ID and type.
func (p *poller) logger() log.Logger {
	return log.With(workflow.GetLogger(p.ctx), "Operation", p.state.Operation)
}

// publish shows a one-line summary of the status as the run's "current details" in the Web UI
// (and `temporal workflow describe`; not part of the history), and keeps the search attributes
// (operation, phase) up to date.
func (p *poller) publish() {
	st := p.status
	p.vis.set(p.ctx, st.Operation, st.Phase)
	line := fmt.Sprintf("**%s** `%s` · %d polls", st.Phase, st.Operation, st.Polls)
	if st.NextPollAt != nil {
		line += " · next poll " + st.NextPollAt.UTC().Format("2006-01-02 15:04:05 UTC")
	}
	if st.Outcome != "" {
		line += " · outcome " + st.Outcome
	}
	if st.RateLimitDelay != "" {
		line += " · slowed by the worker's poll rate limit: +" + st.RateLimitDelay
	}
	if st.CancelRequested {
		line += " · cancel requested: " + st.CancelReason
		if st.CancelUnimplemented {
			line += " (the server cannot cancel it)"
		}
	}
	if st.LastError != "" {
		line += "\n\nlast error: " + st.LastError
	}
	workflow.SetCurrentDetails(p.root, line)
}

func (p *poller) setLastError(msg string) {
	p.state.LastError = msg
	p.status.LastError = msg
}

// await polls until the operation is done and returns it, or returns errContinueAsNew, a
// PollTimeout, OperationLost or a non-retryable API error.
func (p *poller) await(immediate bool) (insights.Operation, error) {
	if p.state.CancelRequested {
		p.status.Phase = PhaseCancelling
	} else {
		p.status.Phase = PhasePolling
	}
	deadline := p.state.StartedAt.Add(p.policy.timeout)
	for {
		p.checkTemporalCancel()
		if p.state.CancelRequested && !p.state.CancelSent {
			p.sendCancel()
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
			p.sleep(deadline)
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
			p.status.Done = true
			p.status.NextPollAt = nil
			return op, nil
		}
		if !workflow.Now(p.ctx).Before(deadline) {
			return op, p.timeout()
		}
	}
}

func (p *poller) shouldContinueAsNew() bool {
	if p.canceled || p.runPolls == 0 {
		// A cancellation request would not carry over to the new run; and every run polls at
		// least once so that continuing as new always makes progress.
		return false
	}
	if p.runPolls >= p.policy.continueAsNewAfterPolls {
		return true
	}
	return workflow.GetInfo(p.ctx).GetContinueAsNewSuggested()
}

// sleep waits for the next poll time, the deadline, a signal or cancellation, whichever first.
func (p *poller) sleep(deadline time.Time) {
	now := workflow.Now(p.ctx)
	age := now.Sub(p.state.StartedAt)
	if p.state.CancelRequested {
		age = 0 // confirm a cancellation at the backoff's pace, not the age's
	}
	interval := p.policy.ageInterval(p.state.Polls-p.state.BackoffFrom, age)
	slower := max(p.state.WorkerPace-interval, 0) + p.state.RateLimitDelay
	p.status.RateLimitDelay = ""
	if slower >= time.Second {
		p.status.RateLimitDelay = slower.Round(time.Second).String()
	}
	wait := p.jittered(interval + slower)
	if left := deadline.Sub(now); wait > left {
		wait = left
	}
	if wait <= 0 {
		return
	}
	next := now.Add(wait)
	p.status.NextPollAt = &next
	p.publish()
	p.wake = false
	// An error here is Temporal cancellation, which checkTemporalCancel handles.
	_, _ = workflow.AwaitWithOptions(p.ctx, workflow.AwaitOptions{
		Timeout:      wait,
		TimerOptions: workflow.TimerOptions{Summary: "next poll"},
	}, func() bool { return p.wake })
	p.wake = false
}

// jittered spreads d by ±policy.jitter with a fraction derived from the workflow ID and the poll
// count: deterministic on replay, different across runs.
func (p *poller) jittered(d time.Duration) time.Duration {
	if p.policy.jitter == 0 {
		return d
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "%s/%d", workflow.GetInfo(p.ctx).WorkflowExecution.ID, p.state.Polls)
	frac := float64(h.Sum64()%10001)/10000*2 - 1 // -1..1
	return time.Duration(float64(d) * (1 + p.policy.jitter*frac))
}

// poll runs GetOperation once (the PollOperation activity) and folds the result into state and
// status.
//
// PollOperation is a local activity: a short read that is safe to repeat, so it needs no
// activity task of its own; a poll then costs 6 history events (timer started and fired, a
// workflow task, one marker) instead of 11. Its rate is bounded per worker (PollLimiter), not by
// the task queue, and it answers with the interval at which the worker's budget serves every
// operation it polls (MinInterval), which the loop then keeps to.
func (p *poller) poll() (insights.Operation, error) {
	var res activities.PollResult
	err := workflow.ExecuteLocalActivity(withPollActivity(p.ctx), acts.PollOperation, p.state.Operation).Get(p.ctx, &res)
	op := res.Operation
	if insights.IsErrorType(err, insights.ErrPollThrottled) {
		var appErr *temporal.ApplicationError
		if errors.As(err, &appErr) {
			_ = appErr.Details(&p.state.WorkerPace)
		}
		p.throttled() // no call was made: not a poll
		workflow.GetMetricsHandler(p.ctx).Counter(MetricPollsThrottled).Inc(1)
		return op, nil
	}
	p.state.WorkerPace = res.MinInterval
	p.unthrottled()
	now := workflow.Now(p.ctx)
	p.state.Polls++
	p.runPolls++
	workflow.GetMetricsHandler(p.ctx).Counter(MetricPolls).Inc(1)
	p.status.Polls = p.state.Polls
	p.status.LastPolledAt = &now
	if err == nil {
		p.setLastError("")
		if op.Metadata != nil {
			p.status.Metadata = op.Metadata
		}
		return op, nil
	}
	p.setLastError(rootMessage(err))
	p.publish()
	switch {
	case insights.IsErrorType(err, "NotFound"):
		if now.Sub(p.state.StartedAt) < p.policy.notFoundGrace {
			return op, nil // not visible yet: eventual consistency right after creation
		}
		return op, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("operation %s no longer exists (operations expire after some days); it was last seen %d polls ago",
				p.state.Operation, p.runPolls), insights.ErrOperationLost, err)
	case isNonRetryable(err):
		return op, err
	default:
		// Transient trouble that outlasted the activity's retries: try again at the next poll.
		p.logger().Warn("GetOperation failed; will poll again", "Error", err)
		return op, nil
	}
}

// maxRateLimitDelay bounds the extra wait the poll loop adds while the worker's poll budget is
// spent.
const maxRateLimitDelay = time.Hour

// Back-pressure from the worker's GetOperation budget (activities.Activities.PollLimiter). The
// loop never polls more often than the worker's pace (WorkerPace), which spreads the budget
// evenly over the runs it serves; a poll that still finds the budget spent (a burst) makes no
// call and doubles an extra wait added to every interval, starting from the policy's initial
// interval; each poll that gets through shrinks it by a tenth. Either way the runs wait in their
// durable timers rather than in the worker.
func (p *poller) throttled() {
	p.state.RateLimitDelay = min(max(2*p.state.RateLimitDelay, p.policy.initial), maxRateLimitDelay)
}

func (p *poller) unthrottled() {
	d := p.state.RateLimitDelay
	d -= d / 10
	if d < time.Second {
		d = 0
	}
	p.state.RateLimitDelay = d
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

func isNonRetryable(err error) bool {
	var appErr *temporal.ApplicationError
	return errors.As(err, &appErr) && appErr.NonRetryable()
}

// rootMessage is the innermost error message: the API's answer, without the activity wrapper.
func rootMessage(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}

// shortRetry: GetOperation and CancelOperation are quick calls; retry transient errors briefly
// and leave longer outages to the poll loop.
var shortRetry = temporal.RetryPolicy{
	InitialInterval:        time.Second,
	BackoffCoefficient:     2,
	MaximumInterval:        30 * time.Second,
	NonRetryableErrorTypes: insights.NonRetryableErrorTypes(),
}

func withShortActivity(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    30 * time.Second,
		ScheduleToCloseTimeout: 3 * time.Minute,
		RetryPolicy:            &shortRetry,
	})
}

func withPollActivity(ctx workflow.Context) workflow.Context {
	return workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout:    30 * time.Second,
		ScheduleToCloseTimeout: 3 * time.Minute,
		RetryPolicy:            &shortRetry,
	})
}

// end publishes the final state and, unless the run continues as new, records its outcome
// (Status.Outcome, else the error's type) and the operation's age in the SDK's metrics.
func (p *poller) end(err error) {
	p.publish()
	var can *workflow.ContinueAsNewError
	if errors.As(err, &can) {
		return
	}
	outcome := p.status.Outcome
	if outcome == "" {
		outcome = errorType(err)
	}
	h := workflow.GetMetricsHandler(p.ctx)
	h.WithTags(map[string]string{"outcome": outcome}).Counter(MetricOutcomes).Inc(1)
	if p.state.Operation != "" && !p.state.StartedAt.IsZero() {
		h.Timer(MetricOperationAge).Record(workflow.Now(p.ctx).Sub(p.state.StartedAt))
	}
}

// errorType names an error for metrics: the ApplicationError type (PollTimeout, OperationLost,
// PermissionDenied, ...), "Canceled", or "Error".
func errorType(err error) string {
	var appErr *temporal.ApplicationError
	var canceled *temporal.CanceledError
	switch {
	case err == nil:
		return "OK"
	case errors.As(err, &appErr) && appErr.Type() != "":
		return appErr.Type()
	case errors.As(err, &canceled):
		return "Canceled"
	}
	return "Error"
}
