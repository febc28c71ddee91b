package workflows

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/issuemodels/durable-lro/activities"
	"github.com/issuemodels/durable-lro/insights"
)

// scheduledCall is an activity as the workflow scheduled it: its type, whether local, and the
// options it carried.
type scheduledCall struct {
	activity string
	local    bool
	options  workflow.ActivityOptions
}

// callRecorder records every activity a workflow schedules, with its options.
type callRecorder struct {
	interceptor.WorkerInterceptorBase
	calls *[]scheduledCall
}

func (r *callRecorder) InterceptWorkflow(ctx workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	return &recordingInbound{WorkflowInboundInterceptorBase: interceptor.WorkflowInboundInterceptorBase{Next: next}, calls: r.calls}
}

type recordingInbound struct {
	interceptor.WorkflowInboundInterceptorBase
	calls *[]scheduledCall
}

func (i *recordingInbound) Init(outbound interceptor.WorkflowOutboundInterceptor) error {
	return i.Next.Init(&recordingOutbound{WorkflowOutboundInterceptorBase: interceptor.WorkflowOutboundInterceptorBase{Next: outbound}, calls: i.calls})
}

type recordingOutbound struct {
	interceptor.WorkflowOutboundInterceptorBase
	calls *[]scheduledCall
}

func (o *recordingOutbound) ExecuteActivity(ctx workflow.Context, activityType string, args ...any) workflow.Future {
	*o.calls = append(*o.calls, scheduledCall{activity: activityType, options: workflow.GetActivityOptions(ctx)})
	return o.Next.ExecuteActivity(ctx, activityType, args...)
}

func (o *recordingOutbound) ExecuteLocalActivity(ctx workflow.Context, activityType string, args ...any) workflow.Future {
	*o.calls = append(*o.calls, scheduledCall{activity: activityType, local: true})
	return o.Next.ExecuteLocalActivity(ctx, activityType, args...)
}

// recordCalls makes env record the activities its workflows schedule.
func recordCalls(env *testsuite.TestWorkflowEnvironment) *[]scheduledCall {
	var calls []scheduledCall
	env.SetWorkerOptions(worker.Options{Interceptors: []interceptor.WorkerInterceptor{&callRecorder{calls: &calls}}})
	return &calls
}

func TestProjectOfNames(t *testing.T) {
	for name, want := range map[string]string{
		testOp: "acme", testModel: "acme", testParent: "acme", "projects/example.com:p/locations/l": "example.com:p",
		"": "", "operations/123": "", "projects/": "",
	} {
		require.Equal(t, want, insights.ProjectOf(name), name)
	}
}

// TestEveryAPICallIsARegularActivityKeyedByProject: a new run creates and polls through regular
// activities that carry the Google project as their fairness key and are never run eagerly, so
// the task queue's limits hold them; it polls at the policy's intervals.
func TestEveryAPICallIsARegularActivityKeyedByProject(t *testing.T) {
	env := createdEnv()
	calls := recordCalls(env)
	at := pollAnswers(env, runningOp(), runningOp(), succeededOp())
	start := env.Now()
	createSucceeds(t, env)
	require.Equal(t, []string{"30s", "1m0s", "2m0s"}, gapsFrom(start, *at))
	var types []string
	for _, c := range *calls {
		types = append(types, c.activity)
		require.False(t, c.local, "%s is a local activity", c.activity)
		require.Equal(t, "acme", c.options.Priority.FairnessKey, c.activity)
		require.True(t, c.options.DisableEagerExecution, c.activity)
		require.NotNil(t, c.options.RetryPolicy, c.activity)
	}
	require.Equal(t, []string{"CreateIssueModel", "PollOperation", "PollOperation", "PollOperation"}, types)
	poll := (*calls)[1].options
	require.Equal(t, shortRetry.NonRetryableErrorTypes, poll.RetryPolicy.NonRetryableErrorTypes, "non-retryable types fail fast")
	require.Positive(t, poll.StartToCloseTimeout)
	// A creation is served ahead of the project's waiting polls (which only observe).
	require.Equal(t, startPriority, (*calls)[0].options.Priority.PriorityKey, "CreateIssueModel")
	require.Zero(t, poll.Priority.PriorityKey, "PollOperation: the default priority")
	require.Less(t, cancelPriority, startPriority, "a cancel goes before a start")
}

// TestRunsPacedByWorkerKeepTheLocalPoll: a run whose history predates the change polls through
// the local activity, as it did.
func TestRunsPacedByWorkerKeepTheLocalPoll(t *testing.T) {
	env := pacedByWorkerEnv()
	calls := recordCalls(env)
	pollAnswers(env, runningOp(), succeededOp())
	createSucceeds(t, env)
	require.Len(t, *calls, 3)
	require.False(t, (*calls)[0].local, "CreateIssueModel")
	require.True(t, (*calls)[1].local && (*calls)[2].local, "PollOperation")
	require.Equal(t, "acme", (*calls)[0].options.Priority.FairnessKey)
}

