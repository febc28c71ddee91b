package activities_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	contactcenterinsights "cloud.google.com/go/contactcenterinsights/apiv1"
	"cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"google.golang.org/grpc/codes"

	"github.com/issuemodels/durable-lro/activities"
	"github.com/issuemodels/durable-lro/insights"
	"github.com/issuemodels/durable-lro/insightstest"
)

const parent = "projects/acme/locations/us-central1"

var spec = insights.IssueModelSpec{DisplayName: "weekly", InputDataConfig: insights.InputDataConfig{Medium: "CHAT", Filter: `medium="CHAT"`}}

// startCreation runs the CreateIssueModel activity for the sample model.
func startCreation(t *testing.T, env *testsuite.TestActivityEnvironment, acts *activities.Activities) activities.StartedOperation {
	t.Helper()
	return execute[activities.StartedOperation](t, env, acts.CreateIssueModel, activities.CreateIssueModelParams{Parent: parent, IssueModel: spec})
}

// getOperation runs the GetOperation activity.
func getOperation(t *testing.T, env *testsuite.TestActivityEnvironment, acts *activities.Activities, name string) insights.Operation {
	t.Helper()
	return execute[insights.Operation](t, env, acts.GetOperation, name)
}

// activityEnv is a test environment that runs acts' activities.
func activityEnv(acts *activities.Activities) *testsuite.TestActivityEnvironment {
	env := (&testsuite.WorkflowTestSuite{}).NewTestActivityEnvironment()
	env.RegisterActivity(acts)
	return env
}

// execute runs activity on arg, which must succeed, and decodes its result.
func execute[T any](t *testing.T, env *testsuite.TestActivityEnvironment, activity, arg any) T {
	t.Helper()
	v, err := env.ExecuteActivity(activity, arg)
	require.NoError(t, err)
	var out T
	require.NoError(t, v.Get(&out))
	return out
}

// setup starts the emulator on a fake clock and the real Google client talking to it over a socket.
func setup(t *testing.T, opts insightstest.Options) (*insightstest.Server, *insightstest.FakeClock, *activities.Activities) {
	t.Helper()
	return setupFrom(t, opts, time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC))
}

