package activities_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/issuemodels/durable-lro/activities"
)

// Our import's first attempt failed UNAVAILABLE without committing, the later attempts
// could not trust the empty list yet, and the step gave up (the error's record: may have
// committed, AmbiguousEnd). An hour later, another run sends the identical import. The look-up
// for our given-up start must not adopt that run's operation: created long after our last
// ambiguous attempt ended, it cannot be ours, and two lifecycles would share one imported model.
func TestLookUpNeverAdoptsAnIdenticalImportCreatedAfterTheAmbiguousEnd(t *testing.T) {
	other, found := lookUpAfterAnImportCreatedLater(t, time.Hour)
	require.NotEqual(t, other, found, "adopted another run's import created an hour after our last ambiguous attempt")
}

// A request may commit after its client gave up (a deadline, a reset), and a worker's clock may
// lag Google's: an import created ten minutes after the last ambiguous attempt ended, by the
// worker's clock, is still looked for as ours, or it would run on untracked.
func TestLookUpFindsAnImportCommittedAfterItsAttemptGaveUp(t *testing.T) {
	late, found := lookUpAfterAnImportCreatedLater(t, 10*time.Minute)
	require.Equal(t, late, found, "missed an import created ten minutes after the attempt ended")
}

// lookUpAfterAnImportCreatedLater gives up an import whose attempt may have committed, then
// creates the identical import after, and returns its name and what the look-up found.
func lookUpAfterAnImportCreatedLater(t *testing.T, after time.Duration) (created, found string) {
	const prod = "projects/prod/locations/us-central1"
	lostUncommitted := func(context.Context, any, grpc.UnaryHandler) (any, error) {
		return nil, status.Error(codes.Unavailable, "connection reset")
	}
	srv, clock, a := setupFrom(t, pipelineOptions(interceptCalls("ImportIssueModel", map[int]callHandler{1: lostUncommitted})), time.Now().Add(-12*time.Hour))
	exportedModel(t, a, clock)
	params := activities.ImportIssueModelParams{Parent: prod, ObjectURI: "gs://acme-models/weekly.json", CreateNewModel: true, Since: clock.Now()}
	_, err := runWithRetries(t, a, "ImportIssueModel", params)
	require.Error(t, err)
	mayHaveStarted, ambiguousEnd := activities.MayHaveStarted(err)
	require.True(t, mayHaveStarted)
	require.False(t, ambiguousEnd.IsZero())
	require.Empty(t, srv.Models(prod), "our import never committed")

	createAt := ambiguousEnd.Add(after) // AmbiguousEnd is the worker's clock; created, Google's
	require.True(t, clock.Now().Before(createAt), "the emulator's clock starts far enough back")
	clock.Advance(createAt.Sub(clock.Now()))
	other, err := a.Client.ImportIssueModel(context.Background(), &contactcenterinsightspb.ImportIssueModelRequest{
		Parent: prod, CreateNewModel: true,
		Source: &contactcenterinsightspb.ImportIssueModelRequest_GcsSource_{GcsSource: &contactcenterinsightspb.ImportIssueModelRequest_GcsSource{ObjectUri: params.ObjectURI}}})
	require.NoError(t, err, "the identical import, after ours gave up")

	activities.SetListLagGrace(a, time.Nanosecond)
	input, err := json.Marshal(params)
	require.NoError(t, err)
	env := activityEnv(a)
	result := execute[activities.FoundOperation](t, env, a.FindStartedOperation,
		activities.FindStartedOperationParams{Start: "ImportIssueModel", Input: input, AmbiguousEnd: ambiguousEnd})
	return other.Name(), result.Operation
}
