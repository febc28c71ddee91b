package workflows

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/issuemodels/durable-lro/activities"
	"github.com/issuemodels/durable-lro/insights"
)

// pacedByWorkerEnv is createdEnv for a run that began before apiCallsUnderServerLimitsChange and
// is replayed from before pacedRunsJoinServerLimitsChange: its poll is a local activity that the
// loop paces by its worker's budget.
func pacedByWorkerEnv() *testsuite.TestWorkflowEnvironment {
	env := createdEnv()
	env.OnGetVersion(apiCallsUnderServerLimitsChange, workflow.DefaultVersion, apiCallsUnderServerLimitsVersion).Return(workflow.DefaultVersion)
	for attempt := 1; attempt <= 50; attempt++ {
		env.OnGetVersion(joinChangeID(attempt), workflow.DefaultVersion, pacedRunsJoinServerLimitsVersion).Return(workflow.DefaultVersion).Maybe()
	}
	return env
}

// TestPollBudgetBackPressure: a poll that finds the worker's GetOperation budget spent is not a
// poll (no call was made); it doubles the extra wait added to later intervals, starting from the
// initial interval, and each poll that gets through shrinks the extra by a tenth.
func TestPollBudgetBackPressure(t *testing.T) {
	env := pacedByWorkerEnv()
	var at []time.Time
	answers := []func() (insights.Operation, error){
		func() (insights.Operation, error) { return insights.Operation{}, throttledErr() },
		func() (insights.Operation, error) { return insights.Operation{}, throttledErr() },
		func() (insights.Operation, error) { return runningOp(), nil },
		func() (insights.Operation, error) { return succeededOp(), nil },
	}
	env.OnActivity(acts.PollOperation, mock.Anything, testOp).Return(asPoll(func(_ context.Context, _ string) (insights.Operation, error) {
		at = append(at, env.Now())
		return answers[min(len(at), len(answers))-1]()
	}))
	start := env.Now()
	res := createSucceeds(t, env)
	require.Equal(t, 2, res.Polls, "throttled attempts are not polls")
	// quiet policy: 30s, x2. Throttled: +30s, then +60s; after a poll that got through, +54s.
	require.Equal(t, []string{"30s", "1m0s", "1m30s", "1m54s"}, gapsFrom(start, at))
}

func throttledErr() error {
	return temporal.NewNonRetryableApplicationError("budget spent", insights.ErrPollThrottled, nil)
}

// TestWorkerPaceStretchesIntervals: the loop polls no more often than the worker's pace
// (PollResult.WorkerPace) and says so in status.rateLimitDelay.
func TestWorkerPaceStretchesIntervals(t *testing.T) {
	env := pacedByWorkerEnv()
	var at []time.Time
	env.OnActivity(acts.PollOperation, mock.Anything, testOp).Return(func(context.Context, string) (activities.PollResult, error) {
		at = append(at, env.Now())
		if len(at) < 3 {
			return activities.PollResult{Operation: runningOp(), WorkerPace: 5 * time.Minute}, nil
		}
		return activities.PollResult{Operation: succeededOp()}, nil
	})
	slower := rateLimitDelayAt(t, env, 2*time.Minute)
	start := env.Now()
	createSucceeds(t, env)
	// quiet policy: 30s, then 1m, 2m — but the worker's pace is 5m after the first poll.
	require.Equal(t, []string{"30s", "5m0s", "5m0s"}, gapsFrom(start, at))
	require.Equal(t, "4m0s", *slower) // 5m instead of the policy's 1m
}

// slotAnswers are PollOperation's answers from a worker that keeps slots: refused with a slot
// 47s away, then running with the next slot 3m away, then running with a slot sooner than the
// policy's interval, then done.
func slotAnswers(env *testsuite.TestWorkflowEnvironment, at *[]time.Time) func(context.Context, string) (activities.PollResult, error) {
	return func(context.Context, string) (activities.PollResult, error) {
		now := env.Now()
		*at = append(*at, now)
		switch len(*at) {
		case 1:
			return activities.PollResult{}, temporal.NewNonRetryableApplicationError("budget spent", insights.ErrPollThrottled, nil,
				time.Minute, now.Add(47*time.Second))
		case 2:
			return activities.PollResult{Operation: runningOp(), WorkerPace: time.Minute, NextPollAt: now.Add(3 * time.Minute)}, nil
		case 3:
			return activities.PollResult{Operation: runningOp(), WorkerPace: time.Minute, NextPollAt: now.Add(5 * time.Second)}, nil
		}
		return activities.PollResult{Operation: succeededOp()}, nil
	}
}

// rateLimitDelayAt returns what status.rateLimitDelay will have said at d into the run.
func rateLimitDelayAt(t *testing.T, env *testsuite.TestWorkflowEnvironment, d time.Duration) *string {
	var slower string
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(StatusQuery)
		require.NoError(t, err)
		var st PollStatus
		require.NoError(t, v.Get(&st))
		slower = st.RateLimitDelay
	}, d)
	return &slower
}

// TestPollsAtWorkerSlots: a run polls at the slot its worker keeps for it, whether the last try
// was refused or got through, and never sooner than its policy's interval; a refusal adds no
// back-off of its own.
func TestPollsAtWorkerSlots(t *testing.T) {
	env := pacedByWorkerEnv()
	var at []time.Time
	env.OnActivity(acts.PollOperation, mock.Anything, testOp).Return(slotAnswers(env, &at))
	slower := rateLimitDelayAt(t, env, 2*time.Minute)
	start := env.Now()
	res := createSucceeds(t, env)
	require.Equal(t, 3, res.Polls, "the refused try is not a poll")
	// quiet policy: 30s; refused: the slot 47s away; then the 3m slot (the policy says 1m);
	// then the policy's 2m, the slot 5s away being sooner.
	require.Equal(t, []string{"30s", "47s", "3m0s", "2m0s"}, gapsFrom(start, at))
	require.Equal(t, "2m0s", *slower, "status.rateLimitDelay: the 3m slot instead of the policy's 1m")
}

// TestPollsAtWorkerSlotsNotBeforeTheChange: a run that started before workerSlotsChange (no
// marker in its history) ignores the slots and keeps its old timers: the worker's pace and the
// doubling back-off after a refusal.
func TestPollsAtWorkerSlotsNotBeforeTheChange(t *testing.T) {
	env := pacedByWorkerEnv()
	env.OnGetVersion(workerSlotsChange, workflow.DefaultVersion, workerSlotsVersion).Return(workflow.DefaultVersion)
	var at []time.Time
	env.OnActivity(acts.PollOperation, mock.Anything, testOp).Return(slotAnswers(env, &at))
	start := env.Now()
	createSucceeds(t, env)
	// 30s; refused: pace 1m, +30s back-off → 1m30s; got through (back-off 27s): 1m+27s;
	// then the policy's 2m (polls=2) and the back-off 24.3s, rounded by the decay to 24s.
	require.Equal(t, []string{"30s", "1m30s", "1m27s", "2m24.3s"}, gapsFrom(start, at))
}