// setupFrom is setup with the emulator's clock starting at start.
func setupFrom(t *testing.T, opts insightstest.Options, start time.Time) (*insightstest.Server, *insightstest.FakeClock, *activities.Activities) {
	t.Helper()
	clock := insightstest.NewFakeClock(start)
	opts.Clock = clock
	srv, err := insightstest.NewServer(opts)
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	c, err := contactcenterinsights.NewClient(context.Background(), srv.ClientOptions()...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return srv, clock, &activities.Activities{Client: c}
}

func TestCreateAfterLostReplyAdoptsTheCommittedOperation(t *testing.T) {
	srv, clock, acts := setup(t, insightstest.Options{})
	env := activityEnv(acts)
	// The server creates the model and operation, but the reply is lost.
	srv.SetFaults("CreateIssueModel", insightstest.Fault{LostReplyAfterCommit: true, Probability: 1})
	scheduled := clock.Now()
	_, err := env.ExecuteActivity(acts.CreateIssueModel, activities.CreateIssueModelParams{Parent: parent, IssueModel: spec})
	require.True(t, insights.MayHaveCommitted(err), "%v", err)

	// The next attempt, told an earlier one may have committed, adopts instead of creating.
	started := execute[activities.StartedOperation](t, env, acts.CreateIssueModel, activities.CreateIssueModelParams{Parent: parent, IssueModel: spec, LookFrom: &scheduled})
	require.Len(t, srv.Models(parent), 1, "exactly one model")
	st := srv.Stats()
	require.EqualValues(t, 1, st.ModelsCreated[parent])
	require.EqualValues(t, 1, st.RPCs["CreateIssueModel"], "the retry found the operation instead of creating again")
	_, ok := srv.Operation(started.Operation)
	require.True(t, ok)
}

func TestCreateLookOnlyCreatesNothing(t *testing.T) {
	srv, clock, acts := setup(t, insightstest.Options{})
	env := activityEnv(acts)
	now := clock.Now()
	started := execute[activities.StartedOperation](t, env, acts.CreateIssueModel, activities.CreateIssueModelParams{Parent: parent, IssueModel: spec, LookFrom: &now, LookOnly: true})
	require.True(t, started.AlreadyDone)
	require.Empty(t, started.Operation)
	require.Zero(t, srv.Stats().RPCs["CreateIssueModel"])
}

func TestCreateDoesNotAdoptOlderIdenticalOperations(t *testing.T) {
	srv, clock, acts := setup(t, insightstest.Options{TrainingTime: func() time.Duration { return time.Minute }})
	env := activityEnv(acts)
	first := startCreation(t, env, acts)
	clock.Advance(time.Hour) // the first training is long done
	later := clock.Now()
	started := execute[activities.StartedOperation](t, env, acts.CreateIssueModel, activities.CreateIssueModelParams{Parent: parent, IssueModel: spec, LookFrom: &later})
	require.NotEqual(t, first.Operation, started.Operation)
	require.EqualValues(t, 2, srv.Stats().ModelsCreated[parent], "a later workflow gets its own model")
}

func TestErrorsAreTypedByGRPCCode(t *testing.T) {
	srv, _, acts := setup(t, insightstest.Options{})
	env := activityEnv(acts)
	for _, tc := range []struct {
		code         codes.Code
		nonRetryable bool
	}{
		{codes.Unavailable, false}, {codes.DeadlineExceeded, false}, {codes.ResourceExhausted, false},
		{codes.PermissionDenied, true}, {codes.InvalidArgument, true}, {codes.NotFound, true}, {codes.FailedPrecondition, true},
	} {
		srv.SetFaults("GetOperation", insightstest.Fault{Code: tc.code, Probability: 1})
		_, err := env.ExecuteActivity(acts.GetOperation, parent+"/operations/1")
		var appErr *temporal.ApplicationError
		require.True(t, errors.As(err, &appErr), "%v", err)
		require.Equal(t, tc.code.String(), appErr.Type())
		require.Equal(t, tc.nonRetryable, appErr.NonRetryable(), tc.code.String())
		var st insights.Status
		require.NoError(t, appErr.Details(&st))
		require.EqualValues(t, tc.code, st.Code)
	}
}

func TestBadNamesFailBeforeAnyCall(t *testing.T) {
	srv, _, acts := setup(t, insightstest.Options{})
	env := activityEnv(acts)
	_, err := env.ExecuteActivity(acts.GetOperation, "operations/1")
	require.True(t, insights.IsErrorType(err, insights.ErrInvalidArgument), "%v", err)
	_, err = env.ExecuteActivity(acts.CreateIssueModel, activities.CreateIssueModelParams{Parent: parent})
	require.True(t, insights.IsErrorType(err, insights.ErrInvalidArgument), "%v", err)
	_, err = env.ExecuteActivity(acts.DeployIssueModel, parent)
	require.True(t, insights.IsErrorType(err, insights.ErrInvalidArgument), "%v", err)
	require.Empty(t, srv.Stats().RPCs)
}

func TestCancelOperationModes(t *testing.T) {
	srv, _, acts := setup(t, insightstest.Options{})
	env := activityEnv(acts)
	started := startCreation(t, env, acts)

	srv.SetCancelMode(insightstest.CancelUnimplemented)
	res := execute[activities.CancelResult](t, env, acts.CancelOperation, started.Operation)
	require.Equal(t, activities.CancelResult{Unimplemented: true}, res)

	srv.SetCancelMode(insightstest.CancelHonor)
	taken := execute[activities.CancelResult](t, env, acts.CancelOperation, started.Operation)
	require.Equal(t, activities.CancelResult{}, taken, "taken")
	op := getOperation(t, env, acts, started.Operation)
	require.True(t, op.Done)
	require.EqualValues(t, insights.CodeCancelled, op.Error.Code)
}

func TestGetOperationDecodesTheFinishedCreation(t *testing.T) {
	_, clock, acts := setup(t, insightstest.Options{TrainingTime: func() time.Duration { return 2 * time.Hour }})
	env := activityEnv(acts)
	started := startCreation(t, env, acts)
	clock.Advance(2 * time.Hour)

	op := getOperation(t, env, acts, started.Operation)
	require.True(t, op.Done)
	require.Nil(t, op.Error)
	m, err := op.IssueModel()
	require.NoError(t, err)
	require.Equal(t, contactcenterinsightspb.IssueModel_UNDEPLOYED, m.GetState())
	require.Equal(t, "weekly", m.GetDisplayName())
	require.NotNil(t, m.GetTrainingStats())
	times := op.Times()
	require.NotNil(t, times.CreateTime)
	require.NotNil(t, times.EndTime)
	require.Equal(t, 2*time.Hour, times.EndTime.Sub(*times.CreateTime))
	require.Contains(t, string(op.Response), `"@type":"type.googleapis.com/google.cloud.contactcenterinsights.v1.IssueModel"`)
}

func TestDeployUndeployDeleteAreIdempotent(t *testing.T) {
	srv, clock, acts := setup(t, insightstest.Options{TrainingTime: func() time.Duration { return time.Minute }})
	env := activityEnv(acts)
	run := func(fn any, arg any) activities.StartedOperation {
		t.Helper()
		out := execute[activities.StartedOperation](t, env, fn, arg)
		return out
	}
	created := run(acts.CreateIssueModel, activities.CreateIssueModelParams{Parent: parent, IssueModel: spec})
	clock.Advance(time.Minute)
	op, _ := srv.Operation(created.Operation)
	model := &contactcenterinsightspb.IssueModel{}
	require.NoError(t, op.GetResponse().UnmarshalTo(model))
	name := model.GetName()

	first := run(acts.DeployIssueModel, name)
	require.NotEmpty(t, first.Operation)
	second := run(acts.DeployIssueModel, name) // retried while DEPLOYING: adopts
	require.Equal(t, first.Operation, second.Operation)
	clock.Advance(time.Hour)
	require.True(t, run(acts.DeployIssueModel, name).AlreadyDone)
	require.EqualValues(t, 1, srv.Stats().RPCs["DeployIssueModel"])

	undeploy := run(acts.UndeployIssueModel, name)
	require.NotEmpty(t, undeploy.Operation)
	clock.Advance(time.Hour)
	require.True(t, run(acts.UndeployIssueModel, name).AlreadyDone)

	del := run(acts.DeleteIssueModel, name)
	require.NotEmpty(t, del.Operation)
	clock.Advance(time.Hour)
	require.True(t, run(acts.DeleteIssueModel, name).AlreadyDone)
	require.Empty(t, srv.Models(parent))
}

func TestListOperationsPages(t *testing.T) {
	_, _, acts := setup(t, insightstest.Options{MaxConcurrentCreates: insightstest.Unlimited, TrainingTime: func() time.Duration { return time.Minute }})
	env := activityEnv(acts)
	for range 5 {
		_, err := env.ExecuteActivity(acts.CreateIssueModel, activities.CreateIssueModelParams{Parent: parent, IssueModel: spec})
		require.NoError(t, err)
	}
	var all []string
	token := ""
	for {
		page := execute[activities.ListOperationsResult](t, env, acts.ListOperations, activities.ListOperationsParams{Name: parent, PageSize: 2, PageToken: token})
		require.LessOrEqual(t, len(page.Operations), 2)
		for _, op := range page.Operations {
			all = append(all, op.Name)
		}
		if token = page.NextPageToken; token == "" {
			break
		}
	}
	require.Len(t, all, 5)
	done := execute[activities.ListOperationsResult](t, env, acts.ListOperations, activities.ListOperationsParams{Name: parent, Filter: "done=true"})
	require.Empty(t, done.Operations)
}

// Found by the explorer (P): a deploy whose reply was lost leaves the model DEPLOYING while the
// operation list does not show its operation yet; the retry must not start a second deploy (the
// API refuses it FAILED_PRECONDITION, failing the step while the deploy goes through) but retry
// until it can adopt the operation.
func TestDeployRetryWaitsForTheListToShowTheRunningOperation(t *testing.T) {
	// Operations are listed (and found) a minute after they start.
	srv, clock, acts := setup(t, insightstest.Options{TrainingTime: func() time.Duration { return time.Minute }, DeployTime: 10 * time.Minute, OperationVisibilityDelay: time.Minute})
	env := activityEnv(acts)
	created := startCreation(t, env, acts)
	clock.Advance(time.Minute)
	op, _ := srv.Operation(created.Operation)
	model := &contactcenterinsightspb.IssueModel{}
	require.NoError(t, op.GetResponse().UnmarshalTo(model))

	lost, err := acts.Client.DeployIssueModel(context.Background(), &contactcenterinsightspb.DeployIssueModelRequest{Name: model.GetName()})
	require.NoError(t, err) // the lost reply's deploy: committed
	before := srv.Stats().RPCs["DeployIssueModel"]
	_, err = env.ExecuteActivity(acts.DeployIssueModel, model.GetName())
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr), "want the retryable OperationNotListed, got %v", err)
	require.Equal(t, insights.ErrOperationNotListed, appErr.Type())
	require.False(t, appErr.NonRetryable())
	require.Equal(t, before, srv.Stats().RPCs["DeployIssueModel"], "no second deploy")

	clock.Advance(time.Minute)
	adopted := execute[activities.StartedOperation](t, env, acts.DeployIssueModel, model.GetName())
	require.Equal(t, lost.Name(), adopted.Operation)
}

