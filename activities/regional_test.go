package activities_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	contactcenterinsights "cloud.google.com/go/contactcenterinsights/apiv1"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/issuemodels/durable-lro/activities"
	"github.com/issuemodels/durable-lro/insights"
	"github.com/issuemodels/durable-lro/insightsclient"
	"github.com/issuemodels/durable-lro/insightstest"
)

// regionalSetup starts the emulator, which checks the endpoint each call names, and the
// worker's clients on it: one per endpoint, each dialling the emulator and naming its endpoint.
func regionalSetup(t *testing.T, opts insightstest.Options, pattern string) (*insightstest.Server, *insightstest.FakeClock, *insightsclient.Regional, *testsuite.TestActivityEnvironment, *activities.Activities) {
	t.Helper()
	clock := insightstest.NewFakeClock(time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC))
	opts.Clock = clock
	srv, err := insightstest.NewServer(opts)
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	r, err := insightsclient.NewRegional(context.Background(), insightsclient.RegionalOptions{
		Pattern: pattern, EmulatorHost: srv.Addr(), ClientOptions: activities.ClientOptions()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	acts := &activities.Activities{Clients: r}
	env := activityEnv(acts)
	return srv, clock, r, env, acts
}

// run executes one activity and decodes its result into out (nil: ignore it).
func run(t *testing.T, env *testsuite.TestActivityEnvironment, fn any, in any, out any) {
	t.Helper()
	v, err := env.ExecuteActivity(fn, in)
	require.NoError(t, err)
	if out != nil {
		require.NoError(t, v.Get(out))
	}
}

// TestEveryActivityCallsItsLocationsEndpoint: in three locations of three regions (us-central1
// on the global endpoint, europe-west1 and asia-south1 on their own), every activity gets
// through the emulator's endpoint check: pipeline, training with the learned estimate, deploy,
// a promotion from one location to the next (export there, import here), undeploy, delete,
// cancel. One client per endpoint, reused.
func TestEveryActivityCallsItsLocationsEndpoint(t *testing.T) {
	locations := []string{"europe-west1", "us-central1", "asia-south1"}
	srv, clock, r, env, acts := regionalSetup(t, insightstest.Options{
		Objects: insightstest.Transcripts("gs://acme-chats/week", 5), Buckets: []string{"acme-models"},
		MinTrainingConversations: 5, MaxConcurrentCreates: insightstest.Unlimited,
	}, "")
	done := func(op string) {
		t.Helper()
		clock.Advance(24 * time.Hour)
		var got activities.PollResult
		run(t, env, acts.PollOperation, op, &got)
		require.True(t, got.Operation.Done, "%s not done", op)
		require.Empty(t, got.Operation.Error, "%s", op)
	}
	var previous string // the model trained in the location before
	for _, loc := range locations {
		p := "projects/acme/locations/" + loc
		var started activities.StartedOperation
		run(t, env, acts.IngestConversations, activities.IngestConversationsParams{Parent: p, BucketURI: "gs://acme-chats/week"}, &started)
		done(started.Operation)
		run(t, env, acts.BulkAnalyzeConversations, activities.BulkAnalyzeConversationsParams{Parent: p, AnalysisPercentage: 100}, &started)
		done(started.Operation)
		run(t, env, acts.CreateIssueModel, activities.CreateIssueModelParams{Parent: p, IssueModel: spec}, &started)
		require.True(t, strings.HasPrefix(started.Operation, p+"/operations/"), started.Operation)
		run(t, env, acts.EstimateTraining, activities.EstimateTrainingParams{Operation: started.Operation}, nil)
		run(t, env, acts.GetOperation, started.Operation, nil)
		done(started.Operation)
		var models []activities.IssueModelSummary
		run(t, env, acts.ListIssueModels, p, &models)
		require.Len(t, models, 1)
		model := models[0].Name
		run(t, env, acts.GetIssueModel, model, nil)
		run(t, env, acts.DeployIssueModel, model, &started)
		done(started.Operation)
		var page activities.ListOperationsResult
		run(t, env, acts.ListOperations, activities.ListOperationsParams{Name: p}, &page)
		require.Len(t, page.Operations, 4, "ingest, analyze, create, deploy in %s", loc)
		run(t, env, acts.UndeployIssueModel, model, &started)
		run(t, env, acts.CancelOperation, started.Operation, nil) // honoured: the model stays DEPLOYED
		run(t, env, acts.UndeployIssueModel, model, &started)
		done(started.Operation)
		if previous != "" {
			// A promotion across locations: the export is the previous location's call, the
			// import this one's; the imported model is then deleted here.
			uri := "gs://acme-models/" + loc + ".json"
			run(t, env, acts.ExportIssueModel, activities.ExportIssueModelParams{Name: previous, ObjectURI: uri}, &started)
			require.Equal(t, insights.ParentOf(previous), insights.ParentOf(started.Operation))
			done(started.Operation)
			run(t, env, acts.ImportIssueModel, activities.ImportIssueModelParams{Parent: p, ObjectURI: uri, CreateNewModel: true}, &started)
			done(started.Operation)
			var imported activities.IssueModelSummary
			run(t, env, acts.ImportedIssueModel, activities.ImportedIssueModelParams{Operation: started.Operation, DisplayName: spec.DisplayName, Before: []string{model}}, &imported)
			ms := srv.Models(p)
			require.Len(t, ms, 2, "the model trained in %s and the one promoted from %s", loc, insights.ParentOf(previous))
			require.Equal(t, ms[1].GetName(), imported.Name)
			run(t, env, acts.DeleteIssueModel, imported.Name, &started)
			done(started.Operation)
			require.Len(t, srv.Models(p), 1)
		}
		previous = model
	}
	st := srv.Stats()
	require.Empty(t, st.WrongEndpoint, "calls sent to an endpoint that does not serve their location")
	require.EqualValues(t, 3, st.RPCs["CreateIssueModel"])
	require.EqualValues(t, 2, st.ModelsImported["projects/acme/locations/us-central1"]+st.ModelsImported["projects/acme/locations/asia-south1"])
	require.ElementsMatch(t, []string{"europe-west1-contactcenterinsights.googleapis.com", "contactcenterinsights.googleapis.com",
		"asia-south1-contactcenterinsights.googleapis.com"}, r.Endpoints(), "one client per endpoint")
}

// TestTheGlobalEndpointRefusesAnotherLocation is the run that would have caught the bug: the
// same creation in europe-west1 through one client on the global endpoint, as the worker had,
// is refused by the emulator as Google refuses it, with a non-retryable error; through the
// worker's clients it is created.
func TestTheGlobalEndpointRefusesAnotherLocation(t *testing.T) {
	srv, _, _, env, acts := regionalSetup(t, insightstest.Options{}, "")
	const europe = "projects/acme/locations/europe-west1"
	global, err := contactcenterinsights.NewClient(context.Background(), srv.ClientOptionsVia(insights.GlobalEndpoint+":443")...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = global.Close() })
	onGlobal := &activities.Activities{Client: global}
	genv := activityEnv(onGlobal)

	_, err = genv.ExecuteActivity(onGlobal.CreateIssueModel, activities.CreateIssueModelParams{Parent: europe, IssueModel: spec})
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	require.Equal(t, insightstest.WrongEndpointCode.String(), appErr.Type())
	require.True(t, appErr.NonRetryable())
	require.Contains(t, appErr.Error(), insightstest.WrongEndpointMessage)
	require.Contains(t, appErr.Error(), "europe-west1-contactcenterinsights.googleapis.com")
	require.Empty(t, srv.Models(europe))
	require.EqualValues(t, 1, srv.Stats().WrongEndpoint["CreateIssueModel"])

	var started activities.StartedOperation
	run(t, env, acts.CreateIssueModel, activities.CreateIssueModelParams{Parent: europe, IssueModel: spec}, &started)
	require.Len(t, srv.Models(europe), 1)
}

