package workflows

import (
	"errors"
	"slices"
	"strings"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/issuemodels/durable-lro/activities"
	"github.com/issuemodels/durable-lro/insights"
)

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
	newModelHoldsASlot := false
	if r.deployed {
		if err := l.restore("rollback-deploy", acts.UndeployIssueModel, l.result.Model); err != nil {
			problem("could not undeploy "+l.result.Model, err)
			newModelHoldsASlot = !insights.IsErrorType(err, insights.ErrNotFound)
		} else {
			l.result.State = stateUndeployed
			done = append(done, l.result.Model+" is UNDEPLOYED")
		}
	}
	if r.previous != "" {
		// While the new model may hold the slot the previous one needs, the location is not
		// short, and a quota refusal would not lift: the redeploy is tried, not waited for.
		var err error
		if newModelHoldsASlot {
			err = l.startAndAwait("redeploy-previous", acts.DeployIssueModel, r.previous, false)
		} else {
			err = l.restore("redeploy-previous", acts.DeployIssueModel, r.previous)
		}
		if err != nil {
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

// rollsBack: this run rolls a failed or cancelled deploy step back (deployRollbackChange).
func (l *lifecycle) rollsBack() bool {
	return workflow.GetVersion(l.ctx, deployRollbackChange, workflow.DefaultVersion, deployRollbackVersion) >= deployRollbackVersion
}
