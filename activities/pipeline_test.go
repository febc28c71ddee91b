package activities_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/grpc"

	"github.com/issuemodels/durable-lro/activities"
	"github.com/issuemodels/durable-lro/insights"
	"github.com/issuemodels/durable-lro/insightstest"
)

// runWithRetries runs one activity the way the workflows do: Temporal retries it (attempt 2
// after the lost reply).
func runWithRetries(t *testing.T, acts *activities.Activities, name string, params any) (activities.StartedOperation, error) {
	t.Helper()
	env := (&testsuite.WorkflowTestSuite{}).NewTestWorkflowEnvironment()
	env.RegisterActivity(acts)
	env.RegisterWorkflowWithOptions(func(ctx workflow.Context, in json.RawMessage) (activities.StartedOperation, error) {
		ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			StartToCloseTimeout: time.Minute,
			RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumAttempts: 3, NonRetryableErrorTypes: insights.NonRetryableErrorTypes()},
		})
		var started activities.StartedOperation
		err := workflow.ExecuteActivity(ctx, name, in).Get(ctx, &started)
		return started, err
	}, workflow.RegisterOptions{Name: "retrying"})
	b, err := json.Marshal(params)
	require.NoError(t, err)
	env.ExecuteWorkflow("retrying", json.RawMessage(b))
	require.True(t, env.IsWorkflowCompleted())
	var started activities.StartedOperation
	if err := env.GetWorkflowError(); err != nil {
		return started, err
	}
	require.NoError(t, env.GetWorkflowResult(&started))
	return started, nil
}

func pipelineSetup(t *testing.T, lose string) (*insightstest.Server, *insightstest.FakeClock, *activities.Activities) {
	t.Helper()
	if lose == "" {
		return setup(t, pipelineOptions())
	}
	return setup(t, pipelineOptions(loseFirstReply(lose)))
}

// trainedModel trains a model directly on the emulator.
func trainedModel(t *testing.T, a *activities.Activities, clock *insightstest.FakeClock) string {
	t.Helper()
	env := activityEnv(a)
	started := startCreation(t, env, a)
	clock.Advance(time.Hour)
	op := getOperation(t, env, a, started.Operation)
	m, err := op.IssueModel()
	require.NoError(t, err)
	return m.GetName()
}

// Each pipeline activity, after a reply lost once the server committed, adopts on its retry the
// operation the first attempt started: one RPC that starts an operation, no second operation.
func TestPipelineActivitiesAdoptAfterALostReply(t *testing.T) {
	const prod = "projects/prod/locations/us-central1"
	cases := []struct {
		method string
		params func(since time.Time, model string) any
		check  func(t *testing.T, srv *insightstest.Server)
	}{
		{"IngestConversations", func(since time.Time, _ string) any {
			return activities.IngestConversationsParams{Parent: parent, BucketURI: "gs://acme-chats/nov", Since: since}
		}, func(t *testing.T, srv *insightstest.Server) {
			require.EqualValues(t, 5, srv.Stats().Conversations[parent], "each object ingested once")
		}},
		{"BulkAnalyzeConversations", func(since time.Time, _ string) any {
			return activities.BulkAnalyzeConversationsParams{Parent: parent, Filter: `medium="CHAT"`, AnalysisPercentage: 100, Since: since}
		}, func(t *testing.T, srv *insightstest.Server) {
			require.EqualValues(t, 5, srv.Stats().Analyses[parent], "each conversation analyzed once")
			require.Len(t, srv.Conversations(parent), 5)
		}},
		{"ExportIssueModel", func(since time.Time, model string) any {
			return activities.ExportIssueModelParams{Name: model, ObjectURI: "gs://acme-models/weekly.json", Since: since}
		}, func(t *testing.T, srv *insightstest.Server) {
			require.EqualValues(t, 1, srv.Stats().Exports["gs://acme-models/weekly.json"], "one export")
		}},
		{"ImportIssueModel", func(since time.Time, _ string) any {
			return activities.ImportIssueModelParams{Parent: prod, ObjectURI: "gs://acme-models/weekly.json", CreateNewModel: true, Since: since}
		}, func(t *testing.T, srv *insightstest.Server) {
			require.Len(t, srv.Models(prod), 1, "one imported model")
			require.EqualValues(t, 1, srv.Stats().ModelsImported[prod])
		}},
	}
	for _, c := range cases {
		t.Run(c.method, func(t *testing.T) {
			srv, clock, a := pipelineSetup(t, c.method)
			// What the step needs: conversations to analyze, a model to export, an object to import.
			model := ""
			if c.method != "IngestConversations" {
				_, err := runWithRetries(t, a, "IngestConversations", activities.IngestConversationsParams{Parent: parent, BucketURI: "gs://acme-chats/nov"})
				require.NoError(t, err)
				clock.Advance(time.Hour)
			}
			if c.method == "ExportIssueModel" || c.method == "ImportIssueModel" {
				_, err := runWithRetries(t, a, "BulkAnalyzeConversations", activities.BulkAnalyzeConversationsParams{Parent: parent, AnalysisPercentage: 100})
				require.NoError(t, err)
				clock.Advance(time.Hour)
				model = trainedModel(t, a, clock)
			}
			if c.method == "ImportIssueModel" {
				_, err := runWithRetries(t, a, "ExportIssueModel", activities.ExportIssueModelParams{Name: model, ObjectURI: "gs://acme-models/weekly.json"})
				require.NoError(t, err)
				clock.Advance(time.Hour)
			}
			before := srv.Stats().RPCs
			started, err := runWithRetries(t, a, c.method, c.params(clock.Now(), model))
			require.NoError(t, err)
			after := srv.Stats().RPCs
			require.EqualValues(t, 1, after[c.method]-before[c.method], "%s called once", c.method)
			require.EqualValues(t, 1, after["ListOperations"]-before["ListOperations"], "the retry looked once")
			op, ok := srv.Operation(started.Operation)
			require.True(t, ok)
			require.Contains(t, op.GetMetadata().GetTypeUrl(), strings.TrimSuffix(c.method, "s")) // IngestConversationsMetadata, ...
			clock.Advance(time.Hour)
			c.check(t, srv)
		})
	}
}

