package workflows

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/issuemodels/durable-lro/activities"
	"github.com/issuemodels/durable-lro/insights"
)

// CreateIssueModelResult is the result of CreateIssueModelWorkflow (and the details of its
// cancellation).
type CreateIssueModelResult struct {
	Operation string `json:"operation"`
	Outcome   string `json:"outcome"`
	// IssueModel is the trained model in its REST shape (name, displayName, state, createTime,
	// trainingStats, issueCount, ...); absent when no model exists.
	IssueModel json.RawMessage `json:"issueModel,omitempty"`
	Metadata   insights.Times  `json:"metadata"`
	// CancelReason and CancelUnimplemented explain an outcome other than SUCCEEDED.
	CancelReason        string `json:"cancelReason,omitempty"`
	CancelUnimplemented bool   `json:"cancelUnimplemented,omitempty"`
	Polls               int    `json:"polls"`
	// DeleteOperation is the deletion started for outcome DELETED_AFTER_CANCEL.
	DeleteOperation string `json:"deleteOperation,omitempty"`
}

// CreateIssueModelWorkflow creates an issue model and durably awaits its training.
//
// It ends: completed with outcome SUCCEEDED (or COMPLETED_DESPITE_CANCEL/DELETED_AFTER_CANCEL);
// cancelled, with a CreateIssueModelResult of outcome CANCELLED as details; or failed with a
// non-retryable ApplicationError: InvalidArgument (bad input, before any API call),
// OperationFailed (details: the google.rpc.Status), PollTimeout, OperationLost, or the gRPC code
// of a non-retryable API error.
func CreateIssueModelWorkflow(ctx workflow.Context, in CreateIssueModelInput) (_ *CreateIssueModelResult, err error) {
	invalid := refusePersonsContinuation(ctx, in.Continuation != nil)
	policy, err := in.validate(checkDecoding(ctx, in.decoding))
	if invalid == nil {
		invalid = err
	}
	state := &PollState{}
	if invalid == nil && in.Continuation != nil {
		state = in.Continuation
	}
	p, err := openPoller(ctx, state, policy, invalid)
	if err != nil {
		return nil, err
	}
	defer func() { p.end(err) }()
	p.createWith(func() (activities.StartedOperation, error) { return createOperation(ctx, p, in) })
	first := polling
	if state.Operation == "" {
		first = creating
	}
	op, err := p.live(first)
	if state.Operation == "" {
		return nil, p.nothingCreated(err)
	}
	op, err = p.endWait(op, err, CreateIssueModelWorkflow, func() any { in.Continuation = state; return in })
	if err != nil && in.DeleteModelIfCancelFails && insights.IsErrorType(err, insights.ErrPollTimeout) && op.Done && op.Error == nil {
		// The timeout's cancel did not stop the training: delete the model, as a cancel would.
		deleteOp, derr := deleteModel(p.ctx, op, in.Polling)
		if derr != nil {
			return nil, derr
		}
		return nil, p.timeoutError("cancellation was requested, but the operation finished anyway; its model was then deleted by "+deleteOp+" as deleteModelIfCancelFails asks", op)
	}
	if err != nil {
		return nil, err
	}
	result := &CreateIssueModelResult{
		Operation: op.Name, Metadata: op.Times(), Polls: state.Polls,
		CancelReason: state.CancelReason, CancelUnimplemented: state.CancelUnimplemented,
	}
	outcome, failure := operationOutcome(op)
	p.progress.outcome = outcome
	switch outcome {
	case OutcomeCancelled:
		if state.CancelReason == pollTimeoutReason {
			// The timeout passed while creating, and the cancel it requested stopped the training.
			return nil, p.timeoutError(endedAs(op), op)
		}
		result.Outcome = outcome
		return nil, temporal.NewCanceledError(*result)
	case OutcomeFailed:
		return nil, failure
	}
	result.IssueModel = op.Response
	result.Outcome = OutcomeSucceeded
	if state.CancelRequested {
		result.Outcome = OutcomeCompletedDespiteCancel
		if in.DeleteModelIfCancelFails {
			deleteOp, err := deleteModel(p.ctx, op, in.Polling)
			if err != nil {
				return nil, err
			}
			result.DeleteOperation = deleteOp
			result.Outcome = OutcomeDeletedAfterCancel
		}
	}
	p.progress.outcome = result.Outcome
	return result, nil
}

