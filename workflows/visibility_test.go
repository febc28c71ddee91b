package workflows

import (
	"context"
	"testing"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"github.com/uber-go/tally/v4"
	sdktally "go.temporal.io/sdk/contrib/tally"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/issuemodels/durable-lro/activities"
	"github.com/issuemodels/durable-lro/insights"
)

// TestSearchAttributesAndMetrics runs a creation to success and checks what operators see
// without code: the search attributes follow the phases (each upserted once), and the SDK's
// metrics handler receives the polls, the outcome and the operation's age.
func TestSearchAttributesAndMetrics(t *testing.T) {
	var ts testsuite.WorkflowTestSuite
	scope := tally.NewTestScope("", nil)
	ts.SetMetricsHandler(sdktally.NewMetricsHandler(scope))
	env := ts.NewTestWorkflowEnvironment()
	env.RegisterActivity(acts)
	env.RegisterWorkflowWithOptions(CreateIssueModelWorkflow, workflow.RegisterOptions{Name: CreateIssueModelWorkflowType})

	var upserts []map[string]string
	env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
		sa := args.Get(0).(temporal.SearchAttributes)
		got := map[string]string{}
		if v, ok := sa.GetKeyword(operationKey); ok {
			got[OperationSearchAttribute] = v
		}
		if v, ok := sa.GetKeyword(phaseKey); ok {
			got[PhaseSearchAttribute] = v
		}
		upserts = append(upserts, got)
	}).Return(nil)
	env.OnActivity(acts.CreateIssueModel, mock.Anything, mock.Anything).Return(activities.StartedOperation{Operation: testOp}, nil).Once()
	polls := 0
	env.OnActivity(acts.PollOperation, mock.Anything, testOp).Return(asPoll(func(_ context.Context, _ string) (insights.Operation, error) {
		polls++
		if polls < 3 {
			return runningOp(), nil
		}
		return succeededOp(), nil
	}))
	createSucceeds(t, env)

	// Each upsert carries only what changed.
	require.Equal(t, []map[string]string{
		{PhaseSearchAttribute: PhaseCreating},
		{PhaseSearchAttribute: PhasePolling, OperationSearchAttribute: testOp},
		{PhaseSearchAttribute: PhaseDone},
	}, upserts)

	snap := scope.Snapshot()
	counter := func(name string, tags map[string]string) int64 {
		var n int64
		for _, c := range snap.Counters() {
			if c.Name() != name {
				continue
			}
			match := true
			for k, v := range tags {
				match = match && c.Tags()[k] == v
			}
			if match {
				n += c.Value()
			}
		}
		return n
	}
	require.EqualValues(t, 3, counter(MetricPolls, nil))
	require.EqualValues(t, 1, counter(MetricOutcomes, map[string]string{"outcome": OutcomeSucceeded}))
	var ages int
	for _, tm := range snap.Timers() {
		if tm.Name() == MetricOperationAge {
			ages += len(tm.Values())
			// 30s, 60s and 120s after the start with the quiet policy.
			require.Equal(t, "3m30s", tm.Values()[0].String())
		}
	}
	require.Equal(t, 1, ages)
}

// TestDefaultPollingPolicySpelledOut: the spelled-out default parses to the same policy as none.
func TestDefaultPollingPolicySpelledOut(t *testing.T) {
	def := DefaultPollingPolicy()
	got, err := def.parse("polling")
	require.NoError(t, err)
	want, err := (*PollingPolicy)(nil).parse("polling")
	require.NoError(t, err)
	require.Equal(t, want, got)
	var gaps []string
	for k := range 6 {
		gaps = append(gaps, got.interval(k).String())
	}
	require.Equal(t, []string{"10s", "15s", "22.5s", "33.75s", "45s", "45s"}, gaps)
}

func TestStaticSummaryAndDetails(t *testing.T) {
	in := sampleInput(t, `"polling":{"maxInterval":"2m"}`)
	require.Equal(t, `Create issue model "weekly" in `+testParent, in.Summary())
	d := in.Details()
	for _, want := range []string{"`" + testParent + "`", "display name: `weekly`", "medium: `CHAT`", "filter: `medium=\"CHAT\"`",
		"polling: first after 10s, ×1.5 up to 2m0s (±10%), timeout 24h0m0s"} {
		require.Contains(t, d, want)
	}
}
