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
