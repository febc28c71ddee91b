package workflows

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/issuemodels/durable-lro/activities"
	"github.com/issuemodels/durable-lro/insights"
)

// Documented per-location quotas of Contact Center Insights.
const (
	MaxModelsPerLocation   = 10
	MaxDeployedPerLocation = 5
)

// Lifecycle steps, in order, as the status query reports them.
const (
	StepCheckQuotas = "check-quotas"
	StepCreate      = "create"
	StepQualityGate = "quality-gate"
	StepDeploy      = "deploy"
	StepRetire      = "retire-previous"
	StepDone        = "done"
)

// QualityGate is the minimum a trained model must reach to be deployed.
type QualityGate struct {
	MinAnalyzedConversations int64 `json:"minAnalyzedConversations,omitempty"`
	MinIssueCount            int64 `json:"minIssueCount,omitempty"`
}

// LifecycleInput is the input of IssueModelLifecycleWorkflow.
type LifecycleInput struct {
	Parent      string                  `json:"parent"`
	IssueModel  insights.IssueModelSpec `json:"issueModel"`
	Polling     *PollingPolicy          `json:"polling,omitempty"`
	QualityGate QualityGate             `json:"qualityGate"`
	// Replaces names the models to undeploy once the new one is deployed. Empty: every DEPLOYED
	// model of the location with the same displayName.
	Replaces []string `json:"replaces,omitempty"`
	// DeleteReplaced deletes the replaced models after undeploying them.
	DeleteReplaced bool `json:"deleteReplaced,omitempty"`
	// DeleteRejected deletes a model that fails the quality gate (default: keep it to inspect).
	DeleteRejected bool `json:"deleteRejected,omitempty"`

	decodeErr error
}

// UnmarshalJSON decodes strictly but never fails; see CreateIssueModelInput.UnmarshalJSON.
func (in *LifecycleInput) UnmarshalJSON(b []byte) error {
	type plain LifecycleInput
	var p plain
	err := strictDecode(b, &p)
	*in = LifecycleInput(p)
	in.decodeErr = err
	return nil
}

// Validate checks the input; errors are InvalidArgument naming the field.
func (in *LifecycleInput) Validate() error {
	if in.decodeErr != nil {
		return in.decodeErr
	}
	create := CreateIssueModelInput{Parent: in.Parent, IssueModel: in.IssueModel, Polling: in.Polling}
	if _, err := create.Validate(); err != nil {
		return err
	}
	if in.QualityGate.MinAnalyzedConversations < 0 {
		return insights.InvalidArgument("qualityGate.minAnalyzedConversations", "must not be negative")
	}
	if in.QualityGate.MinIssueCount < 0 {
		return insights.InvalidArgument("qualityGate.minIssueCount", "must not be negative")
	}
	for i, name := range in.Replaces {
		field := fmt.Sprintf("replaces[%d]", i)
		if err := insights.ValidateIssueModelName(field, name); err != nil {
			return err
		}
		if insights.ParentOf(name) != in.Parent {
			return insights.InvalidArgument(field, "is not in parent "+in.Parent)
		}
	}
	return nil
}

// StepStatus is one step of the lifecycle as the status query shows it.
type StepStatus struct {
	Name            string `json:"name"`
	State           string `json:"state"` // running | done | failed | cancelled | skipped
	Detail          string `json:"detail,omitempty"`
	ChildWorkflowID string `json:"childWorkflowId,omitempty"`
}

// LifecycleStatus is the answer of the lifecycle's status query.
type LifecycleStatus struct {
	Step            string       `json:"step"`
	Steps           []StepStatus `json:"steps"`
	Model           string       `json:"model,omitempty"`
	CancelRequested bool         `json:"cancelRequested"`
	Done            bool         `json:"done"`
	Outcome         string       `json:"outcome,omitempty"`
	LastError       string       `json:"lastError,omitempty"`
}

// Lifecycle outcomes.
const (
	LifecycleDeployed  = "DEPLOYED"
	LifecycleCancelled = "CANCELLED"
)

