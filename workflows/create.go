package workflows

import (
	"encoding/json"
	"errors"
	"fmt"

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
	actx := withUntilAnsweredActivity(ctx, model.GetName()) // retried until it starts
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
