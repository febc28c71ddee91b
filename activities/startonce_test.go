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

// Every start follows startOnce's rule, the create too: a CreateIssueModel that Temporal
// retries (a caller's retry policy rather than the create loop's) adopts on its retry the
// creation its lost attempt committed. (It used to look only when the workflow passed LookFrom,
// and created a second model.)
func TestCreateRetriedByTemporalAdoptsAfterALostReply(t *testing.T) {
	srv, _, a := setupFrom(t, insightstest.Options{
		TrainingTime: func() time.Duration { return time.Minute },
		Interceptors: []grpc.UnaryServerInterceptor{loseFirstReply("CreateIssueModel")},
	}, time.Now()) // no LookFrom: the window starts when Temporal scheduled the activity
	started, err := runWithRetries(t, a, "CreateIssueModel", activities.CreateIssueModelParams{Parent: parent, IssueModel: spec})
	require.NoError(t, err)
	require.NotEmpty(t, started.Operation)
	require.EqualValues(t, 1, srv.Stats().RPCs["CreateIssueModel"], "the retry looked and adopted instead of creating")
	require.Len(t, srv.Models(parent), 1, "exactly one model")
}

// A pipeline start without Since looks, after a lost reply, only at operations created since
// Temporal scheduled the activity: an identical export an earlier run made hours ago is not
// taken for the one the lost attempt committed. (Without Since it used to adopt any identical
// operation, however old.)
func TestPipelineRetryWithoutSinceDoesNotAdoptAnEarlierRunsOperation(t *testing.T) {
	// Call 1 is the earlier run's export; call 2, our first attempt, commits and loses its reply.
	opts := pipelineOptions(interceptCalls("ExportIssueModel", map[int]callHandler{2: commitThenLoseReply}))
	srv, clock, a := setupFrom(t, opts, time.Now().Add(-6*time.Hour))
	model, earlier := exportedModel(t, a, clock)
	clock.Advance(2*time.Hour - time.Minute) // the emulator's clock is the workers' again, a little behind
	started, err := runWithRetries(t, a, "ExportIssueModel", activities.ExportIssueModelParams{Name: model, ObjectURI: "gs://acme-models/weekly.json"})
	require.NoError(t, err)
	require.NotEmpty(t, started.Operation)
	require.NotEqual(t, earlier, started.Operation, "the retry adopted the earlier run's export")
	require.EqualValues(t, 2, srv.Stats().RPCs["ExportIssueModel"], "the earlier run's and our lost attempt's, none after")
}

// A pipeline start whose first attempt failed ambiguously but committed nothing (the request
// was lost on the way): inside the grace for the list's lag the retries only look, and fail
// with the retryable OperationNotListed; after it, an empty look-up is trusted and the retry
// starts the operation, once.
func TestPipelineRetryLooksOnlyForTheGraceThenStarts(t *testing.T) {
	const prod = "projects/prod/locations/us-central1"
	lostOnTheWay := map[int]callHandler{
		1: func(context.Context, any, grpc.UnaryHandler) (any, error) {
			return nil, status.Error(codes.Unavailable, "connection reset before the server read the request")
		},
	}
	for _, grace := range []time.Duration{0, time.Nanosecond} {
		srv, clock, a := setup(t, pipelineOptions(interceptCalls("ImportIssueModel", lostOnTheWay)))
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
