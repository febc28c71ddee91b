package activities_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/issuemodels/durable-lro/activities"
	"github.com/issuemodels/durable-lro/insights"
	"github.com/issuemodels/durable-lro/insightstest"
)

// A pipeline start whose first attempt failed ambiguously but committed nothing (the request
// was lost on the way): inside the grace for the list's lag the retries only look, and fail
// with the retryable OperationNotListed; after it, an empty look-up is trusted and the retry
// starts the operation, once.
func TestPipelineRetryLooksOnlyForTheGraceThenStarts(t *testing.T) {
	const prod = "projects/prod/locations/us-central1"
	lostOnTheWay := map[int]func(context.Context, any, grpc.UnaryHandler) (any, error){
		1: func(context.Context, any, grpc.UnaryHandler) (any, error) {
			return nil, status.Error(codes.Unavailable, "connection reset before the server read the request")
		},
	}
	for _, grace := range []time.Duration{0, time.Nanosecond} {
		opts := insightstest.Options{
			Objects: insightstest.Transcripts("gs://acme-chats/nov", 5), Buckets: []string{"acme-models"},
			MinTrainingConversations: 1, TrainingTime: func() time.Duration { return time.Minute },
			Interceptors: []grpc.UnaryServerInterceptor{interceptCalls("ImportIssueModel", lostOnTheWay)},
		}
		srv, clock, a := setup(t, opts)
		activities.SetListLagGrace(a, grace) // 0: ListLagGrace
		exportedModel(t, a, clock)
		before := srv.Stats().RPCs
		started, err := runWithRetries(t, a, "ImportIssueModel",
			activities.ImportIssueModelParams{Parent: prod, ObjectURI: "gs://acme-models/weekly.json", CreateNewModel: true, Since: clock.Now()})
		after := srv.Stats().RPCs
		if grace == 0 {
			require.EqualValues(t, 2, after["ListOperations"]-before["ListOperations"], "attempts 2 and 3 looked")
			require.True(t, insights.IsErrorType(err, insights.ErrOperationNotListed), "%v", err)
			require.Zero(t, after["ImportIssueModel"]-before["ImportIssueModel"], "started inside the grace")
			continue
		}
		require.NoError(t, err)
		require.EqualValues(t, 1, after["ListOperations"]-before["ListOperations"], "attempt 2 looked")
		require.NotEmpty(t, started.Operation)
		require.EqualValues(t, 1, after["ImportIssueModel"]-before["ImportIssueModel"], "attempt 2, after the grace, started the import")
	}
}