// LifecycleResult is the result of IssueModelLifecycleWorkflow (and the details of its
// cancellation): what the cloud looks like afterwards.
type LifecycleResult struct {
	Outcome string `json:"outcome"`
	// Model is the new model, if one exists; State its state when the run ended.
	Model      string          `json:"model,omitempty"`
	State      string          `json:"state,omitempty"`
	IssueModel json.RawMessage `json:"issueModel,omitempty"`
	Undeployed []string        `json:"undeployed,omitempty"`
	Deleted    []string        `json:"deleted,omitempty"`
	// Kept lists replaced models left as they were (a cancel during retirement).
	Kept []string `json:"kept,omitempty"`
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
}

// IssueModelLifecycleWorkflow trains, gates, deploys and swaps an issue model:
// check quotas → create and await training (child CreateIssueModelWorkflow) → quality gate →
// deploy and await (child AwaitOperationWorkflow) → undeploy the previous model(s) and
// optionally delete them. The `cancel` signal or Temporal's cancel leaves a documented state:
//   - during create: the training is cancelled; if it cannot be, the new model is kept UNDEPLOYED;
//     the previous deployment is untouched;
//   - during deploy: the deployment is cancelled, or rolled back (undeployed) if it completed
//     anyway; the previous deployment is untouched;
//   - during retirement: the new model stays deployed; the running undeploy/delete finishes and
//     the remaining replaced models are kept as they are (listed in `kept`).
func IssueModelLifecycleWorkflow(ctx workflow.Context, in LifecycleInput) (*LifecycleResult, error) {
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	l := &lifecycle{ctx: dctx, root: ctx, in: in, status: &LifecycleStatus{Step: PhaseValidating}, vis: newVisibility(ctx)}
	if err := workflow.SetQueryHandler(ctx, StatusQuery, func() (*LifecycleStatus, error) { return l.status, nil }); err != nil {
		return nil, err
	}
	if err := in.Validate(); err != nil {
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

	if err := l.checkQuotas(); err != nil {
		return nil, l.fail(err)
	}
	if l.cancelled {
		return nil, l.cancel()
	}
	model, err := l.create()
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
		l.status.Steps = append(l.status.Steps, StepStatus{Name: name, State: "running"})
	}
}

func (l *lifecycle) endStep(state, detail string) {
	if n := len(l.status.Steps); n > 0 {
		l.status.Steps[n-1].State, l.status.Steps[n-1].Detail = state, detail
	}
}

func (l *lifecycle) fail(err error) error {
	l.endStep("failed", rootMessage(err))
	l.vis.set(l.ctx, "", StepDone)
	l.status.Done, l.status.LastError = true, rootMessage(err)
	return err
}

func (l *lifecycle) cancel() error {
	l.endStep("cancelled", "")
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

func (l *lifecycle) activity(timeout time.Duration) workflow.Context {
	return workflow.WithActivityOptions(l.ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute, ScheduleToCloseTimeout: timeout,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: 2 * time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute,
			NonRetryableErrorTypes: insights.NonRetryableErrorTypes(),
		},
	})
}

