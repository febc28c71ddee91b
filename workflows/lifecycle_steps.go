package workflows

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/issuemodels/durable-lro/activities"
	"github.com/issuemodels/durable-lro/insights"
)

func (l *lifecycle) checkQuotas() error {
	l.setStep(StepCheckQuotas)
	var models []activities.IssueModelSummary
	if err := workflow.ExecuteActivity(withChangeActivity(l.ctx, l.in.Parent, 5*time.Minute), acts.ListIssueModels, l.in.Parent).Get(l.ctx, &models); err != nil {
		return err
	}
	if excess := len(models) - (MaxModelsPerLocation - 1); excess > 0 {
		if !l.in.DeleteReplaced {
			return temporal.NewNonRetryableApplicationError(fmt.Sprintf(
				"%s already has %d issue models, the limit per location; delete old ones first, or set deleteReplaced to let this run delete undeployed models named %q",
				l.in.Parent, len(models), l.in.IssueModel.DisplayName), insights.ErrResourceExhausted, nil)
		}
		// Make room by deleting the oldest undeployed models of this pipeline (same display name).
		var prunable []activities.IssueModelSummary
		for _, m := range models {
			if m.DisplayName == l.in.IssueModel.DisplayName && m.State == stateUndeployed {
				prunable = append(prunable, m)
			}
		}
		if len(prunable) < excess {
			return temporal.NewNonRetryableApplicationError(fmt.Sprintf(
				"%s already has %d issue models, the limit per location, and only %d undeployed ones named %q may be deleted",
				l.in.Parent, len(models), len(prunable), l.in.IssueModel.DisplayName), insights.ErrResourceExhausted, nil)
		}
		sort.Slice(prunable, func(i, j int) bool { return prunable[i].CreateTime < prunable[j].CreateTime })
		for _, m := range prunable[:excess] {
			if err := l.startAndAwait("prune-"+lastSegment(m.Name), acts.DeleteIssueModel, m.Name, false); err != nil {
				return err
			}
			l.result.Deleted = append(l.result.Deleted, m.Name)
		}
	}
	l.endStep(StepStateDone, fmt.Sprintf("%d models in the location", len(models)))
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
	l.endStep(StepStateDone, res.Operation)
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
		l.endStep(StepStateDone, fmt.Sprintf("analyzed conversations %d, issues %d", m.TrainingStats.AnalyzedConversationsCount, m.IssueCount))
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
		if m.Name != l.result.Model && m.DisplayName == l.in.IssueModel.DisplayName && isDeployed(m) {
			out = append(out, m.Name)
		}
	}
	return out
}

// deploy deploys the new model. When the location is at its deployed-model quota, a replaced
// model is undeployed first (a short gap rather than a failure). A cancel, or a failure once the
// step may have changed the location, rolls the step back (rollBack).
func (l *lifecycle) deploy() (replaced []string, err error) {
	l.setStep(StepDeploy)
	var models []activities.IssueModelSummary
	if err := workflow.ExecuteActivity(withChangeActivity(l.ctx, l.in.Parent, 5*time.Minute), acts.ListIssueModels, l.in.Parent).Get(l.ctx, &models); err != nil {
		return nil, err
	}
	replaced = l.replaced(models)
	deployed := 0
	for _, m := range models {
		if isDeployed(m) {
			deployed++
		}
	}
	first := ""
	if deployed >= MaxDeployedPerLocation {
		if len(replaced) == 0 {
			return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
				"%s already has %d deployed issue models, the limit per location, and none is replaced by this one",
				l.in.Parent, deployed), insights.ErrResourceExhausted, nil)
		}
		first = replaced[0]
		started, op, err := l.startAndAwaitStarted(awaitedStep{suffix: "undeploy-first", start: acts.UndeployIssueModel, params: first})
		if err != nil {
			if l.rollsBack() {
				// The undeploy may have happened (or may still happen): put the model back.
				return nil, l.rollBack(deployRollback{cause: err, pending: unsettled(started, op), previous: first})
			}
			return nil, err
		}
		if l.cancelled {
			// Put the previous model back: a cancel must not leave the location with less served.
			return nil, l.startAndAwait("redeploy-previous", acts.DeployIssueModel, first, false)
		}
		l.result.Undeployed = append(l.result.Undeployed, first)
	}
	started, op, err := l.startAndAwaitStarted(awaitedStep{suffix: "deploy", start: acts.DeployIssueModel, params: l.result.Model, cancellable: true})
	if (err != nil || l.cancelled) && l.rollsBack() {
		return nil, l.rollBack(deployRollback{cause: err, pending: unsettled(started, op), deployed: true, previous: first})
	}
	if err != nil && !l.cancelled {
		return nil, err
	}
	if l.cancelled {
		// Roll back: the previous deployment stays as it was, the new model ends UNDEPLOYED.
		if rerr := l.startAndAwait("rollback-deploy", acts.UndeployIssueModel, l.result.Model, false); rerr != nil {
			return nil, rerr
		}
		l.result.State = stateUndeployed
		return nil, nil
	}
	l.result.State = stateDeployed
	l.endStep(StepStateDone, l.result.Model)
	return replaced, nil
}

