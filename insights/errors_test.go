package insights

import (
	"errors"
	"slices"
	"testing"

	"go.temporal.io/sdk/temporal"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestCodeNamesAreGoogleRPCNames(t *testing.T) {
	for c, want := range map[codes.Code]string{
		codes.OK: "OK", codes.Canceled: "CANCELLED", codes.NotFound: "NOT_FOUND",
		codes.ResourceExhausted: "RESOURCE_EXHAUSTED", codes.Unauthenticated: "UNAUTHENTICATED",
		codes.Code(99): "Code(99)",
	} {
		if got := codeName(c); got != want {
			t.Errorf("codeName(%v) = %q, want %q", c, got, want)
		}
	}
	if got := (&Status{Code: CodeCancelled, Message: "stopped"}).Error(); got != "CANCELLED: stopped" {
		t.Errorf("Status.Error() = %q", got)
	}
	err := FromAPIError("GetOperation", status.Error(codes.NotFound, "gone"))
	if got := err.Error(); got != "GetOperation: NOT_FOUND: gone (type: NotFound, retryable: false)" {
		t.Errorf("FromAPIError: %q", got)
	}
}

// A malformed operation is reported as INTERNAL (activities.GetOperation), which must stay
// retryable: a later read may be whole.
func TestInternalIsRetried(t *testing.T) {
	var appErr *temporal.ApplicationError
	if err := FromAPIError("GetOperation", status.Error(codes.Internal, "done without a result")); !errors.As(err, &appErr) ||
		appErr.NonRetryable() || appErr.Type() != "Internal" {
		t.Fatalf("FromAPIError(INTERNAL) = %v", err)
	}
	if slices.Contains(NonRetryableErrorTypes(), "Internal") {
		t.Fatal("Internal is among the non-retryable error types")
	}
}

// The retry policy's list goes into every ScheduleActivityTask command: it must come out the same,
// in a fixed order, on every call, or histories differ run to run for no reason.
func TestNonRetryableErrorTypesSortedAndStable(t *testing.T) {
	first := NonRetryableErrorTypes()
	if !slices.IsSorted(first) {
		t.Fatalf("NonRetryableErrorTypes() = %v, not sorted", first)
	}
	for i := 0; i < 50; i++ {
		if got := NonRetryableErrorTypes(); !slices.Equal(got, first) {
			t.Fatalf("call %d = %v, first call %v", i, got, first)
		}
	}
	if len(first) != len(nonRetryableCodes) || !slices.Contains(first, ErrInvalidArgument) {
		t.Fatalf("NonRetryableErrorTypes() = %v, want one type per non-retryable code", first)
	}
}
