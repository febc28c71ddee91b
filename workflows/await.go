package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/issuemodels/durable-lro/insights"
)

// AwaitOperationWorkflow durably polls any operation of the API until it is done and returns it
// decoded: done, error (google.rpc.Status) or response, and metadata, each Any as JSON with its
// "@type". An operation that ends with an error is a result, not a failure: the caller decides
// what it means. The run fails only when awaiting itself fails: InvalidArgument, PollTimeout,
// OperationLost, or a non-retryable API error such as PermissionDenied.
//
// It answers the same signals (cancel, poll-now) and status query as CreateIssueModelWorkflow,
// through the same poll loop, and is meant to run as a child workflow of users' pipelines.
func AwaitOperationWorkflow(ctx workflow.Context, in AwaitOperationInput) (_ *insights.Operation, err error) {
	invalid := refusePersonsContinuation(ctx, in.Continuation != nil)
	policy, err := in.validate(checkDecoding(ctx, in.decoding))
	if invalid == nil {
		invalid = err
	}
	var state *PollState
	switch {
	case invalid != nil:
		state = &PollState{}
	case in.Continuation != nil:
		state = in.Continuation
	default:
		state = &PollState{Operation: in.Operation, StartedAt: workflow.Now(ctx)}
	}
	p, err := openPoller(ctx, state, policy, invalid)
	if err != nil {
		return nil, err
	}
	if in.ReportProgress {
		p.reportProgressToParent()
	}
	defer func() { p.end(err) }()
	p.immediate = state.Polls == 0
	op, err := p.live(polling)
	op, err = p.endWait(op, err, AwaitOperationWorkflow, func() any { in.Continuation = state; return in })
	if err != nil {
		return nil, err
	}
	p.progress.outcome, _ = operationOutcome(op)
	return &op, nil
}

// endWait ends the wait for the operation: on errContinueAsNew it continues workflowFn as new
// with the input next returns (the continuation recorded in it), else it finishes the status
// with the result.
func (p *poller) endWait(op insights.Operation, err error, workflowFn any, next func() any) (insights.Operation, error) {
	if err == errContinueAsNew {
		return insights.Operation{}, p.continueAsNew(workflowFn, next())
	}
	p.finish(err)
	return op, err
}
