package activities_test

import (
	"testing"
	"time"

	"cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/issuemodels/durable-lro/activities"
	"github.com/issuemodels/durable-lro/insights"
	"github.com/issuemodels/durable-lro/insightstest"
)

// Review finding N (issue 25), still open: the look-up that adopts an earlier attempt's operation
// scans at most the first 5,000 operations the server lists (oldest first), so in a location with
// a long history the retry after a lost reply misses its own operation and creates a second model.
func TestReviewCreateAfterLostReplyInBusyLocationAdopts(t *testing.T) {
	srv, clock, acts := setup(t, insightstest.Options{TrainingTime: func() time.Duration { return time.Minute }})
	env := (&testsuite.WorkflowTestSuite{}).NewTestActivityEnvironment()
	env.RegisterActivity(acts)
	history := make([]insightstest.FinishedTraining, 5000)
	for i := range history {
		history[i] = insightstest.FinishedTraining{
			Request: &contactcenterinsightspb.CreateIssueModelRequest{IssueModel: &contactcenterinsightspb.IssueModel{
				DisplayName: "older", InputDataConfig: &contactcenterinsightspb.IssueModel_InputDataConfig{Filter: `medium="CHAT"`}}},
			Duration: time.Hour, EndedAgo: 24 * time.Hour,
		}
	}
	require.NoError(t, srv.SeedFinishedTrainings(parent, history))

	srv.SetFaults("CreateIssueModel", insightstest.Fault{LostReplyAfterCommit: true, Probability: 1})
	scheduled := clock.Now()
	_, err := env.ExecuteActivity(acts.CreateIssueModel, activities.CreateIssueModelParams{Parent: parent, IssueModel: spec})
	require.True(t, insights.MayHaveCommitted(err), "%v", err)
	srv.SetFaults("CreateIssueModel")
	clock.Advance(2 * time.Minute) // the lost attempt's training ended: the region's slot is free again

	v, err := env.ExecuteActivity(acts.CreateIssueModel, activities.CreateIssueModelParams{Parent: parent, IssueModel: spec, LookFrom: &scheduled})
	require.NoError(t, err)
	var started activities.StartedOperation
	require.NoError(t, v.Get(&started))
	require.True(t, started.Adopted, "the retry must adopt the operation its lost attempt committed")
	require.EqualValues(t, 1, srv.Stats().ModelsCreated[parent], "exactly one model for one run")
}