// rollsBack: this run rolls a failed or cancelled deploy step back (deployRollbackChange).
func (l *lifecycle) rollsBack() bool {
	return workflow.GetVersion(l.ctx, deployRollbackChange, workflow.DefaultVersion, deployRollbackVersion) >= deployRollbackVersion
}

// deployRollback is what a failed or cancelled deploy step has to put back.
type deployRollback struct {
	cause error // the step's error; nil or Canceled for a cancel
	// pending is an operation the step started whose outcome its child did not learn (the
	// child failed: PollTimeout, OperationLost, an API error); "" when none.
	pending string
	// deployed: the new model's deployment may have started.
	deployed bool
	// previous is the model undeploy-first removed (or may have removed); "" when none.
	previous string
}

// unsettled is the started operation whose outcome a failed child left unknown, if any.
func unsettled(started activities.StartedOperation, op insights.Operation) string {
	if started.Operation == "" || started.AlreadyDone || op.Done {
		return ""
	}
	return started.Operation
}

// rollBack puts the location back as it was before the deploy step: it first makes sure no
// operation of the step is still running (awaiting it again; the failed child has already asked
// for its cancellation where it could), so that nothing changes after the run has ended, then
// undeploys the new model (nothing to do if it is not deployed) and redeploys the model
// undeploy-first removed. None of it is cancellable: a second cancel must not stop a rollback.
// A cancel still ends Canceled; a failure fails with the step's error, its message saying what
// was put back.
func (l *lifecycle) rollBack(r deployRollback) error {
	// A cancel that comes during the rollback of a failure does not turn the failure into a cancel.
	cancelled := l.cancelled
	var done, problems []string
	var firstProblem error
	problem := func(what string, err error) {
		problems = append(problems, what+": "+rootMessage(err))
		if firstProblem == nil {
			firstProblem = err
		}
	}
	if r.pending != "" {
		var op insights.Operation
		input := AwaitOperationInput{Operation: r.pending, Polling: l.in.Polling}
		if err := l.runChild(StepDeploy+"-outcome", AwaitOperationWorkflowType, input, &op, false); err != nil {
			problem("the outcome of "+r.pending+" is unknown", err)
		}
	}
	if r.deployed {
		if err := l.startAndAwait("rollback-deploy", acts.UndeployIssueModel, l.result.Model, false); err != nil {
			problem("could not undeploy "+l.result.Model, err)
		} else {
			l.result.State = stateUndeployed
			done = append(done, l.result.Model+" is UNDEPLOYED")
		}
	}
	if r.previous != "" {
		if err := l.startAndAwait("redeploy-previous", acts.DeployIssueModel, r.previous, false); err != nil {
			problem("could not redeploy "+r.previous+", which undeploy-first undeployed", err)
			if !slices.Contains(l.result.Undeployed, r.previous) {
				l.result.Undeployed = append(l.result.Undeployed, r.previous)
			}
		} else {
			l.result.Undeployed = slices.DeleteFunc(l.result.Undeployed, func(m string) bool { return m == r.previous })
			done = append(done, r.previous+" redeployed")
		}
	}
	l.rolledBack = "rolled back"
	if len(done) > 0 {
		l.rolledBack += ": " + strings.Join(done, ", ")
	}
	if len(problems) > 0 {
		l.rolledBack += "; not rolled back: " + strings.Join(problems, "; ")
	}
	var canceled *temporal.CanceledError
	if r.cause == nil || errors.As(r.cause, &canceled) || cancelled {
		if firstProblem != nil {
			return temporal.NewNonRetryableApplicationError("cancelled during deploy, "+l.rolledBack, errorType(firstProblem), firstProblem, l.result)
		}
		if cancelled {
			return nil // ends Canceled, with the result as details, whatever the step's error
		}
		return r.cause
	}
	return temporal.NewNonRetryableApplicationError(rootMessage(r.cause)+"; "+l.rolledBack, errorType(r.cause), r.cause, l.result)
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
		if !slices.Contains(l.result.Undeployed, name) {
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
	l.endStep(StepStateDone, fmt.Sprintf("undeployed %d, deleted %d", len(l.result.Undeployed), len(l.result.Deleted)))
}

// startAndAwait starts an LRO with an activity (Deploy/Undeploy/DeleteIssueModel) and awaits it
// in a child AwaitOperationWorkflow. If cancellable, the run's cancel cancels the child and so
// the operation; otherwise the step runs to its end.
func (l *lifecycle) startAndAwait(suffix string, startActivity any, model string, cancellable bool) error {
	_, err := l.startAndAwaitOp(awaitedStep{suffix: suffix, start: startActivity, params: model, cancellable: cancellable})
	return err
}

// awaitedStep is one operation a step starts with an activity and awaits in a child.
type awaitedStep struct {
	suffix      string // of the child's workflow id
	start       any    // the activity
	params      any    // its input
	cancellable bool
	// progress asks the child to signal the operation's metadata at each poll (ReportProgress).
	progress bool
}

// startAndAwaitOp is startAndAwait for any start activity; it returns the done operation (empty
// when there was nothing to do). The step's status shows the operation and its metadata.
func (l *lifecycle) startAndAwaitOp(s awaitedStep) (insights.Operation, error) {
	_, op, err := l.startAndAwaitStarted(s)
	return op, err
}

// startAndAwaitStarted is startAndAwaitOp that also returns what the start activity answered:
// when the child fails, the operation it could not await to its end.
func (l *lifecycle) startAndAwaitStarted(s awaitedStep) (activities.StartedOperation, insights.Operation, error) {
	var started activities.StartedOperation
	if err := workflow.ExecuteActivity(withChangeActivity(l.ctx, l.in.Parent, 10*time.Minute), s.start, s.params).Get(l.ctx, &started); err != nil {
		return started, insights.Operation{}, err
	}
	if started.AlreadyDone {
		return started, insights.Operation{}, nil
	}
	step := l.currentStep()
	step.Operation, step.Metadata = started.Operation, nil
	var op insights.Operation
	input := AwaitOperationInput{Operation: started.Operation, Polling: l.in.Polling, ReportProgress: s.progress}
	if err := l.runChild(s.suffix, AwaitOperationWorkflowType, input, &op, s.cancellable); err != nil {
		return started, op, err
	}
	if op.Metadata != nil {
		l.currentStep().Metadata = op.Metadata
	}
	switch outcome, failure := operationOutcome(op); outcome {
	case OutcomeCancelled:
		return started, op, temporal.NewCanceledError()
	case OutcomeFailed:
		return started, op, failure
	}
	return started, op, nil
}

// Model states the lifecycle decides on.
var (
	stateDeployed   = contactcenterinsightspb.IssueModel_DEPLOYED.String()
	stateDeploying  = contactcenterinsightspb.IssueModel_DEPLOYING.String()
	stateUndeployed = contactcenterinsightspb.IssueModel_UNDEPLOYED.String()
)

// isDeployed: the model counts against the deployed-model quota.
func isDeployed(m activities.IssueModelSummary) bool {
	return m.State == stateDeployed || m.State == stateDeploying
}

func lastSegment(name string) string { return name[strings.LastIndex(name, "/")+1:] }
