package workflows

import (
	"errors"
	"fmt"

	"go.temporal.io/sdk/temporal"

	"github.com/issuemodels/durable-lro/insights"
)

// operationOutcome classifies a done operation by the google.longrunning contract: an error of
// code CANCELLED is OutcomeCancelled, any other error OutcomeFailed (with failure, the
// non-retryable OperationFailed error carrying the google.rpc.Status), else OutcomeSucceeded.
// Create, await and the lifecycle all decide through it.
func operationOutcome(op insights.Operation) (outcome string, failure error) {
	switch {
	case op.Error != nil && op.Error.Code == insights.CodeCancelled:
		return OutcomeCancelled, nil
	case op.Error != nil:
		return OutcomeFailed, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("operation %s failed: %v", op.Name, op.Error), insights.ErrOperationFailed, nil, op.Error)
	}
	return OutcomeSucceeded, nil
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
