package workflows

import (
	"fmt"

	"go.temporal.io/sdk/temporal"

	"github.com/issuemodels/durable-lro/activities"
	"github.com/issuemodels/durable-lro/insights"
)

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
	models, err := l.listModels()
	if err != nil {
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
			return nil, l.restore("redeploy-previous", acts.DeployIssueModel, first)
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
		if rerr := l.restore("rollback-deploy", acts.UndeployIssueModel, l.result.Model); rerr != nil {
			return nil, rerr
		}
		l.result.State = stateUndeployed
		return nil, nil
	}
	l.result.State = stateDeployed
	l.endStep(StepStateDone, l.result.Model)
	return replaced, nil
}