// runChild runs a child workflow whose cancellation follows this run's cancel. With
// WaitForCancellation the child's own cancel handling (CancelOperation, then polling to the
// outcome) completes before we go on.
func (l *lifecycle) runChild(suffix, workflowType string, input, result any, cancellable bool) error {
	id := workflow.GetInfo(l.root).WorkflowExecution.ID + "-" + suffix
	cctx, cancel := workflow.WithCancel(l.ctx)
	cctx = workflow.WithChildOptions(cctx, workflow.ChildWorkflowOptions{
		WorkflowID: id, WaitForCancellation: true,
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

func (l *lifecycle) checkQuotas() error {
	l.setStep(StepCheckQuotas)
	var models []activities.IssueModelSummary
	if err := workflow.ExecuteActivity(l.activity(5*time.Minute), acts.ListIssueModels, l.in.Parent).Get(l.ctx, &models); err != nil {
		return err
	}
	if excess := len(models) - (MaxModelsPerLocation - 1); excess > 0 {
		if !l.in.DeleteReplaced {
			return temporal.NewNonRetryableApplicationError(fmt.Sprintf(
				"%s already has %d issue models, the limit per location; delete old ones first, or set deleteReplaced to let this run delete undeployed models named %q",
				l.in.Parent, len(models), l.in.IssueModel.DisplayName), "ResourceExhausted", nil)
		}
		// Make room by deleting the oldest undeployed models of this pipeline (same display name).
		var prunable []activities.IssueModelSummary
		for _, m := range models {
			if m.DisplayName == l.in.IssueModel.DisplayName && m.State == "UNDEPLOYED" {
				prunable = append(prunable, m)
			}
		}
		if len(prunable) < excess {
			return temporal.NewNonRetryableApplicationError(fmt.Sprintf(
				"%s already has %d issue models, the limit per location, and only %d undeployed ones named %q may be deleted",
				l.in.Parent, len(models), len(prunable), l.in.IssueModel.DisplayName), "ResourceExhausted", nil)
		}
		sort.Slice(prunable, func(i, j int) bool { return prunable[i].CreateTime < prunable[j].CreateTime })
		for _, m := range prunable[:excess] {
			if err := l.startAndAwait("prune-"+lastSegment(m.Name), acts.DeleteIssueModel, m.Name, false); err != nil {
				return err
			}
			l.result.Deleted = append(l.result.Deleted, m.Name)
		}
	}
	l.endStep("done", fmt.Sprintf("%d models in the location", len(models)))
	return nil
}

func (l *lifecycle) create() (*CreateIssueModelResult, error) {
	l.setStep(StepCreate)
	var res CreateIssueModelResult
	err := l.runChild("create", CreateIssueModelWorkflowType, CreateIssueModelInput{
		Parent: l.in.Parent, IssueModel: l.in.IssueModel, Polling: l.in.Polling,
	}, &res, true)
	if err != nil {
		return nil, err
	}
	var m struct {
		Name  string `json:"name"`
		State string `json:"state"`
	}
	_ = json.Unmarshal(res.IssueModel, &m)
	l.result.Model, l.result.State, l.result.IssueModel = m.Name, m.State, res.IssueModel
	l.status.Model = m.Name
	if res.Outcome != OutcomeSucceeded {
		// A cancel came too late to stop the training: keep the model, undeployed.
		l.cancelled = true
		l.status.CancelRequested = true
		return nil, nil
	}
	l.endStep("done", res.Operation)
	return &res, nil
}

func (l *lifecycle) qualityGate(res *CreateIssueModelResult) error {
	l.setStep(StepQualityGate)
	var m struct {
		IssueCount    int64 `json:"issueCount,string"`
		TrainingStats struct {
			AnalyzedConversationsCount int64 `json:"analyzedConversationsCount,string"`
		} `json:"trainingStats"`
	}
	if err := json.Unmarshal(res.IssueModel, &m); err != nil {
		return temporal.NewNonRetryableApplicationError("cannot read the trained model: "+err.Error(), insights.ErrQualityGate, err)
	}
	gate := l.in.QualityGate
	var problems []string
	if m.TrainingStats.AnalyzedConversationsCount < gate.MinAnalyzedConversations {
		problems = append(problems, fmt.Sprintf("analyzed conversations %d < %d", m.TrainingStats.AnalyzedConversationsCount, gate.MinAnalyzedConversations))
	}
	if m.IssueCount < gate.MinIssueCount {
		problems = append(problems, fmt.Sprintf("issue count %d < %d", m.IssueCount, gate.MinIssueCount))
	}
	if len(problems) == 0 {
		l.endStep("done", fmt.Sprintf("analyzed conversations %d, issues %d", m.TrainingStats.AnalyzedConversationsCount, m.IssueCount))
		return nil
	}
	msg := fmt.Sprintf("model %s failed the quality gate: %s", l.result.Model, strings.Join(problems, "; "))
	if l.in.DeleteRejected {
		if err := l.startAndAwait("delete-rejected", acts.DeleteIssueModel, l.result.Model, false); err != nil {
			return err
		}
		l.result.Deleted = append(l.result.Deleted, l.result.Model)
		msg += "; the model was deleted"
	} else {
		msg += "; the model is kept, undeployed"
	}
	return temporal.NewNonRetryableApplicationError(msg, insights.ErrQualityGate, nil, l.result)
}

// replaced returns the models this run retires: the input's list, or the deployed models of the
// same display name, as listed just before deploying (so a run that deployed meanwhile counts).
func (l *lifecycle) replaced(models []activities.IssueModelSummary) []string {
	if len(l.in.Replaces) > 0 {
		return l.in.Replaces
	}
	var out []string
	for _, m := range models {
		if m.Name != l.result.Model && m.DisplayName == l.in.IssueModel.DisplayName && (m.State == "DEPLOYED" || m.State == "DEPLOYING") {
			out = append(out, m.Name)
		}
	}
	return out
}

// deploy deploys the new model. When the location is at its deployed-model quota, a replaced
// model is undeployed first (a short gap rather than a failure).
func (l *lifecycle) deploy() (replaced []string, err error) {
	l.setStep(StepDeploy)
	var models []activities.IssueModelSummary
	if err := workflow.ExecuteActivity(l.activity(5*time.Minute), acts.ListIssueModels, l.in.Parent).Get(l.ctx, &models); err != nil {
		return nil, err
	}
	replaced = l.replaced(models)
	deployed := 0
	for _, m := range models {
		if m.State == "DEPLOYED" || m.State == "DEPLOYING" {
			deployed++
		}
	}
	if deployed >= MaxDeployedPerLocation {
		if len(replaced) == 0 {
			return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
				"%s already has %d deployed issue models, the limit per location, and none is replaced by this one",
				l.in.Parent, deployed), "ResourceExhausted", nil)
		}
		first := replaced[0]
		if err := l.startAndAwait("undeploy-first", acts.UndeployIssueModel, first, false); err != nil {
			return nil, err
		}
		if l.cancelled {
			// Put the previous model back: a cancel must not leave the location with less served.
			return nil, l.startAndAwait("redeploy-previous", acts.DeployIssueModel, first, false)
		}
		l.result.Undeployed = append(l.result.Undeployed, first)
	}
	err = l.startAndAwait("deploy", acts.DeployIssueModel, l.result.Model, true)
	if err != nil && !l.cancelled {
		return nil, err
	}
	if l.cancelled {
		// Roll back: the previous deployment stays as it was, the new model ends UNDEPLOYED.
		if rerr := l.startAndAwait("rollback-deploy", acts.UndeployIssueModel, l.result.Model, false); rerr != nil {
			return nil, rerr
		}
		l.result.State = "UNDEPLOYED"
		return nil, nil
	}
	l.result.State = "DEPLOYED"
	l.endStep("done", l.result.Model)
	return replaced, nil
}

// retire undeploys (and optionally deletes) the replaced models; a cancel stops it between
// operations.
func (l *lifecycle) retire(replaced []string) {
	l.setStep(StepRetire)
	for i, name := range replaced {
		if name == l.result.Model {
			continue
		}
		if l.cancelled {
			l.result.Kept = append(l.result.Kept, replaced[i:]...)
			return
		}
		if !contains(l.result.Undeployed, name) {
			if err := l.startAndAwait("undeploy-"+lastSegment(name), acts.UndeployIssueModel, name, false); err != nil {
				l.status.LastError = rootMessage(err)
				l.result.Kept = append(l.result.Kept, name)
				continue
			}
			l.result.Undeployed = append(l.result.Undeployed, name)
		}
		if l.in.DeleteReplaced {
			if err := l.startAndAwait("delete-"+lastSegment(name), acts.DeleteIssueModel, name, false); err != nil {
				l.status.LastError = rootMessage(err)
				continue
			}
			l.result.Deleted = append(l.result.Deleted, name)
		}
	}
	l.endStep("done", fmt.Sprintf("undeployed %d, deleted %d", len(l.result.Undeployed), len(l.result.Deleted)))
}

// startAndAwait starts an LRO with an activity (Deploy/Undeploy/DeleteIssueModel) and awaits it
// in a child AwaitOperationWorkflow. If cancellable, the run's cancel cancels the child and so
// the operation; otherwise the step runs to its end.
func (l *lifecycle) startAndAwait(suffix string, startActivity any, model string, cancellable bool) error {
	var started activities.StartedOperation
	if err := workflow.ExecuteActivity(l.activity(10*time.Minute), startActivity, model).Get(l.ctx, &started); err != nil {
		return err
	}
	if started.AlreadyDone {
		return nil
	}
	var op insights.Operation
	input := AwaitOperationInput{Operation: started.Operation, Polling: l.in.Polling}
	if err := l.runChild(suffix, AwaitOperationWorkflowType, input, &op, cancellable); err != nil {
		return err
	}
	if op.Error != nil {
		if op.Error.Code == insights.CodeCancelled {
			return temporal.NewCanceledError()
		}
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("operation %s failed: %v", op.Name, op.Error),
			insights.ErrOperationFailed, nil, op.Error)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func lastSegment(name string) string { return name[strings.LastIndex(name, "/")+1:] }
