package activities_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	"github.com/stretchr/testify/require"

	"github.com/issuemodels/durable-lro/activities"
	"github.com/issuemodels/durable-lro/insights"
	"github.com/issuemodels/durable-lro/insightstest"
)

// A start that gives up after its committed attempt lost the reply (here: the look-ups of the
// later attempts refused by the quota) says so in its error, and FindStartedOperation, run
// afterwards on the same input, finds the operation it started: it is awaited, not left
// running untracked, and nothing is imported twice.
func TestAStartThatGaveUpAfterALostReplyIsFoundAfterwards(t *testing.T) {
	const prod = "projects/prod/locations/us-central1"
	srv, clock, a := setup(t, pipelineOptions(
		interceptCalls("ImportIssueModel", map[int]callHandler{1: commitThenLoseReply}),
		interceptCalls("ListOperations", map[int]callHandler{1: refuse, 2: refuse})))
	exportedModel(t, a, clock)
	params := activities.ImportIssueModelParams{Parent: prod, ObjectURI: "gs://acme-models/weekly.json", CreateNewModel: true, Since: clock.Now()}
	before := srv.Stats().RPCs
	_, err := runWithRetries(t, a, "ImportIssueModel", params)
	require.Error(t, err)
	require.True(t, insights.IsErrorType(err, insights.ErrResourceExhausted), "%v", err)
	mayHaveStarted, ambiguousEnd := activities.MayHaveStarted(err)
	require.True(t, mayHaveStarted, "the last attempt's record, carried by the error, says attempt 1 may have committed")
	require.False(t, ambiguousEnd.IsZero())

	input, err := json.Marshal(params)
	require.NoError(t, err)
	found, err := runWithRetries(t, a, "FindStartedOperation",
		activities.FindStartedOperationParams{Start: "ImportIssueModel", Input: input, AmbiguousEnd: ambiguousEnd})
	require.NoError(t, err)
	require.NotEmpty(t, found.Operation, "the committed import is found")
	op, ok := srv.Operation(found.Operation)
	require.True(t, ok)
	require.Contains(t, op.GetMetadata().GetTypeUrl(), "ImportIssueModelMetadata")
	require.EqualValues(t, 1, srv.Stats().RPCs["ImportIssueModel"]-before["ImportIssueModel"], "committed once, the look-up started nothing")
	clock.Advance(time.Hour)
	require.Len(t, srv.Models(prod), 1, "one imported model")
}

// A start refused on every attempt started nothing: its error says so, and nothing is looked for.
func TestAStartRefusedOnlySaysItStartedNothing(t *testing.T) {
	const prod = "projects/prod/locations/us-central1"
	_, clock, a := setup(t, pipelineOptions(interceptCalls("ImportIssueModel", map[int]callHandler{1: refuse, 2: refuse, 3: refuse})))
	exportedModel(t, a, clock)
	_, err := runWithRetries(t, a, "ImportIssueModel",
		activities.ImportIssueModelParams{Parent: prod, ObjectURI: "gs://acme-models/weekly.json", CreateNewModel: true, Since: clock.Now()})
	require.Error(t, err)
	mayHaveStarted, _ := activities.MayHaveStarted(err)
	require.False(t, mayHaveStarted)
}

// For an undeploy that gave up, the look-up reads the model: UNDEPLOYING is the undeploy to
// await, UNDEPLOYED is done, DEPLOYED means no undeploy was started. It never starts one.
func TestFindStartedOperationOfAnUndeployReadsTheModel(t *testing.T) {
	srv, clock, a := setup(t, insightstest.Options{TrainingTime: func() time.Duration { return time.Minute }, DeployTime: 10 * time.Minute})
	env := activityEnv(a)
	created := startCreation(t, env, a)
	clock.Advance(time.Minute)
	op, _ := srv.Operation(created.Operation)
	model := &contactcenterinsightspb.IssueModel{}
	require.NoError(t, op.GetResponse().UnmarshalTo(model))
	execute[activities.StartedOperation](t, env, a.DeployIssueModel, model.GetName())
	clock.Advance(time.Hour)
	input, err := json.Marshal(model.GetName())
	require.NoError(t, err)
	find := func() activities.FoundOperation {
		t.Helper()
		return execute[activities.FoundOperation](t, env, a.FindStartedOperation,
			activities.FindStartedOperationParams{Start: "UndeployIssueModel", Input: input, AmbiguousEnd: clock.Now()})
	}

	require.Equal(t, activities.FoundOperation{}, find(), "DEPLOYED: no undeploy runs")
	lost, err := a.Client.UndeployIssueModel(context.Background(), &contactcenterinsightspb.UndeployIssueModelRequest{Name: model.GetName()})
	require.NoError(t, err) // the given-up start's undeploy: committed, its reply lost
	require.Equal(t, activities.FoundOperation{Operation: lost.Name()}, find(), "UNDEPLOYING: its undeploy")
	clock.Advance(time.Hour)
	require.Equal(t, activities.FoundOperation{Done: true}, find(), "UNDEPLOYED: done")
	require.EqualValues(t, 1, srv.Stats().RPCs["UndeployIssueModel"], "the look-ups undeployed nothing")
}