// nothingCreated ends a run whose creation failed (err) or was cancelled (errNothingCreated).
func (p *poller) nothingCreated(err error) error {
	if err == errNothingCreated && p.state.CancelReason == pollTimeoutReason {
		err = temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"could not start CreateIssueModel within the polling timeout of %s; no attempt created the model", p.policy.timeout),
			insights.ErrPollTimeout, nil)
	}
	if err == errNothingCreated {
		p.finish(nil)
		p.progress.outcome = OutcomeCancelled
		return temporal.NewCanceledError(CreateIssueModelResult{Outcome: OutcomeCancelled, CancelReason: p.state.CancelReason})
	}
	p.finish(err)
	return err
}

// errNothingCreated ends a run cancelled before any operation existed.
var errNothingCreated = errors.New("cancelled before an operation was created")

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
	actx := withCreateActivity(dctx, in.Parent)
	deadline := workflow.Now(ctx).Add(p.policy.timeout)
	backoff := 5 * time.Second
	var lookFrom *time.Time    // when the first attempt that may have committed was scheduled
	var ambiguousEnd time.Time // when the last such attempt failed: none can have committed later
	var refusedSince time.Time // start of a streak of non-retryable answers after an ambiguous attempt
	for {
		p.checkTemporalCancel()
		cancelled := p.state.CancelRequested
		if cancelled && lookFrom == nil {
			return activities.StartedOperation{}, errNothingCreated
		}
		scheduled := workflow.Now(ctx)
		listMayLag := lookFrom != nil && scheduled.Before(ambiguousEnd.Add(p.policy.notFoundGrace))
		lookOnly := cancelled || listMayLag
		activity := acts.CreateIssueModel
		if lookOnly {
			activity = acts.FindIssueModelCreation
		}
		var started activities.StartedOperation
		err := workflow.ExecuteActivity(actx, activity, activities.CreateIssueModelParams{
			Parent: in.Parent, IssueModel: in.IssueModel, LookFrom: lookFrom, LookOnly: lookOnly,
		}).Get(actx, &started)
		switch {
		case err == nil && started.Operation == "" && cancelled && !listMayLag:
			return started, errNothingCreated // a trusted look-up found nothing
		case err == nil && started.Operation == "":
			p.setLastError("an earlier CreateIssueModel attempt may have created the model; looking again until the operation list has caught up")
		case err == nil:
			p.setLastError("")
			return started, nil
		case isNonRetryable(err) && lookFrom == nil:
			return started, err
		case isNonRetryable(err):
			// An earlier attempt may have created the training: ending now (a look-up refused,
			// say) would leave it untracked. Outlast the refusal for the outcome grace.
			p.setLastError(rootMessage(err))
			if refusedSince.IsZero() {
				refusedSince = scheduled
			}
			if workflow.Now(ctx).Sub(refusedSince) >= p.outcomeGrace() {
				return started, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
					"an earlier CreateIssueModel attempt may have created the model, but it could not be looked up for %s: %s",
					p.outcomeGrace(), rootMessage(err)), errorType(err), err)
			}
		default:
			p.setLastError(rootMessage(err))
			refusedSince = time.Time{}
			if insights.MayHaveCommitted(err) && !lookOnly && !failedLookingUp(err) {
				if lookFrom == nil {
					lookFrom = &scheduled
				}
				ambiguousEnd = workflow.Now(ctx)
			}
		}
		if workflow.Now(ctx).Add(backoff).After(deadline) {
			switch {
			case lookFrom == nil:
				return started, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
					"could not start CreateIssueModel within the polling timeout of %s; last error: %s", p.policy.timeout, p.state.LastError),
					insights.ErrPollTimeout, err)
			case workflow.Now(ctx).After(deadline.Add(p.outcomeGrace())):
				return started, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
					"could not start CreateIssueModel within the polling timeout of %s, and an attempt that may have created the model could not be found within %s more; last error: %s",
					p.policy.timeout, p.outcomeGrace(), p.state.LastError), insights.ErrPollTimeout, err)
			}
			// An attempt may have created the training: the timeout cancels it, so look for it
			// (until the list has caught up) and cancel what is found, as the poll loop's timeout
			// does; a trusted empty look-up ends the run with nothing created.
			p.requestCancel(pollTimeoutReason)
		}
		wait, summary := backoff, "retry CreateIssueModel"
		if err == nil {
			// Not listed yet: nothing failed, so the backoff does not grow; look again when the
			// list can be trusted.
			wait, summary = max(ambiguousEnd.Add(p.policy.notFoundGrace).Sub(workflow.Now(ctx)), time.Second), "look again once the operation list has caught up"
		}
		workflow.GetLogger(ctx).Warn("CreateIssueModel did not start the operation; retrying", "Error", err, "Wait", wait, "LookForEarlierAttempt", lookFrom != nil)
		_, _ = workflow.AwaitWithOptions(dctx, workflow.AwaitOptions{
			Timeout:      wait,
			TimerOptions: workflow.TimerOptions{Summary: summary},
		}, func() bool {
			return (p.state.CancelRequested && !cancelled) || (p.root.Err() != nil && !p.temporalCancelled)
		})
		if err != nil {
			backoff = min(2*backoff, 5*time.Minute)
		}
	}
}

