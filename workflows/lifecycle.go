package workflows

import (
	"errors"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Documented per-location quotas of Contact Center Insights.
const (
	MaxModelsPerLocation   = 10
	MaxDeployedPerLocation = 5
)

// Versions of the lifecycle's (and deleteModel's) command-changing edits of issue 25
// (workflow.GetVersion change IDs; README, "Changing a workflow"). Each is asked where its path
// first differs, so runs that never reach that point record no marker.
const (
	// deployRollbackChange: a deploy step that is cancelled or fails after it may have changed
	// the location puts it back before the run ends: it awaits the outcome of an operation its
	// child left unknown (child "<id>-deploy-outcome"), undeploys the new model if it ended
	// deployed, and redeploys the model undeploy-first removed. Runs up to acf47ed, which
	// recorded no marker, end as they did (a cancel left the location one model short, a
	// failure left the deploy running).
	deployRollbackChange  = "deploy-rollback"
	deployRollbackVersion = 1
	// parentCloseChange: a child that awaits an operation is not terminated when its parent
	// closes (terminated, run timeout), which left the operation running untracked: a
	// cancellable step's child is asked to cancel (its own cancel path cancels the operation
	// and awaits the outcome), a step that must finish (rollback, retire, deletion) is
	// abandoned to finish. The SDK's replay does not compare the policy, but it is part of the
	// recorded command, so runs that recorded no marker keep TERMINATE.
	parentCloseChange  = "child-parent-close-policy"
	parentCloseVersion = 1
	// disconnectedDeletionChange (deleteModel, create.go): the deletion of a model a cancel
	// could not stop runs on a disconnected context, so a Temporal cancel that follows the
	// cancel signal no longer cancels the deletion the user asked for.
	disconnectedDeletionChange  = "delete-after-cancel-disconnected"
	disconnectedDeletionVersion = 1
	// restoreUntilDoneChange: a start that puts the location back (rollback-deploy,
	// redeploy-previous) is tried again, after a growing wait, until it starts or meets a
	// non-retryable error (FAILED_PRECONDITION for a model mid-change is waited out), the
	// status showing that it waits and why; runs that recorded no marker give up after
	// startBound, as they did, leaving a refused redeploy undone.
	restoreUntilDoneChange  = "restore-until-done"
	restoreUntilDoneVersion = 1
	// lookAfterGivenUpStartChange: a pipeline step's, retirement's or deletion's start that
	// gave up after an attempt that may have started its operation is followed by a look-up
	// for that operation (activity FindStartedOperation), which the step then awaits; runs that
	// recorded no marker fail the step, or keep the model, and leave that operation untracked.
	lookAfterGivenUpStartChange  = "look-after-given-up-start"
	lookAfterGivenUpStartVersion = 1
)

// parentClosePolicy is the policy of a child awaiting an operation (see parentCloseChange).
func parentClosePolicy(ctx workflow.Context, cancellable bool) enumspb.ParentClosePolicy {
	switch {
	case workflow.GetVersion(ctx, parentCloseChange, workflow.DefaultVersion, parentCloseVersion) == workflow.DefaultVersion:
		return enumspb.PARENT_CLOSE_POLICY_UNSPECIFIED // TERMINATE, as recorded
	case cancellable:
		return enumspb.PARENT_CLOSE_POLICY_REQUEST_CANCEL
	}
	return enumspb.PARENT_CLOSE_POLICY_ABANDON
}

type lifecycle struct {
	ctx         workflow.Context // disconnected: rollback and waiting go on after cancellation
	root        workflow.Context
	in          LifecycleInput
	status      *LifecycleStatus
	result      LifecycleResult
	cancelled   bool
	cancelChild workflow.CancelFunc
	vis         *visibility
	// rolledBack says what a failed or cancelled deploy step put back (status detail).
	rolledBack string
	// restoreFenced, lookFenced: fenceOlderWorkers was recorded for restoreUntilDoneChange,
	// lookAfterGivenUpStartChange.
	restoreFenced, lookFenced bool
}

// takesChange says whether the lifecycle run takes the new path of change (asked each time it
// may diverge), fencing older workers the first time it does; *fenced records that it did.
func (l *lifecycle) takesChange(change string, version workflow.Version, fenced *bool) bool {
	if workflow.GetVersion(l.ctx, change, workflow.DefaultVersion, version) < version {
		return false
	}
	if !*fenced {
		fenceOlderWorkers(l.ctx)
		*fenced = true
	}
	return true
}

// IssueModelLifecycleWorkflow trains, gates, deploys and swaps an issue model:
// check quotas → create and await training (child CreateIssueModelWorkflow) → quality gate →
// deploy and await (child AwaitOperationWorkflow) → undeploy the previous model(s) and
// optionally delete them. The `cancel` signal or Temporal's cancel leaves a documented state:
//   - during create: the training is cancelled; if it cannot be, the new model is kept UNDEPLOYED;
//     the previous deployment is untouched;
//   - during deploy: the deployment is cancelled, or rolled back (undeployed) if it completed
//     anyway; the previous deployment is as it was: a model undeploy-first removed for the
//     quota is redeployed. A deploy step that fails is rolled back the same way, once the
//     deploy operation's outcome is known, and the run then fails with the original error;
//   - during retirement: the new model stays deployed; the running undeploy/delete finishes and
//     the remaining replaced models are kept as they are (listed in `kept`).
func IssueModelLifecycleWorkflow(ctx workflow.Context, in LifecycleInput) (*LifecycleResult, error) {
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	l := &lifecycle{ctx: dctx, root: ctx, in: in, status: &LifecycleStatus{Step: PhaseValidating}, vis: newVisibility(ctx)}
	if err := workflow.SetQueryHandler(ctx, StatusQuery, func() (*LifecycleStatus, error) { return l.status, nil }); err != nil {
		return nil, err
	}
	if err := in.validate(checkDecoding(ctx, in.decoding)); err != nil {
		return nil, l.fail(err)
	}
	workflow.Go(dctx, func(c workflow.Context) {
		ch := workflow.GetSignalChannel(c, CancelSignal)
		for {
			var req CancelRequest
			ch.Receive(c, &req)
			l.requestCancel()
		}
	})
	workflow.Go(ctx, func(c workflow.Context) {
		c.Done().Receive(c, nil) // Temporal's cancel
		l.requestCancel()
	})

	if l.hasPipelineSteps() {
		l.listenForProgress()
		if err := l.prepare(); err != nil || l.cancelled {
			return nil, l.endAfter(err)
		}
	}
	if err := l.checkQuotas(); err != nil {
		return nil, l.fail(err)
	}
	if l.cancelled {
		return nil, l.cancel()
	}
	model, err := l.trainOrImport()
	if err != nil || l.cancelled {
		return nil, l.endAfter(err)
	}
	if err := l.qualityGate(model); err != nil {
		return nil, l.fail(err)
	}
	replaced, err := l.deploy()
	if err != nil || l.cancelled {
		return nil, l.endAfter(err)
	}
	l.retire(replaced)
	if l.cancelled {
		return nil, l.cancel()
	}
	if l.in.Export != nil {
		if err := l.export(); err != nil || l.cancelled {
			return nil, l.endAfter(err)
		}
	}
	l.result.Outcome = LifecycleDeployed
	l.setStep(StepDone)
	l.status.Done, l.status.Outcome = true, LifecycleDeployed
	return &l.result, nil
}

func (l *lifecycle) requestCancel() {
	if l.cancelled {
		return
	}
	l.cancelled = true
	l.status.CancelRequested = true
	if l.cancelChild != nil {
		l.cancelChild()
	}
}

func (l *lifecycle) setStep(name string) {
	l.status.Step = name
	l.vis.set(l.ctx, "", name)
	if name != StepDone {
		l.status.Steps = append(l.status.Steps, StepStatus{Name: name, State: StepStateRunning})
	}
}

func (l *lifecycle) endStep(state, detail string) {
	if n := len(l.status.Steps); n > 0 {
		l.status.Steps[n-1].State, l.status.Steps[n-1].Detail = state, detail
	}
}

func (l *lifecycle) fail(err error) error {
	msg := rootMessage(err)
	if l.rolledBack != "" {
		msg += "; " + l.rolledBack
	}
	l.endStep(StepStateFailed, msg)
	l.vis.set(l.ctx, "", StepDone)
	l.status.Done, l.status.LastError = true, msg
	return err
}

func (l *lifecycle) cancel() error {
	l.endStep(StepStateCancelled, l.rolledBack)
	l.vis.set(l.ctx, "", StepDone)
	l.result.Outcome = LifecycleCancelled
	l.status.Done, l.status.Outcome = true, LifecycleCancelled
	return temporal.NewCanceledError(l.result)
}

// endAfter ends the run after a step that failed or was cancelled.
func (l *lifecycle) endAfter(err error) error {
	var canceled *temporal.CanceledError
	if err == nil || errors.As(err, &canceled) {
		return l.cancel()
	}
	return l.fail(err)
}

// runChild runs a child workflow whose cancellation follows this run's cancel. With
// WaitForCancellation the child's own cancel handling (CancelOperation, then polling to the
// outcome) completes before we go on.
func (l *lifecycle) runChild(suffix, workflowType string, input, result any, cancellable bool) error {
	id := workflow.GetInfo(l.root).WorkflowExecution.ID + "-" + suffix
	cctx, cancel := workflow.WithCancel(l.ctx)
	cctx = workflow.WithChildOptions(cctx, workflow.ChildWorkflowOptions{
		WorkflowID: id, WaitForCancellation: true, ParentClosePolicy: parentClosePolicy(l.ctx, cancellable),
		StaticSummary: fmt.Sprintf("%s step of lifecycle %s (%s)", suffix, workflow.GetInfo(l.root).WorkflowExecution.ID, l.in.IssueModel.DisplayName),
	})
	if cancellable {
		l.cancelChild = cancel
		defer func() { l.cancelChild = nil }()
	}
	if n := len(l.status.Steps); n > 0 {
		l.status.Steps[n-1].ChildWorkflowID = id
	}
	f := workflow.ExecuteChildWorkflow(cctx, workflowType, input)
	if cancellable && l.cancelled {
		cancel()
	}
	return f.Get(l.ctx, result)
}
