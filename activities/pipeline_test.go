package activities_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/issuemodels/durable-lro/activities"
	"github.com/issuemodels/durable-lro/insights"
	"github.com/issuemodels/durable-lro/insightstest"
)

// loseFirstReply commits the first successful call of method on the emulator and answers
// UNAVAILABLE instead of its reply, as a connection lost after the server committed would.
func loseFirstReply(method string) grpc.UnaryServerInterceptor {
	var lost atomic.Bool
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		resp, err := handler(ctx, req)
		if err == nil && strings.HasSuffix(info.FullMethod, "/"+method) && lost.CompareAndSwap(false, true) {
			return nil, status.Error(codes.Unavailable, "reply lost after commit")
		}
		return resp, err
	}
}

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
	opts := insightstest.Options{
		Objects: insightstest.Transcripts("gs://acme-chats/nov", 5), Buckets: []string{"acme-models"},
		MinTrainingConversations: 1, TrainingTime: func() time.Duration { return time.Minute },
	}
	if lose != "" {
		opts.Interceptors = []grpc.UnaryServerInterceptor{loseFirstReply(lose)}
	}
	return setup(t, opts)
}

// trainedModel trains a model directly on the emulator.
func trainedModel(t *testing.T, a *activities.Activities, clock *insightstest.FakeClock) string {
	t.Helper()
	env := (&testsuite.WorkflowTestSuite{}).NewTestActivityEnvironment()
	env.RegisterActivity(a)
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

// interceptCalls answers the nth call (1-based) of method as do says: do gets the handler and
// may call it (commit) or not (refuse).
func interceptCalls(method string, do map[int]func(ctx context.Context, req any, h grpc.UnaryHandler) (any, error)) grpc.UnaryServerInterceptor {
	var n atomic.Int64
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if !strings.HasSuffix(info.FullMethod, "/"+method) {
			return handler(ctx, req)
		}
		if f := do[int(n.Add(1))]; f != nil {
			return f(ctx, req, handler)
		}
		return handler(ctx, req)
	}
}

// hideFromLists drops the named operations from ListOperations replies while *hidden holds: an
// operation list that lags behind a create.
func hideFromLists(hidden *atomic.Pointer[[]string]) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		resp, err := handler(ctx, req)
		names := hidden.Load()
		if list, ok := resp.(*longrunningpb.ListOperationsResponse); ok && err == nil && names != nil {
			list.Operations = slices.DeleteFunc(list.Operations, func(op *longrunningpb.Operation) bool { return slices.Contains(*names, op.GetName()) })
		}
		return resp, err
	}
}

func refuse(context.Context, any, grpc.UnaryHandler) (any, error) {
	return nil, status.Error(codes.ResourceExhausted, "quota: one import at a time")
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
	opts := insightstest.Options{
		Objects: insightstest.Transcripts("gs://acme-chats/nov", 5), Buckets: []string{"acme-models"},
		MinTrainingConversations: 1, TrainingTime: func() time.Duration { return time.Minute },
		// Call 1 is the other run's import; call 2, our first attempt, is refused.
		Interceptors: []grpc.UnaryServerInterceptor{interceptCalls("ImportIssueModel", map[int]func(context.Context, any, grpc.UnaryHandler) (any, error){2: refuse})},
	}
	srv, clock, a := setup(t, opts)
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
	lostThenRefused := map[int]func(context.Context, any, grpc.UnaryHandler) (any, error){
		1: func(ctx context.Context, req any, h grpc.UnaryHandler) (any, error) {
			resp, err := h(ctx, req)
			if err == nil {
				names := []string{resp.(*longrunningpb.Operation).GetName()}
				hidden.Store(&names) // not listed yet
			}
			return nil, status.Error(codes.Unavailable, "reply lost after commit")
		},
		2: func(ctx context.Context, req any, h grpc.UnaryHandler) (any, error) {
			hidden.Store(nil) // listed from now on
			return refuse(ctx, req, h)
		},
	}
	opts := insightstest.Options{
		Objects: insightstest.Transcripts("gs://acme-chats/nov", 5), Buckets: []string{"acme-models"},
		MinTrainingConversations: 1, TrainingTime: func() time.Duration { return time.Minute },
		Interceptors: []grpc.UnaryServerInterceptor{hideFromLists(&hidden), interceptCalls("ImportIssueModel", lostThenRefused)},
	}
	srv, clock, a := setup(t, opts)
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