// For an undeploy that gave up, the look-up reads the model: UNDEPLOYING is the undeploy to
// await, UNDEPLOYED is done, DEPLOYED means no undeploy was started. It never starts one.
func TestFindStartedOperationOfAnUndeployReadsTheModel(t *testing.T) {
	srv, clock, a := setup(t, insightstest.Options{TrainingTime: func() time.Duration { return time.Minute }, DeployTime: 10 * time.Minute})
	env := activityEnv(a)
	model := trainedModel(t, a, clock)
	execute[activities.StartedOperation](t, env, a.DeployIssueModel, model)
	clock.Advance(time.Hour)
	input, err := json.Marshal(model)
	require.NoError(t, err)
	find := func() activities.FoundOperation {
		t.Helper()
		return execute[activities.FoundOperation](t, env, a.FindStartedOperation,
			activities.FindStartedOperationParams{Start: "UndeployIssueModel", Input: input, AmbiguousEnd: clock.Now()})
	}

	require.Equal(t, activities.FoundOperation{}, find(), "DEPLOYED: no undeploy runs")
	lost, err := a.Client.UndeployIssueModel(context.Background(), &contactcenterinsightspb.UndeployIssueModelRequest{Name: model})
	require.NoError(t, err) // the given-up start's undeploy: committed, its reply lost
	require.Equal(t, activities.FoundOperation{Operation: lost.Name()}, find(), "UNDEPLOYING: its undeploy")
	clock.Advance(time.Hour)
	require.Equal(t, activities.FoundOperation{Done: true}, find(), "UNDEPLOYED: done")
	require.EqualValues(t, 1, srv.Stats().RPCs["UndeployIssueModel"], "the look-ups undeployed nothing")
}
