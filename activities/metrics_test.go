package activities_test

import (
	"context"
	"testing"
	"time"

	contactcenterinsights "cloud.google.com/go/contactcenterinsights/apiv1"
	"github.com/stretchr/testify/require"
	"github.com/uber-go/tally/v4"
	sdktally "go.temporal.io/sdk/contrib/tally"
	"go.temporal.io/sdk/testsuite"
	"google.golang.org/grpc/codes"

	"github.com/issuemodels/durable-lro/activities"
	"github.com/issuemodels/durable-lro/insightstest"
)

// TestAPIMetricsCountEveryCallByCode: with ClientOptions, each RPC an activity makes is counted
// by method and gRPC code, and timed.
func TestAPIMetricsCountEveryCallByCode(t *testing.T) {
	srv, err := insightstest.NewServer(insightstest.Options{Clock: insightstest.NewFakeClock(time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC))})
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	c, err := contactcenterinsights.NewClient(context.Background(), append(srv.ClientOptions(), activities.ClientOptions()...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	acts := &activities.Activities{Client: c}

	scope := tally.NewTestScope("", nil)
	var ts testsuite.WorkflowTestSuite
	ts.SetMetricsHandler(sdktally.NewMetricsHandler(scope))
	env := ts.NewTestActivityEnvironment()
	env.RegisterActivity(acts)

	started, err := env.ExecuteActivity(acts.CreateIssueModel, activities.CreateIssueModelParams{Parent: parent, IssueModel: spec})
	require.NoError(t, err)
	var op activities.StartedOperation
	require.NoError(t, started.Get(&op))
	for range 2 {
		_, err := env.ExecuteActivity(acts.GetOperation, op.Operation)
		require.NoError(t, err)
	}
	srv.SetFaults("GetOperation", insightstest.Fault{Code: codes.Unavailable, Probability: 1})
	_, err = env.ExecuteActivity(acts.GetOperation, op.Operation)
	require.Error(t, err)

	got := map[string]int64{}
	for _, c := range scope.Snapshot().Counters() {
		if c.Name() == activities.MetricAPIRequests {
			got[c.Tags()["method"]+"/"+c.Tags()["code"]] += c.Value()
		}
	}
	require.Equal(t, map[string]int64{"CreateIssueModel/OK": 1, "GetOperation/OK": 2, "GetOperation/Unavailable": 1}, got)
	var timed int
	for _, tm := range scope.Snapshot().Timers() {
		if tm.Name() == activities.MetricAPILatency {
			timed += len(tm.Values())
		}
	}
	require.Equal(t, 4, timed)
}
