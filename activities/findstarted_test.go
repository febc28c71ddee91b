package activities_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/issuemodels/durable-lro/activities"
	"github.com/issuemodels/durable-lro/insights"
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