// TestRefusalOfAWorkerThatPacesIsNotAPoll: in a mixed fleet a worker that still paces its polls
// may answer the poll with ErrPollThrottled: no call was made, so it is not a poll, and the run
// polls again after the same interval, with no pace or extra delay of its own.
func TestRefusalOfAWorkerThatPacesIsNotAPoll(t *testing.T) {
	env := createdEnv()
	var at []time.Time
	env.OnActivity(acts.PollOperation, mock.Anything, testOp).Return(func(context.Context, string) (activities.PollResult, error) {
		at = append(at, env.Now())
		switch len(at) {
		case 1, 2:
			return activities.PollResult{WorkerPace: time.Hour}, throttledErr()
		case 3:
			return activities.PollResult{Operation: runningOp(), WorkerPace: time.Hour, NextPollAt: env.Now().Add(time.Hour)}, nil
		}
		return activities.PollResult{Operation: succeededOp()}, nil
	})
	start := env.Now()
	res := createSucceeds(t, env)
	require.Equal(t, 2, res.Polls, "refused tries are not polls")
	// quiet policy: 30s, then 30s again after each refusal, then 1m: the worker's pace and slot
	// are ignored.
	require.Equal(t, []string{"30s", "30s", "30s", "1m0s"}, gapsFrom(start, at))
}

// TestCancelIsServedAheadOfPolls: the task queue serves a project's calls at its rate limit, and
// a backlog of its polls may be minutes long (every run of the project keeps a poll waiting):
// CancelOperation waiting its turn behind them would time out in the queue (its
// schedule-to-close bound counts the wait) at every try while the training runs on. It carries
// a higher priority than the polls, in the same project's fairness key, so that the server
// hands it out before them (measured on the dev server with fairness on: a task of priority 1
// scheduled behind 60 waiting ones of the same key was the second served).
func TestCancelIsServedAheadOfPolls(t *testing.T) {
	env := createdEnv()
	calls := recordCalls(env)
	pollAnswers(env, runningOp(), runningOp(), failedOp(insights.CodeCancelled, "cancelled"))
	env.OnActivity(acts.CancelOperation, mock.Anything, testOp).Return(activities.CancelResult{}, nil).Once()
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(CancelSignal, CancelRequest{Reason: "stop"}) }, 45*time.Second)
	env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(t, quietPolicy))
	require.True(t, env.IsWorkflowCompleted())
	priority := map[string]int{}
	for _, c := range *calls {
		require.Equal(t, "acme", c.options.Priority.FairnessKey, c.activity)
		priority[c.activity] = c.options.Priority.PriorityKey
	}
	require.Contains(t, priority, "CancelOperation")
	effective := func(key int) int {
		if key == 0 {
			return 3 // the server's default: the middle of 1..5
		}
		return key
	}
	require.Less(t, effective(priority["CancelOperation"]), effective(priority["PollOperation"]),
		"a cancel waits behind the project's polls")
}

// TestRunsPacedByWorkerJoinTheServerLimits: a run that began paced by its worker (its history
// has no apiCallsUnderServerLimitsChange marker) and goes on on a worker of this release, which
// paces nothing, would poll through a local activity at the bare policy interval until it
// continued as new (hundreds of polls): outside every limit, beside the fleet's budget. It moves
// to the server-held poll at its next poll instead.
func TestRunsPacedByWorkerJoinTheServerLimits(t *testing.T) {
	env := createdEnv()
	env.OnGetVersion(apiCallsUnderServerLimitsChange, workflow.DefaultVersion, apiCallsUnderServerLimitsVersion).Return(workflow.DefaultVersion)
	calls := recordCalls(env)
	pollAnswers(env, runningOp(), succeededOp())
	createSucceeds(t, env)
	require.Len(t, *calls, 3)
	for _, c := range (*calls)[1:] {
		require.Equal(t, "PollOperation", c.activity)
		require.False(t, c.local, "a poll outside the server's limits")
		require.Equal(t, "acme", c.options.Priority.FairnessKey)
	}
}

// TestRunTakenOverMidPollJoinsTheServerLimits: a worker of this release that takes over a run
// paced by its worker replays its earlier polls, where the change's GetVersion answers
// DefaultVersion (no marker); its first poll made live still joins the server-held poll.
func TestRunTakenOverMidPollJoinsTheServerLimits(t *testing.T) {
	env := createdEnv()
	env.OnGetVersion(apiCallsUnderServerLimitsChange, workflow.DefaultVersion, apiCallsUnderServerLimitsVersion).Return(workflow.DefaultVersion)
	for attempt := 1; attempt <= 2; attempt++ { // replayed polls
		env.OnGetVersion(joinChangeID(attempt), workflow.DefaultVersion, pacedRunsJoinServerLimitsVersion).Return(workflow.DefaultVersion)
	}
	calls := recordCalls(env)
	pollAnswers(env, runningOp(), runningOp(), runningOp(), succeededOp())
	createSucceeds(t, env)
	var local []bool
	for _, c := range (*calls)[1:] {
		local = append(local, c.local)
	}
	require.Equal(t, []bool{true, true, false, false}, local, "polls 1-2 replayed, 3-4 live")
}
