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
	"github.com/issuemodels/durable-lro/insightstest"
)

// commitThenLoseReply lets the call through and answers UNAVAILABLE instead of its reply.
func commitThenLoseReply(ctx context.Context, req any, h grpc.UnaryHandler) (any, error) {
	if _, err := h(ctx, req); err != nil {
		return nil, err
	}
	return nil, status.Error(codes.Unavailable, "reply lost after commit")
}

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
	opts := insightstest.Options{
		Objects: insightstest.Transcripts("gs://acme-chats/nov", 5), Buckets: []string{"acme-models"},
		MinTrainingConversations: 1, TrainingTime: func() time.Duration { return time.Minute },
		// Call 1 is the earlier run's export; call 2, our first attempt, commits and loses its reply.
		Interceptors: []grpc.UnaryServerInterceptor{interceptCalls("ExportIssueModel",
			map[int]func(context.Context, any, grpc.UnaryHandler) (any, error){2: commitThenLoseReply})},
	}
	srv, clock, a := setupFrom(t, opts, time.Now().Add(-6*time.Hour))
	model, earlier := exportedModel(t, a, clock)
	clock.Advance(2*time.Hour - time.Minute) // the emulator's clock is the workers' again, a little behind
	started, err := runWithRetries(t, a, "ExportIssueModel", activities.ExportIssueModelParams{Name: model, ObjectURI: "gs://acme-models/weekly.json"})
	require.NoError(t, err)
	require.NotEmpty(t, started.Operation)
	require.NotEqual(t, earlier, started.Operation, "the retry adopted the earlier run's export")
	require.EqualValues(t, 2, srv.Stats().RPCs["ExportIssueModel"], "the earlier run's and our lost attempt's, none after")
}