// failedLookingUp: the attempt failed in its look-up (CreateIssueModel lists the operations
// before it creates, and says so in its error), so it made no create call and cannot have
// committed.
func failedLookingUp(err error) bool {
	return strings.HasPrefix(rootMessage(err), "ListOperations: ")
}

// fenceOlderWorkers records a SideEffect where a versioned change begins, on the runs that take
// the new path. Workers of an earlier release skip the version marker but not this command: they
// fail such a run's tasks as non-deterministic (retried until a worker of this release takes
// them) instead of advancing the run on their old path, which this release could not replay. A
// change whose new path diverges later than its marker needs the fence; one whose marker sits
// at the divergence does not.
func fenceOlderWorkers(ctx workflow.Context) {
	_ = workflow.SideEffect(ctx, func(workflow.Context) any { return true })
}

// Versions of the workflows' command-changing edits (workflow.GetVersion change IDs; README,
// "Changing a workflow").
const (
	// awaitDeletionChange: a run that deletes the model a cancel could not stop awaits the
	// deletion (child AwaitOperationWorkflow "<id>-delete") before it reports
	// DELETED_AFTER_CANCEL; runs of release f634c2d, which recorded no marker, only started it.
	awaitDeletionChange  = "await-deletion-after-cancel"
	awaitDeletionVersion = 1
	// workerSlotsChange: the poll loop polls at the slot its worker keeps for the operation
	// (activities.PollResult.NextPollAt), refused or not, instead of at the worker's pace plus
	// an extra wait that doubles at every refusal; runs of releases up to 725c0d1, which
	// recorded no marker, keep their old timers.
	workerSlotsChange  = "poll-at-worker-slot"
	workerSlotsVersion = 1
	// createLooksAfterAmbiguityChange: once any CreateIssueModel attempt may have committed,
	// every later attempt looks for its operation first, a refusal does not forget that, and an
	// empty look-up is trusted only after the operation list has had NotFoundGrace to catch up;
	// a Temporal cancel wakes the retry backoff at once (createOperation).
	createLooksAfterAmbiguityChange  = "create-looks-after-ambiguity"
	createLooksAfterAmbiguityVersion = 1
	// outcomeBeforeEndChange: the poll loop retries a requested cancel until the server takes
	// it, awaits the outcome after its timeout and through non-retryable poll errors of a known
	// operation (for a bounded grace), and continues as new by the SDK's history length
	// (life.go).
	outcomeBeforeEndChange  = "outcome-before-end"
	outcomeBeforeEndVersion = 1
	// workflowWrittenStateChange: a continuation is taken only from the workflow's own
	// continue-as-new, never from a person's input (validateInput).
	workflowWrittenStateChange  = "continuation-from-workflow-only"
	workflowWrittenStateVersion = 1
	// apiCallsUnderServerLimitsChange: the poll (and the learned schedule's estimate) is a
	// regular activity, held with every other API call by the task queue's rate limits, and the
	// loop waits the policy's interval only; before it, the poll was a local activity that the
	// loop paced by its worker's budget (legacy.go).
	apiCallsUnderServerLimitsChange  = "api-calls-under-server-limits"
	apiCallsUnderServerLimitsVersion = 1
)

