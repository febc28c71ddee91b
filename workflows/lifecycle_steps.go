package workflows

import (
	"encoding/json"
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

// listModels lists the models of the run's location.
func (l *lifecycle) listModels() ([]activities.IssueModelSummary, error) {
	var models []activities.IssueModelSummary
	err := workflow.ExecuteActivity(withChangeActivity(l.ctx, l.in.Parent, 5*time.Minute), acts.ListIssueModels, l.in.Parent).Get(l.ctx, &models)
	return models, err
}

// getModel reads a model in its REST JSON shape.
func (l *lifecycle) getModel(name string) (json.RawMessage, error) {
	var raw json.RawMessage
	err := workflow.ExecuteActivity(withChangeActivity(l.ctx, name, 5*time.Minute), acts.GetIssueModel, name).Get(l.ctx, &raw)
	return raw, err
}

func (l *lifecycle) checkQuotas() error {
	l.setStep(StepCheckQuotas)
	models, err := l.listModels()
	if err != nil {
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
			if _, err := l.startAndAwaitOp(awaitedStep{suffix: "prune-" + lastSegment(m.Name), start: acts.DeleteIssueModel, params: m.Name, lookUp: true}); err != nil {
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
		if _, err := l.startAndAwaitOp(awaitedStep{suffix: "delete-rejected", start: acts.DeleteIssueModel, params: l.result.Model, lookUp: true}); err != nil {
			return err
		}
		l.result.Deleted = append(l.result.Deleted, l.result.Model)
		msg += "; the model was deleted"
	} else {
		msg += "; the model is kept, undeployed"
	}
	return temporal.NewNonRetryableApplicationError(msg, insights.ErrQualityGate, nil, l.result)
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
			if _, err := l.startAndAwaitOp(awaitedStep{suffix: "undeploy-" + lastSegment(name), start: acts.UndeployIssueModel, params: name, lookUp: true}); err != nil {
				l.status.LastError = rootMessage(err)
				l.result.Kept = append(l.result.Kept, name)
				continue
			}
			l.result.Undeployed = append(l.result.Undeployed, name)
		}
		if l.in.DeleteReplaced {
			if _, err := l.startAndAwaitOp(awaitedStep{suffix: "delete-" + lastSegment(name), start: acts.DeleteIssueModel, params: name, lookUp: true}); err != nil {
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
	// restoring: the start puts the location back; it is tried until done (restore).
	restoring bool
	// lookUp: after a start that gave up, the run looks for the operation it may have started
	// (lookForGivenUpStart).
	lookUp bool
}

// startBound bounds a step's start activity, its attempts' waits in the rate-limited task queue
// included (a poll backlog keeps each under the polls' 3-minute bound; starts go ahead of polls).
// It is long because a step that gives up after an attempt that may have committed loses the
// start-once records (this activity's heartbeats) that would adopt that operation: the run must
// look for it afterwards (lookForGivenUpStart), or the rollback settle it (refusedForChange). It is
// bounded so that a start refused for hours (a quota) fails the step, whose rollback then runs.
const startBound = time.Hour

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
	var err error
	if s.restoring && l.restoresUntilDone() {
		started, err = l.startRestoring(s)
	} else {
		err = workflow.ExecuteActivity(withChangeActivity(l.ctx, l.in.Parent, startBound), s.start, s.params).Get(l.ctx, &started)
		if err != nil && s.lookUp {
			started, err = l.lookForGivenUpStart(s, err)
		}
	}
	if err != nil {
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
	stateDeployed    = contactcenterinsightspb.IssueModel_DEPLOYED.String()
	stateDeploying   = contactcenterinsightspb.IssueModel_DEPLOYING.String()
	stateUndeployed  = contactcenterinsightspb.IssueModel_UNDEPLOYED.String()
	stateUndeploying = contactcenterinsightspb.IssueModel_UNDEPLOYING.String()
)

// isDeployed: the model counts against the deployed-model quota.
func isDeployed(m activities.IssueModelSummary) bool {
	return m.State == stateDeployed || m.State == stateDeploying
}

func lastSegment(name string) string { return name[strings.LastIndex(name, "/")+1:] }