// TestUnknownLocationIsRefusedBeforeAnyCall: a location without an Insights endpoint (asia-east1
// is a Google Cloud region, not an Insights one) fails every activity with InvalidArgument
// naming it and the known locations, and no call is made.
func TestUnknownLocationIsRefusedBeforeAnyCall(t *testing.T) {
	srv, _, _, env, acts := regionalSetup(t, insightstest.Options{}, "")
	const p = "projects/acme/locations/asia-east1"
	for _, tc := range []struct {
		fn    any
		in    any
		field string
	}{
		{acts.CreateIssueModel, activities.CreateIssueModelParams{Parent: p, IssueModel: spec}, "parent"},
		{acts.GetOperation, p + "/operations/1", "operation"},
		{acts.PollOperation, p + "/operations/1", "operation"},
		{acts.CancelOperation, p + "/operations/1", "operation"},
		{acts.EstimateTraining, activities.EstimateTrainingParams{Operation: p + "/operations/1"}, "operation"},
		{acts.ListOperations, activities.ListOperationsParams{Name: p}, "name"},
		{acts.GetIssueModel, p + "/issueModels/1", "name"},
		{acts.ListIssueModels, p, "parent"},
		{acts.DeployIssueModel, p + "/issueModels/1", "name"},
		{acts.UndeployIssueModel, p + "/issueModels/1", "name"},
		{acts.DeleteIssueModel, p + "/issueModels/1", "name"},
		{acts.IngestConversations, activities.IngestConversationsParams{Parent: p, BucketURI: "gs://acme-chats"}, "parent"},
		{acts.BulkAnalyzeConversations, activities.BulkAnalyzeConversationsParams{Parent: p, AnalysisPercentage: 1}, "parent"},
		{acts.ExportIssueModel, activities.ExportIssueModelParams{Name: p + "/issueModels/1", ObjectURI: "gs://acme-models/m.json"}, "name"},
		{acts.ImportIssueModel, activities.ImportIssueModelParams{Parent: p, ObjectURI: "gs://acme-models/m.json"}, "parent"},
		{acts.ImportedIssueModel, activities.ImportedIssueModelParams{Operation: p + "/operations/1", DisplayName: "weekly"}, "operation"},
	} {
		_, err := env.ExecuteActivity(tc.fn, tc.in)
		var appErr *temporal.ApplicationError
		require.ErrorAs(t, err, &appErr)
		require.Equal(t, insights.ErrInvalidArgument, appErr.Type())
		require.True(t, appErr.NonRetryable())
		var fv insights.FieldViolation
		require.NoError(t, appErr.Details(&fv))
		require.Equal(t, tc.field, fv.Field, "%v", err)
		require.Contains(t, fv.Description, `location "asia-east1"`)
		require.Contains(t, fv.Description, "europe-west1, europe-west2")
	}
	var calls int64
	for _, n := range srv.Stats().RPCs {
		calls += n
	}
	require.Zero(t, calls, "no call reached the API")
}

// TestEndpointPatternOverride: the operator's pattern replaces Google's endpoints (here a proxy
// per location); the emulator, seeing no Insights endpoint named, serves it as before.
func TestEndpointPatternOverride(t *testing.T) {
	srv, _, r, env, acts := regionalSetup(t, insightstest.Options{}, "insights-{location}.proxy.internal:8443")
	for _, loc := range []string{"europe-west1", "us-central1"} {
		run(t, env, acts.CreateIssueModel, activities.CreateIssueModelParams{Parent: "projects/acme/locations/" + loc, IssueModel: spec}, nil)
	}
	require.ElementsMatch(t, []string{"insights-europe-west1.proxy.internal:8443", "insights-us-central1.proxy.internal:8443"}, r.Endpoints())
	require.Empty(t, srv.Stats().WrongEndpoint)
	b, _ := json.Marshal(srv.Stats().ModelsCreated)
	require.JSONEq(t, `{"projects/acme/locations/europe-west1":1,"projects/acme/locations/us-central1":1}`, string(b))
}
