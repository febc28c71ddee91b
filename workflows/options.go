package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/issuemodels/durable-lro/insights"
)

// shortRetry: GetOperation and CancelOperation are quick calls; retry transient errors briefly
// and leave longer outages to the poll loop.
var shortRetry = temporal.RetryPolicy{
	InitialInterval:        time.Second,
	BackoffCoefficient:     2,
	MaximumInterval:        30 * time.Second,
	NonRetryableErrorTypes: insights.NonRetryableErrorTypes(),
}

// withShortActivity is for CancelOperation.
func withShortActivity(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    30 * time.Second,
		ScheduleToCloseTimeout: 3 * time.Minute,
		RetryPolicy:            &shortRetry,
	})
}

// withPollActivity is for PollOperation, a local activity (see poller.poll).
func withPollActivity(ctx workflow.Context) workflow.Context {
	return workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout:    30 * time.Second,
		ScheduleToCloseTimeout: 3 * time.Minute,
		RetryPolicy:            &shortRetry,
	})
}

// withCreateActivity is for CreateIssueModel: one attempt per activity, because the workflow
// decides each retry from how the previous attempt failed (see createOperation).
func withCreateActivity(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 1},
	})
}

// withChangeActivity is for the calls that start or list (Deploy, Undeploy, DeleteIssueModel,
// ListIssueModels): idempotent, so retried by Temporal until scheduleToClose.
func withChangeActivity(ctx workflow.Context, scheduleToClose time.Duration) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute, ScheduleToCloseTimeout: scheduleToClose,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: 2 * time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute,
			NonRetryableErrorTypes: insights.NonRetryableErrorTypes(),
		},
	})
}

// withDeleteActivity is for the DeleteIssueModel of a model a cancel could not stop.
func withDeleteActivity(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: 5 * time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute,
			NonRetryableErrorTypes: insights.NonRetryableErrorTypes(),
		},
	})
}
