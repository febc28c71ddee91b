package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/issuemodels/durable-lro/insights"
)

// Every API call is an activity on the task queue, so the server's limits hold the API budget
// for the whole fleet: the task queue's activity rate limit, and with fairness enabled a limit
// per fairness key, here the Google project whose quota the call spends. Eager execution would
// hand the activity to the scheduling worker past those limits, so it is off.

// apiCall is the options every API activity starts from: the fairness key of the project of
// resource (an operation, issue model or location name) and no eager execution.
func apiCall(resource string, o workflow.ActivityOptions) workflow.ActivityOptions {
	o.Priority = temporal.Priority{FairnessKey: insights.ProjectOf(resource)}
	o.DisableEagerExecution = true
	return o
}

// shortRetry: GetOperation and CancelOperation are quick calls; retry transient errors briefly
// and leave longer outages to the poll loop.
var shortRetry = temporal.RetryPolicy{
	InitialInterval:        time.Second,
	BackoffCoefficient:     2,
	MaximumInterval:        30 * time.Second,
	NonRetryableErrorTypes: insights.NonRetryableErrorTypes(),
}

// withShortActivity is for the quick calls about operation: PollOperation, CancelOperation and
// the learned schedule's EstimateTraining scan of its location. The schedule-to-close bound
// includes the time the task waits for the server's rate limit; a poll that outlasts it is
// tried again at the next interval.
func withShortActivity(ctx workflow.Context, operation string) workflow.Context {
	return workflow.WithActivityOptions(ctx, apiCall(operation, workflow.ActivityOptions{
		StartToCloseTimeout:    30 * time.Second,
		ScheduleToCloseTimeout: 3 * time.Minute,
		RetryPolicy:            &shortRetry,
	}))
}

// cancelPriority is CancelOperation's priority (1 is the highest; unset is 3). A project's
// backlog of polls at its rate limit can be longer than the cancel's schedule-to-close bound;
// the server hands out a task of higher priority first within the fairness key, so a cancel
// reaches Google ahead of the polls instead of timing out behind them at every try.
const cancelPriority = 1

// startPriority is the priority of the calls that start or change something (CreateIssueModel,
// Deploy, Undeploy, Delete, the pipeline steps): ahead of the project's polls, which only
// observe, so a backlog of polls does not hold a new training back; behind a cancel.
const startPriority = 2

// startCall is apiCall at startPriority.
func startCall(resource string, o workflow.ActivityOptions) workflow.ActivityOptions {
	o = apiCall(resource, o)
	o.Priority.PriorityKey = startPriority
	return o
}

// withCancelActivity is for the CancelOperation of operation: a quick call
// (withShortActivity), served ahead of the project's polls.
func withCancelActivity(ctx workflow.Context, operation string) workflow.Context {
	o := workflow.GetActivityOptions(withShortActivity(ctx, operation))
	o.Priority.PriorityKey = cancelPriority
	return workflow.WithActivityOptions(ctx, o)
}

// withLocalPollActivity is for PollOperation and EstimateTraining as local activities, in runs
// that began before apiCallsUnderServerLimitsChange.
func withLocalPollActivity(ctx workflow.Context) workflow.Context {
	return workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout:    30 * time.Second,
		ScheduleToCloseTimeout: 3 * time.Minute,
		RetryPolicy:            &shortRetry,
	})
}

// withCreateActivity is for CreateIssueModel in location parent: one attempt per activity,
// because the workflow decides each retry from how the previous attempt failed (see
// createOperation).
func withCreateActivity(ctx workflow.Context, parent string) workflow.Context {
	return workflow.WithActivityOptions(ctx, startCall(parent, workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 1},
	}))
}

// withChangeActivity is for the calls that start or list (Deploy, Undeploy, DeleteIssueModel,
// ListIssueModels) on resource: idempotent, so retried by Temporal until scheduleToClose.
func withChangeActivity(ctx workflow.Context, resource string, scheduleToClose time.Duration) workflow.Context {
	return workflow.WithActivityOptions(ctx, startCall(resource, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute, ScheduleToCloseTimeout: scheduleToClose,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: 2 * time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute,
			NonRetryableErrorTypes: insights.NonRetryableErrorTypes(),
		},
	}))
}

// withUntilAnsweredActivity is for a call on resource that must not give up on a refusal (the
// DeleteIssueModel of a model a cancel could not stop, a look-up for a given-up start). No
// schedule-to-close bound: the server then bounds a regular activity by the run's timeout only
// (the SDK copies StartToClose into it for local activities alone), so the call is retried
// until it answers or meets a non-retryable error.
func withUntilAnsweredActivity(ctx workflow.Context, resource string) workflow.Context {
	return workflow.WithActivityOptions(ctx, startCall(resource, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: 5 * time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute,
			NonRetryableErrorTypes: insights.NonRetryableErrorTypes(),
		},
	}))
}
