package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/issuemodels/durable-lro/activities"
	"github.com/issuemodels/durable-lro/insights"
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
	// (activities.PollResult.WorkerPace), as of the last poll.
	WorkerPace time.Duration `json:"workerPace,omitempty"`
	// RateLimitDelay is added to every interval after polls that found the worker's poll budget
	// spent (see poller.throttled).
	RateLimitDelay time.Duration `json:"rateLimitDelay,omitempty"`
	// NextPollAt is the slot the worker keeps for the next poll (activities.PollResult.NextPollAt),
	// when the run polls at its worker's slots (workerSlotsChange).
	NextPollAt time.Time `json:"nextPollAt,omitzero"`
	// Learned is the learned schedule (PollingPolicy.Learn), once decided.
	Learned *LearnedSchedule `json:"learned,omitempty"`
}

// poller is the state of one run's life (life.go): the creation, then a durable timer as the
// schedule says (schedule.go), then the PollOperation activity, until the operation is done. It
// wakes early on the cancel and poll-now signals and updates and on Temporal's own cancellation,
// retries a requested cancel until the server has it, and keeps polling until the outcome is
// known.
type poller struct {
	ctx      workflow.Context // switches to a disconnected context once the run is cancelled
	root     workflow.Context
	policy   validPolicy
	state    *PollState
	progress progress
	wake     bool
	// temporalCancelled: Temporal's cancellation of the run was seen.
	temporalCancelled bool
	runPolls          int
	// serverLimits: the poll is a regular activity held by the server's rate limits, and the
	// loop waits the policy's interval only (apiCallsUnderServerLimitsChange).
	serverLimits bool
	// workerSlots: this run polls at the slots its worker keeps for it (workerSlotsChange).
	workerSlots bool
	vis         *visibility
	// startedOperation: this run started the operation (CreateIssueModelWorkflow), so StartedAt
	// is its createTime, give or take the create call; the learned schedule needs that.
	startedOperation bool
	// onMetadata, when set, sees the metadata of each successful poll (progress.go).
	onMetadata func(metadata []byte)

	// outcomeFirst: this run ends only once its operation's outcome is known (or a bounded
	// grace after its timeout), retries a requested cancel until the server has it, and bounds
	// its history by the SDK's count (outcomeBeforeEndChange).
	outcomeFirst bool
	// cancelDue: a cancel was requested (or is pending from the previous run) and not yet tried
	// since; the loop tries it at once rather than after its timer.
	cancelDue bool
	// cancelTried: this run has called CancelOperation at least once.
	cancelTried bool
	// known: the operation is known to exist (this run created it, a poll found it, or an
	// earlier run of the chain did), so a non-retryable poll error is trouble to outlast, not a
	// reason to leave the training untracked.
	known bool
	// failingSince is when the current streak of non-retryable poll errors began.
	failingSince time.Time

	// updates: the run serves the cancel and poll-now updates (updatesChange).
	updates bool
	// ending: the run is closing; waiting update handlers answer now.
	ending bool
	// pollNowDue: a poll-now update waits for a poll attempt not made yet.
	pollNowDue bool
	// attempts counts this run's poll attempts begun; polledAt is the attempt of its last
	// GetOperation call (an attempt the worker's budget refused makes none).
	attempts, polledAt int

	// The life of the run (life.go): create starts the operation (runs that begin at
	// creating); immediate: the next poll is due at once; deadline is StartedAt plus the
	// policy's timeout; op and err are the run's end.
	create    func() (activities.StartedOperation, error)
	immediate bool
	deadline  time.Time
	op        insights.Operation
	err       error
}

// newPoller answers the status query from the start; the signal handlers start with
// listenForSignals once the input is valid.
func newPoller(ctx workflow.Context, state *PollState) (*poller, error) {
	p := &poller{ctx: ctx, root: ctx, state: state, progress: progress{phase: PhaseValidating}, vis: newVisibility(ctx)}
	err := workflow.SetQueryHandler(ctx, StatusQuery, func() (*PollStatus, error) { return p.status(), nil })
	return p, err
}

// openPoller starts a run's poller: the status query from the start; for a valid input the
// policy and the signal handlers; an invalid input ends the run here (rejectInput).
func openPoller(ctx workflow.Context, state *PollState, policy validPolicy, invalid error) (*poller, error) {
	p, err := newPoller(ctx, state)
	if err != nil {
		return nil, err
	}
	if invalid != nil {
		return nil, p.rejectInput(invalid)
	}
	p.policy = policy
	p.listenForSignals()
	if err := p.listenForUpdates(); err != nil {
		return nil, err
	}
	return p, nil
}

// continueAsNew continues the workflow as new; next is its input carrying p's state.
func (p *poller) continueAsNew(workflowFn, next any) error {
	p.state.ContinuedAsNew++
	return workflow.NewContinueAsNewError(p.ctx, workflowFn, next)
}

