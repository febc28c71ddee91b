package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/issuemodels/durable-lro/insights"
)

// A start activity that gives up (its schedule-to-close bound passed, or a non-retryable error)
// after an attempt that may have committed leaves an operation nobody tracks: its start-once
// records die with it. Its error therefore carries the last record (withAttempts), so that the
// workflow can tell (MayHaveStarted) and look for that operation with FindStartedOperation.

// FindStartedOperationParams is the input of FindStartedOperation.
type FindStartedOperationParams struct {
	// Start is the start activity that gave up: IngestConversations, BulkAnalyzeConversations,
	// ExportIssueModel, ImportIssueModel, UndeployIssueModel or DeleteIssueModel.
	Start string `json:"start"`
	// Input is that activity's input, as it was given.
	Input json.RawMessage `json:"input"`
	// AmbiguousEnd is when the last attempt that may have started the operation failed: an empty
	// look-up is trusted only ListLagGrace after it, and a pipeline operation created after it
	// (plus CreateSkew) is not ours (createdSince).
	AmbiguousEnd time.Time `json:"ambiguousEnd"`
}

// FoundOperation is what FindStartedOperation found: the operation the start may have started
// (running or done), or Done when the model already is where the start leads (nothing runs),
// or neither: no such operation, so the start started nothing.
type FoundOperation struct {
	Operation string `json:"operation,omitempty"`
	Done      bool   `json:"done,omitempty"`
}

// FindStartedOperation looks, never starting anything, for the operation a start activity that
// gave up may have started: a pipeline step's operation by its request and Since (as a retry of
// the step would adopt it), an undeploy's or delete's by its model being mid-change. The
// workflow runs it without a time bound: looking cannot duplicate anything, and a refusal that
// outlasted the start must not end the look too.
func (a *Activities) FindStartedOperation(ctx context.Context, p FindStartedOperationParams) (FoundOperation, error) {
	ctx = context.WithValue(ctx, lookingKey{}, looking{ambiguousEnd: p.AmbiguousEnd})
	find, ok := map[string]func(context.Context, json.RawMessage) (FoundOperation, error){
		"IngestConversations":      findBy(a.IngestConversations, false),
		"BulkAnalyzeConversations": findBy(a.BulkAnalyzeConversations, false),
		"ExportIssueModel":         findBy(a.ExportIssueModel, false),
		"ImportIssueModel":         findBy(a.ImportIssueModel, false),
		"UndeployIssueModel":       findBy(a.UndeployIssueModel, true),
		"DeleteIssueModel":         findBy(a.DeleteIssueModel, true),
	}[p.Start]
	if !ok {
		return FoundOperation{}, insights.InvalidArgument("start", fmt.Sprintf("%q is not a start activity that can be looked for", p.Start))
	}
	return find(ctx, p.Input)
}

// findBy runs start in look-only mode on its input. A look-only pipeline start answers AlreadyDone
// when it finds nothing; a look-only model change answers it when the model is already where
// the change leads (doneMeansModel), and an empty answer when nothing is running.
func findBy[P any](start func(context.Context, P) (StartedOperation, error), doneMeansModel bool) func(context.Context, json.RawMessage) (FoundOperation, error) {
	return func(ctx context.Context, input json.RawMessage) (FoundOperation, error) {
		var p P
		if err := json.Unmarshal(input, &p); err != nil {
			return FoundOperation{}, insights.InvalidArgument("input", err.Error())
		}
		started, err := start(ctx, p)
		if err != nil {
			return FoundOperation{}, err
		}
		return FoundOperation{Operation: started.Operation, Done: doneMeansModel && started.AlreadyDone}, nil
	}
}

// looking, in a start's context, makes it look only (FindStartedOperation).
type (
	looking    struct{ ambiguousEnd time.Time }
	lookingKey struct{}
)

func isLooking(ctx context.Context) bool {
	_, ok := ctx.Value(lookingKey{}).(looking)
	return ok
}

// withAttempts adds a failing attempt's record to its error, as the details' second value (the
// first stays the error's own: a google.rpc.Status, or null), when an attempt may have
// committed; otherwise the error's own type tells (see MayHaveStarted).
func withAttempts(err error, rec startAttempts) error {
	appErr, ok := err.(*temporal.ApplicationError)
	if !ok || !rec.MayHaveCommitted {
		return err
	}
	var own any = json.RawMessage("null")
	if appErr.HasDetails() {
		_ = appErr.Details(&own)
	}
	return temporal.NewApplicationErrorWithOptions(appErr.Message(), appErr.Type(), temporal.ApplicationErrorOptions{
		NonRetryable: appErr.NonRetryable(), Cause: appErr.Unwrap(), NextRetryDelay: appErr.NextRetryDelay(),
		Details: []any{own, rec},
	})
}

// MayHaveStarted says, from the error of a start activity that gave up as its workflow sees it,
// whether an attempt may have started an operation, and when the last such attempt failed (zero
// when unknown). An attempt that timed out may have; an error without a record (no attempt may
// have committed, or a worker that does not attach one) tells by its own type.
func MayHaveStarted(err error) (bool, time.Time) {
	var timeout *temporal.TimeoutError
	if errors.As(err, &timeout) {
		return true, time.Time{}
	}
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) {
		return false, time.Time{}
	}
	var own any
	var rec startAttempts
	if appErr.HasDetails() && appErr.Details(&own, &rec) == nil && rec.Attempt > 0 {
		return rec.MayHaveCommitted, rec.AmbiguousEnd
	}
	return insights.MayHaveCommitted(appErr) || appErr.Type() == insights.ErrOperationNotListed, time.Time{}
}