func TestPipelineActivitiesFirstAttemptDoesNotLook(t *testing.T) {
	srv, _, a := pipelineSetup(t, "")
	started, err := runWithRetries(t, a, "IngestConversations", activities.IngestConversationsParams{Parent: parent, BucketURI: "gs://acme-chats/nov"})
	require.NoError(t, err)
	require.NotEmpty(t, started.Operation)
	require.Zero(t, srv.Stats().RPCs["ListOperations"])
}

func TestPipelineActivitiesRefuseBadInputAndNameTheResource(t *testing.T) {
	_, _, a := pipelineSetup(t, "")
	for _, c := range []struct {
		method string
		params any
		want   string
	}{
		{"IngestConversations", activities.IngestConversationsParams{Parent: parent, BucketURI: "acme-chats"}, "bucketUri"},
		{"IngestConversations", activities.IngestConversationsParams{Parent: parent, BucketURI: "gs://acme-chats", Medium: "FAX"}, "medium"},
		{"IngestConversations", activities.IngestConversationsParams{Parent: parent, BucketURI: "gs://no-such-bucket/x"}, "gs://no-such-bucket"},
		{"BulkAnalyzeConversations", activities.BulkAnalyzeConversationsParams{Parent: parent, AnalysisPercentage: 101}, "analysisPercentage"},
		{"ExportIssueModel", activities.ExportIssueModelParams{Name: parent + "/issueModels/9", ObjectURI: "gs://acme-models/"}, "objectUri"},
		{"ExportIssueModel", activities.ExportIssueModelParams{Name: parent + "/issueModels/9", ObjectURI: "gs://acme-models/m.json"}, parent + "/issueModels/9"},
		{"ImportIssueModel", activities.ImportIssueModelParams{Parent: parent, ObjectURI: "gs://acme-models/missing.json"}, "gs://acme-models/missing.json"},
	} {
		_, err := runWithRetries(t, a, c.method, c.params)
		require.Error(t, err, c.method)
		require.Contains(t, err.Error(), c.want)
		var appErr *temporal.ApplicationError
		require.ErrorAs(t, err, &appErr)
		require.True(t, appErr.NonRetryable(), "%s: %v is final", c.method, err)
	}
}

