package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/issuemodels/durable-lro/insights"
)

// AwaitOperationInput is the input of AwaitOperationWorkflow.
type AwaitOperationInput struct {
	// Operation is any google.longrunning operation name of the API:
	// projects/{project}/locations/{location}/operations/{operation}.
	Operation string         `json:"operation"`
	Polling   *PollingPolicy `json:"polling,omitempty"`
	// Continuation is set by the workflow itself when it continues as new.
	Continuation *PollState `json:"continuation,omitempty"`
	// ReportProgress: a child signals its parent the operation's metadata (ProgressSignal)
	// whenever a poll finds it changed, so the parent's status shows live progress.
	ReportProgress bool `json:"reportProgress,omitempty"`

	decoding decoding
}

// UnmarshalJSON decodes strictly but never fails; see decodeKeepingError.
func (in *AwaitOperationInput) UnmarshalJSON(b []byte) error {
	type plain AwaitOperationInput
	return decodeKeepingError(b, (*plain)(in), &in.decoding)
}

// Validate checks the input as a person typed it; errors are InvalidArgument naming the field.
func (in *AwaitOperationInput) Validate() (validPolicy, error) {
	if in.Continuation != nil {
		return validPolicy{}, errPersonsContinuation
	}
	return in.validate(in.decoding.strict)
}

// validate checks the input given the decoding error that counts (see decoding).
func (in *AwaitOperationInput) validate(decodeErr error) (validPolicy, error) {
	return checkedPolicy(in.Polling, decodeErr, insights.ValidateOperationName("operation", in.Operation))
}

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
