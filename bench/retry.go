package main

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	contactcenterinsights "cloud.google.com/go/contactcenterinsights/apiv1"
	longrunningpb "cloud.google.com/go/longrunning/autogen/longrunningpb"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/issuemodels/durable-lro/insightsclient"
)

// RetryInput is the input of the retry-pattern workflow.
type RetryInput struct {
	Parent      string `json:"parent"`
	DisplayName string `json:"displayName"`
	// Filter is the request's input data filter (the workload's; empty: medium="CHAT").
	Filter   string        `json:"filter,omitempty"`
	Interval time.Duration `json:"interval"` // already divided by the time scale
}

// The names the retry-pattern workflow and its activities are registered under.
const (
	retryWorkflowType   = "BenchRetryPollingWorkflow"
	retryCreateActivity = "BenchCreateIssueModel"
	retryCheckActivity  = "BenchCheckDone"
)

// RetryPollingWorkflow creates the operation, then awaits it with the retry-policy polling
// pattern of Temporal's samples (samples-go polling/infrequent, "InfrequentPolling"): the poll is
// an activity that fails until the operation is done, and the activity's retry policy,
// BackoffCoefficient 1 and InitialInterval = the polling interval, no maximum of attempts, makes
// the server retry it at a fixed interval. Retries of an activity are not written to the
// history, so the history stays small however long the wait.
func RetryPollingWorkflow(ctx workflow.Context, in RetryInput) (string, error) {
	createCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
	})
	var op string
	if err := workflow.ExecuteActivity(createCtx, retryCreateActivity, in).Get(ctx, &op); err != nil {
		return "", err
	}
	pollCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		// The sample uses 2s; a GetOperation answers in milliseconds, but on a loaded 2-core
		// machine a longer bound keeps an attempt from timing out just because it queued.
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			BackoffCoefficient: 1,
			InitialInterval:    in.Interval,
			// MaximumAttempts 0: retry until done.
		},
	})
	if err := workflow.ExecuteActivity(pollCtx, retryCheckActivity, op).Get(ctx, nil); err != nil {
		return "", err
	}
	return op, nil
}

// retryActivities are the pattern's two activities, on the library's default client.
type retryActivities struct {
	client *contactcenterinsights.Client
}

func (a *retryActivities) create(ctx context.Context, in RetryInput) (string, error) {
	op, err := a.client.CreateIssueModel(ctx, createRequest(in.Parent, in.DisplayName, cmp.Or(in.Filter, independentFilter)))
	if err != nil {
		return "", err
	}
	return op.Name(), nil
}

// errNotDone makes the server retry the check at the policy's interval. It is marked benign so
// that the SDK logs the expected failures at debug level instead of one error line per poll
// (the sample returns a plain error; this is the pattern at its best).
var errNotDone = temporal.NewApplicationErrorWithOptions("operation not done yet", "NotDone",
	temporal.ApplicationErrorOptions{Category: temporal.ApplicationErrorCategoryBenign})

func (a *retryActivities) checkDone(ctx context.Context, name string) error {
	op, err := a.client.GetOperation(ctx, &longrunningpb.GetOperationRequest{Name: name})
	if err != nil {
		return err
	}
	if !op.GetDone() {
		return errNotDone
	}
	if e := op.GetError(); e != nil {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("operation failed: %s", e.GetMessage()), "OperationFailed", nil)
	}
	return nil
}

// runRetryWorkerRole runs a worker for the retry pattern until SIGINT/SIGTERM.
func runRetryWorkerRole(ctx context.Context, cfg config) error {
	gc, err := insightsclient.New(ctx)
	if err != nil {
		return err
	}
	defer gc.Close()
	tc, err := client.DialContext(ctx, client.Options{HostPort: cfg.temporalAddr, Logger: quietLogger()})
	if err != nil {
		return err
	}
	defer tc.Close()
	// The same poller behaviour as the project's worker, so that the pattern is not held back
	// by the SDK's two fixed pollers when many checks are due at once.
	autoscaling := worker.NewPollerBehaviorAutoscaling(worker.PollerBehaviorAutoscalingOptions{})
	w := worker.New(tc, cfg.taskQueue, worker.Options{WorkflowTaskPollerBehavior: autoscaling, ActivityTaskPollerBehavior: autoscaling})
	w.RegisterWorkflowWithOptions(RetryPollingWorkflow, workflow.RegisterOptions{Name: retryWorkflowType})
	a := &retryActivities{client: gc}
	w.RegisterActivityWithOptions(a.create, activity.RegisterOptions{Name: retryCreateActivity})
	w.RegisterActivityWithOptions(a.checkDone, activity.RegisterOptions{Name: retryCheckActivity})
	stop := make(chan any)
	go func() {
		<-ctx.Done()
		close(stop)
	}()
	return w.Run(stop)
}

// quietLogger logs the SDK's warnings and errors on stderr, like the worker's LOG_LEVEL=warn.
func quietLogger() log.Logger {
	return log.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
}