// exportedModel prepares an object to import: a trained model exported to
// gs://acme-models/weekly.json. It returns the model and the export, four hours of the clock
// ago.
func exportedModel(t *testing.T, a *activities.Activities, clock *insightstest.FakeClock) (model, export string) {
	t.Helper()
	_, err := runWithRetries(t, a, "IngestConversations", activities.IngestConversationsParams{Parent: parent, BucketURI: "gs://acme-chats/nov"})
	require.NoError(t, err)
	clock.Advance(time.Hour)
	_, err = runWithRetries(t, a, "BulkAnalyzeConversations", activities.BulkAnalyzeConversationsParams{Parent: parent, AnalysisPercentage: 100})
	require.NoError(t, err)
	clock.Advance(time.Hour)
	model = trainedModel(t, a, clock)
	started, err := runWithRetries(t, a, "ExportIssueModel", activities.ExportIssueModelParams{Name: model, ObjectURI: "gs://acme-models/weekly.json"})
	require.NoError(t, err)
	clock.Advance(time.Hour)
	return model, started.Operation
}

// After a definite refusal, and nothing ambiguous before it, the retry does not look: an
// identical import another run started in the same window is not ours, and adopting it would
// give both runs one model. (On the first release it adopted the other run's operation.)
func TestPipelineRetryAfterARefusalDoesNotAdoptAnotherRunsOperation(t *testing.T) {
	const prod = "projects/prod/locations/us-central1"
	// Call 1 is the other run's import; call 2, our first attempt, is refused.
	srv, clock, a := setup(t, pipelineOptions(interceptCalls("ImportIssueModel", map[int]callHandler{2: refuse})))
	exportedModel(t, a, clock)
	since := clock.Now()
	params := activities.ImportIssueModelParams{Parent: prod, ObjectURI: "gs://acme-models/weekly.json", CreateNewModel: true, Since: since}
	other, err := runWithRetries(t, a, "ImportIssueModel", params)
	require.NoError(t, err)
	before := srv.Stats().RPCs
	ours, err := runWithRetries(t, a, "ImportIssueModel", params)
	require.NoError(t, err)
	after := srv.Stats().RPCs
	require.NotEqual(t, other.Operation, ours.Operation, "two runs share one import")
	require.Zero(t, after["ListOperations"]-before["ListOperations"], "the retry after a refusal looked")
	require.EqualValues(t, 1, after["ImportIssueModel"]-before["ImportIssueModel"], "refused (in front of the emulator), then started")
}

// Once an attempt may have committed, every later attempt looks, even after a refusal in
// between: a lost reply (the operation not listed yet), then, the grace for the list's lag
// passed (shortened here), a look that misses it and a refusal (the region's slot is the lost
// operation's), then the look that finds it. Nothing is imported twice.
func TestPipelineRetryLooksAfterARefusalThatFollowsALostReply(t *testing.T) {
	const prod = "projects/prod/locations/us-central1"
	var hidden atomic.Pointer[[]string]
	lostThenRefused := map[int]callHandler{
		1: commitHiddenThenLoseReply(&hidden),
		2: func(ctx context.Context, req any, h grpc.UnaryHandler) (any, error) {
			hidden.Store(nil) // listed from now on
			return refuse(ctx, req, h)
		},
	}
	srv, clock, a := setup(t, pipelineOptions(hideFromLists(&hidden), interceptCalls("ImportIssueModel", lostThenRefused)))
	activities.SetListLagGrace(a, time.Nanosecond)
	exportedModel(t, a, clock)
	before := srv.Stats().RPCs
	started, err := runWithRetries(t, a, "ImportIssueModel",
		activities.ImportIssueModelParams{Parent: prod, ObjectURI: "gs://acme-models/weekly.json", CreateNewModel: true, Since: clock.Now()})
	require.NoError(t, err)
	after := srv.Stats().RPCs
	require.NotEmpty(t, started.Operation, "attempt 3 adopted the lost operation")
	// (The refusal is answered in front of the emulator, which counts only what reaches it.)
	require.EqualValues(t, 1, after["ImportIssueModel"]-before["ImportIssueModel"], "committed once, never again")
	require.EqualValues(t, 2, after["ListOperations"]-before["ListOperations"], "attempts 2 and 3 looked")
	clock.Advance(time.Hour)
	require.Len(t, srv.Models(prod), 1, "one imported model")
}

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