// deleteModel deletes the model a cancelled-but-completed training left behind and returns the
// deletion's operation (empty when the model was already gone), once it is done. A failure names
// the model, which the run's result then does not carry.
func deleteModel(ctx workflow.Context, op insights.Operation, polling *PollingPolicy) (string, error) {
	model, err := op.IssueModel()
	if err != nil {
		return "", temporal.NewNonRetryableApplicationError(err.Error(), insights.ErrOperationFailed, err)
	}
	if workflow.GetVersion(ctx, disconnectedDeletionChange, workflow.DefaultVersion, disconnectedDeletionVersion) >= disconnectedDeletionVersion {
		fenceOlderWorkers(ctx)
		// The user asked for this deletion when the cancel could not stop the training: a
		// Temporal cancel that comes now must not cancel it too (and leave the model).
		ctx, _ = workflow.NewDisconnectedContext(ctx)
	}
	named := func(err error) error {
		var canceled *temporal.CanceledError
		if errors.As(err, &canceled) {
			return err // only runs without disconnectedDeletionChange: the run itself was cancelled
		}
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"could not delete %s, the model the cancel could not stop: %s", model.GetName(), rootMessage(err)), errorType(err), err, model.GetName())
	}
	actx := withDeleteActivity(ctx, model.GetName())
	var started activities.StartedOperation
	if err := workflow.ExecuteActivity(actx, acts.DeleteIssueModel, model.GetName()).Get(actx, &started); err != nil {
		return "", named(err)
	}
	if workflow.GetVersion(ctx, awaitDeletionChange, workflow.DefaultVersion, awaitDeletionVersion) == workflow.DefaultVersion || started.AlreadyDone {
		return started.Operation, nil
	}
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:    workflow.GetInfo(ctx).WorkflowExecution.ID + "-delete",
		StaticSummary: "delete " + model.GetName() + ", which a cancel could not stop",
		// Closing this run (terminate, timeout) leaves the deletion to finish.
		ParentClosePolicy: parentClosePolicy(ctx, false),
	})
	var deleted insights.Operation
	if err := workflow.ExecuteChildWorkflow(cctx, AwaitOperationWorkflowType, AwaitOperationInput{Operation: started.Operation, Polling: polling}).Get(cctx, &deleted); err != nil {
		return started.Operation, named(err)
	}
	if outcome, failure := operationOutcome(deleted); outcome != OutcomeSucceeded {
		if failure == nil {
			failure = temporal.NewNonRetryableApplicationError("the deletion of "+model.GetName()+" was cancelled", insights.ErrOperationFailed, nil)
		}
		return started.Operation, named(failure)
	}
	return started.Operation, nil
}
