package activities_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/grpc"

	"github.com/issuemodels/durable-lro/activities"
	"github.com/issuemodels/durable-lro/insights"
	"github.com/issuemodels/durable-lro/insightstest"
)

// endlessLists makes every ListOperations reply the first page again, promising another: a list
// the look-up cannot read to its end.
func endlessLists(calls *atomic.Int64) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if !strings.HasSuffix(info.FullMethod, "/ListOperations") {
			return handler(ctx, req)
		}
		calls.Add(1)
		req.(*longrunningpb.ListOperationsRequest).PageToken = ""
		resp, err := handler(ctx, req)
		if list, ok := resp.(*longrunningpb.ListOperationsResponse); ok && err == nil {
			list.NextPageToken = "more"
		}
		return resp, err
	}
}

// A look-up that reaches its safety bound before the end of the list does not report "not
// found" (which would create a second model): it fails, non-retryable, and creates nothing.
func TestLookupThatCannotReadTheWholeListFailsClosed(t *testing.T) {
	var calls atomic.Int64
	srv, clock, acts := setup(t, insightstest.Options{RequestsPerMinute: insightstest.Unlimited,
		Interceptors: []grpc.UnaryServerInterceptor{endlessLists(&calls)}})
	activities.SetLookupLimit(acts, 2000)
	env := activityEnv(acts)
	other := spec
	other.DisplayName = "another run's"
	_, err := env.ExecuteActivity(acts.CreateIssueModel, activities.CreateIssueModelParams{Parent: parent, IssueModel: other})
	require.NoError(t, err) // one operation in the list, listed again and again
	from := clock.Now()
	_, err = env.ExecuteActivity(acts.CreateIssueModel, activities.CreateIssueModelParams{Parent: parent, IssueModel: spec, LookFrom: &from})
	require.True(t, insights.IsErrorType(err, insights.ErrLookupTooLarge), "%v", err)
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	require.True(t, appErr.NonRetryable())
	require.EqualValues(t, 2000, calls.Load(), "ListOperations calls: one operation each, up to the limit")
	require.EqualValues(t, 1, srv.Stats().RPCs["CreateIssueModel"], "the other run's only")
}