// errContinueAsNew tells the caller of live to continue as new with the poller's state.
var errContinueAsNew = errors.New("continue as new")

// logger logs with the operation's name besides the SDK's workflow ID, run ID and type.
func (p *poller) logger() log.Logger {
	return log.With(workflow.GetLogger(p.ctx), "Operation", p.state.Operation)
}

func (p *poller) setLastError(msg string) { p.state.LastError = msg }

// maxHistoryEvents is where a run continues as new whatever it counted: refused polls, cancel
// retries and learned re-checks all add events that no poll count sees. One loop iteration adds
// well under 100, so a run stays under 4,096 events.
const maxHistoryEvents = 3500

func (p *poller) shouldContinueAsNew() bool {
	if (p.temporalCancelled && !p.outcomeFirst) || p.runPolls == 0 {
		// Runs before outcomeBeforeEndChange: a Temporal cancellation request would not carry
		// over to the new run (since, the state's CancelRequested carries it, and a run that
		// awaits a cancel's outcome for hours must bound its history too). Every run polls at
		// least once so that continuing as new always makes progress. Update handlers still
		// waiting answer with the run's state when it ends (finishUpdates).
		return false
	}
	if p.runPolls >= p.policy.continueAsNewAfterPolls {
		return true
	}
	if p.outcomeFirst && workflow.GetInfo(p.ctx).GetCurrentHistoryLength() >= maxHistoryEvents {
		return true
	}
	return workflow.GetInfo(p.ctx).GetContinueAsNewSuggested()
}

// poll runs GetOperation once (the PollOperation activity) and folds the result into the state.
//
// PollOperation is a regular activity, like every API call: the task queue's rate limits, per
// Google project where fairness is on, hold the fleet's calls to the API's quota. A poll costs
// 11 history events (timer started and fired, two workflow tasks, the activity's three).
func (p *poller) poll() (insights.Operation, error) {
	p.pollNowDue = false // this attempt is the one a poll-now update asked for
	p.attempts++
	var op insights.Operation
	var err error
	if !p.serverLimits {
		p.serverLimits = p.joinServerLimits()
	}
	if p.serverLimits {
		var res activities.PollResult
		err = workflow.ExecuteActivity(withShortActivity(p.ctx, p.state.Operation), acts.PollOperation, p.state.Operation).Get(p.ctx, &res)
		op = res.Operation
		if insights.IsErrorType(err, insights.ErrPollThrottled) {
			// A worker that still paces its polls refused: no call was made, so not a poll.
			workflow.GetMetricsHandler(p.ctx).Counter(MetricPollsThrottled).Inc(1)
			return op, nil
		}
	} else {
		var called bool
		if op, called, err = p.pollPacedByWorker(); !called {
			return op, nil
		}
	}
	p.polledAt = p.attempts
	now := workflow.Now(p.ctx)
	p.state.Polls++
	p.runPolls++
	workflow.GetMetricsHandler(p.ctx).Counter(MetricPolls).Inc(1)
	p.progress.lastPolledAt = &now
	if err == nil {
		p.setLastError("")
		p.known, p.failingSince = true, time.Time{}
		if op.Metadata != nil {
			p.progress.metadata = op.Metadata
			if p.onMetadata != nil {
				p.onMetadata(op.Metadata)
			}
		}
		return op, nil
	}
	p.setLastError(rootMessage(err))
	p.publish()
	switch {
	case insights.IsErrorType(err, insights.ErrNotFound):
		if now.Sub(p.state.StartedAt) < p.policy.notFoundGrace {
			return op, nil // not visible yet: eventual consistency right after creation
		}
		return op, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("operation %s no longer exists (operations expire after some days); it was last seen %d polls ago",
				p.state.Operation, p.runPolls), insights.ErrOperationLost, err)
	case isNonRetryable(err) && p.outcomeFirst && p.known:
		return op, p.outlast(err)
	case isNonRetryable(err):
		return op, err
	default:
		// Transient trouble that outlasted the activity's retries: try again at the next poll.
		p.logger().Warn("GetOperation failed; will poll again", "Error", err)
		return op, nil
	}
}

// end publishes the final state and, unless the run continues as new, records its outcome
// (the status's outcome, else the error's type) and the operation's age in the SDK's metrics.
func (p *poller) end(err error) {
	p.finishUpdates()
	p.publish()
	var can *workflow.ContinueAsNewError
	if errors.As(err, &can) {
		return
	}
	outcome := p.progress.outcome
	if outcome == "" {
		outcome = errorType(err)
	}
	h := workflow.GetMetricsHandler(p.ctx)
	h.WithTags(map[string]string{"outcome": outcome}).Counter(MetricOutcomes).Inc(1)
	if p.state.Operation != "" && !p.state.StartedAt.IsZero() {
		h.Timer(MetricOperationAge).Record(workflow.Now(p.ctx).Sub(p.state.StartedAt))
	}
}
