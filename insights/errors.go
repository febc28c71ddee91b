package insights

import (
	"errors"
	"fmt"
	"slices"

	"go.temporal.io/sdk/temporal"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Error types of the ApplicationErrors this project returns. gRPC failures use the gRPC code's
// name ("NotFound", "Unavailable", ...) so a failure in the UI names the code the API answered.
const (
	ErrInvalidArgument = "InvalidArgument"   // bad input, caught before any API call, or the API's INVALID_ARGUMENT
	ErrOperationFailed = "OperationFailed"   // the operation finished with an error status other than CANCELLED
	ErrOperationLost   = "OperationLost"     // the operation vanished (expired) while being awaited
	ErrPollTimeout     = "PollTimeout"       // the polling policy's timeout passed; cancellation was requested
	ErrQualityGate     = "QualityGateFailed" // the trained model did not meet the lifecycle's quality gate
	ErrPollThrottled   = "PollThrottled"     // the worker's GetOperation budget is spent for now; no call was made
	// ErrOperationNotListed: a model is mid-change but the list does not show its operation yet
	// (retryable: the list catches up).
	ErrOperationNotListed = "OperationNotListed"
	// ErrLookupTooLarge: the look-up for an earlier attempt's operation reached its safety bound
	// (a million listed operations, see activities.maxLookupOperations) before the end of the location's operation list, so whether
	// that operation exists is unknown (non-retryable: starting another could duplicate it).
	ErrLookupTooLarge = "LookupTooLarge"
	// The gRPC codes the workflows decide on.
	ErrNotFound          = "NotFound"
	ErrResourceExhausted = "ResourceExhausted"
)

// FieldViolation is the detail attached to an InvalidArgument error.
type FieldViolation struct {
	Field       string `json:"field"`
	Description string `json:"description"`
}

// InvalidArgument is the typed, non-retryable error for bad input. The message starts with the
// field so it reads well in `temporal workflow describe` and the Web UI.
func InvalidArgument(field, description string) error {
	return temporal.NewNonRetryableApplicationError(
		fmt.Sprintf("%s: %s", field, description), ErrInvalidArgument, nil,
		FieldViolation{Field: field, Description: description})
}

// nonRetryableCodes fail fast: retrying cannot change the answer.
var nonRetryableCodes = map[codes.Code]bool{
	codes.InvalidArgument:    true,
	codes.NotFound:           true,
	codes.PermissionDenied:   true,
	codes.FailedPrecondition: true,
	codes.Unauthenticated:    true,
	codes.AlreadyExists:      true,
	codes.OutOfRange:         true,
	codes.Unimplemented:      true,
}

// NonRetryableErrorTypes lists the error types activity retry policies must not retry; it mirrors
// nonRetryableCodes for errors that did not pass through FromAPIError (e.g. validation). Sorted:
// the list is written into every activity's retry policy, and map order would make each run's
// history differ for nothing.
func NonRetryableErrorTypes() []string {
	types := []string{ErrInvalidArgument}
	for c := range nonRetryableCodes {
		if c != codes.InvalidArgument {
			types = append(types, c.String())
		}
	}
	slices.Sort(types)
	return types
}

// FromAPIError turns an error of the Google client into a Temporal ApplicationError whose type is
// the gRPC code name and whose details carry the google.rpc.Status. Transient codes
// (UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ...) stay retryable; the codes in
// nonRetryableCodes fail fast.
func FromAPIError(op string, err error) error {
	if err == nil {
		return nil
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return err
	}
	st, ok := status.FromError(err)
	if !ok {
		// Context deadline/cancel from our own side, or a transport problem: retryable.
		return temporal.NewApplicationErrorWithCause(fmt.Sprintf("%s: %v", op, err), codes.Unknown.String(), err)
	}
	msg := fmt.Sprintf("%s: %s: %s", op, codeName(st.Code()), st.Message())
	details := StatusFromProto(st.Proto())
	if nonRetryableCodes[st.Code()] {
		return temporal.NewNonRetryableApplicationError(msg, st.Code().String(), nil, details)
	}
	return temporal.NewApplicationError(msg, st.Code().String(), details)
}

// FailsForGood reports whether a google.rpc.Code (an operation's error code) is one that the
// same request would meet again (nonRetryableCodes), rather than a transient failure.
func FailsForGood(c int32) bool {
	return nonRetryableCodes[codes.Code(c)]
}

// IsErrorType reports whether err is (or wraps) an ApplicationError of the given type.
func IsErrorType(err error, errType string) bool {
	var appErr *temporal.ApplicationError
	return errors.As(err, &appErr) && appErr.Type() == errType
}

// codeName spells a gRPC code the way google.rpc.Code and the REST API do (NOT_FOUND).
func codeName(c codes.Code) string {
	if name, ok := code.Code_name[int32(c)]; ok {
		return name
	}
	return c.String()
}

// ambiguousTypes are failures after which a call that changes state may or may not have been
// carried out by the server.
var ambiguousTypes = map[string]bool{
	codes.Unavailable.String(): true, codes.DeadlineExceeded.String(): true, codes.Unknown.String(): true,
	codes.Internal.String(): true, codes.Aborted.String(): true, codes.Canceled.String(): true,
	codes.DataLoss.String(): true,
}

// MayHaveCommitted reports whether a failed state-changing activity may nevertheless have taken
// effect on the server: its reply was lost (UNAVAILABLE, DEADLINE_EXCEEDED, ...), its worker died
// (a timeout), or the failure is not an API answer at all. A definite refusal (RESOURCE_EXHAUSTED,
// or any non-retryable code) means nothing happened.
func MayHaveCommitted(err error) bool {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return ambiguousTypes[appErr.Type()]
	}
	return true
}
