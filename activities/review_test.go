package activities_test

import (
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	"github.com/stretchr/testify/require"

	"github.com/issuemodels/durable-lro/activities"
	"github.com/issuemodels/durable-lro/insights"
	"github.com/issuemodels/durable-lro/insightstest"
)

// Review finding N (issue 25): a look-up that read only the first 5,000 operations the server
// lists (oldest first) missed, in a location with a long history, the retry's own operation and
// created a second model. The look-up reads the whole list (findOperation).
func TestReviewCreateAfterLostReplyInBusyLocationAdopts(t *testing.T) {
	srv, clock, acts := setup(t, insightstest.Options{TrainingTime: func() time.Duration { return time.Minute }})
	env := activityEnv(acts)
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

	started := execute[activities.StartedOperation](t, env, acts.CreateIssueModel, activities.CreateIssueModelParams{Parent: parent, IssueModel: spec, LookFrom: &scheduled})
	require.NotEmpty(t, started.Operation, "the retry must adopt the operation its lost attempt committed")
	require.EqualValues(t, 1, srv.Stats().RPCs["CreateIssueModel"], "the retry created nothing")
	require.EqualValues(t, 1, srv.Stats().ModelsCreated[parent], "exactly one model for one run")
}

// Review (promise 1, for the lifecycle's promote step): a pipeline start retried after a lost
// reply must not start again while the operation list may not show the committed operation yet
// (the eventual consistency the create loop waits NotFoundGrace out for, finding A): for
// ImportIssueModel with createNewModel that would be a second model for one run. startOnce
// looks only, failing OperationNotListed, until ListLagGrace has passed.
func TestReviewPipelineRetryInsideTheListsLagDoesNotImportTwice(t *testing.T) {
	const prod = "projects/prod/locations/us-central1"
	var hidden atomic.Pointer[[]string]
	lost := map[int]callHandler{
		1: commitHiddenThenLoseReply(&hidden),
	}
	srv, clock, a := setup(t, pipelineOptions(listedFromTheSecondList(&hidden), hideFromLists(&hidden), interceptCalls("ImportIssueModel", lost)))
	exportedModel(t, a, clock)
	before := srv.Stats().RPCs
	_, err := runWithRetries(t, a, "ImportIssueModel",
		activities.ImportIssueModelParams{Parent: prod, ObjectURI: "gs://acme-models/weekly.json", CreateNewModel: true, Since: clock.Now()})
	t.Logf("import: %v", err)
	after := srv.Stats().RPCs
	require.EqualValues(t, 1, after["ImportIssueModel"]-before["ImportIssueModel"], "the retry, a second after the lost reply, imported again")
	clock.Advance(time.Hour)
	require.Len(t, srv.Models(prod), 1, "one imported model for one run")
	_ = err
}
