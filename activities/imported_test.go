package activities_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/issuemodels/durable-lro/activities"
)

// The import's own model is found from the operation's times, not as "the last model of that
// display name": another import of the same model into the location, finished before this one
// started, is not taken; imports that overlap are refused by name rather than guessed.
func TestImportedIssueModelIsTheOperations(t *testing.T) {
	const prod = "projects/prod/locations/us-central1"
	srv, clock, a := pipelineSetup(t, "")
	exportedModel(t, a, clock)
	env := activityEnv(a)
	displayName := srv.Models(parent)[0].GetDisplayName()
	imp := func() activities.StartedOperation {
		t.Helper()
		started, err := runWithRetries(t, a, "ImportIssueModel",
			activities.ImportIssueModelParams{Parent: prod, ObjectURI: "gs://acme-models/weekly.json", CreateNewModel: true})
		require.NoError(t, err)
		return started
	}
	find := func(op string) (activities.IssueModelSummary, error) {
		v, err := env.ExecuteActivity(a.ImportedIssueModel, activities.ImportedIssueModelParams{Operation: op, DisplayName: displayName})
		var m activities.IssueModelSummary
		if err == nil {
			require.NoError(t, v.Get(&m))
		}
		return m, err
	}

	// Another run's import, then ours an hour later; the listing taken before both.
	other := imp()
	clock.Advance(time.Hour)
	ours := imp()
	clock.Advance(time.Hour)
	models := srv.Models(prod)
	require.Len(t, models, 2)
	newest := models[0]
	for _, m := range models {
		if m.GetCreateTime().AsTime().After(newest.GetCreateTime().AsTime()) {
			newest = m
		}
	}
	m, err := find(ours.Operation)
	require.NoError(t, err)
	require.Equal(t, newest.GetName(), m.Name, "our import's model is the one created while it ran")
	m, err = find(other.Operation)
	require.NoError(t, err)
	require.NotEqual(t, newest.GetName(), m.Name, "the other import's model is the other one")

	// Two imports that overlap: both models were created while ours ran; no guess.
	_, second := imp(), imp()
	clock.Advance(time.Hour)
	_, err = find(second.Operation)
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	require.True(t, appErr.NonRetryable())
	require.Contains(t, err.Error(), "not guessing")
}
