package integration_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/issuemodels/durable-lro/insights"
	"github.com/issuemodels/durable-lro/insightstest"
	"github.com/issuemodels/durable-lro/workflows"
)

// TestLifecycleTerminateCancelsTheTraining (issue 25, F): terminating a lifecycle while its
// create child awaits the training must not leave the training running untracked: the child is
// asked to cancel and cancels the operation.
func TestLifecycleTerminateCancelsTheTraining(t *testing.T) {
	t.Parallel()
	// 4 emulated hours: 24 s of real time, far longer than the test needs.
	e := newEnv(t, insightstest.Options{TrainingTime: trainingTime(4 * time.Hour)})
	run := e.start(workflows.IssueModelLifecycleWorkflowType, createInput("terminated", fastPolling))
	var op string
	e.waitFor("the create child's operation", func() bool {
		for _, s := range e.lifecycleStatus(run.GetID()).Steps {
			if s.Name == workflows.StepCreate && s.ChildWorkflowID != "" {
				v, err := e.c.QueryWorkflow(e.ctx(), s.ChildWorkflowID, "", workflows.StatusQuery)
				var st workflows.PollStatus
				if err == nil && v.Get(&st) == nil && st.Operation != "" {
					op = st.Operation
					return true
				}
			}
		}
		return false
	})
	if err := e.c.TerminateWorkflow(e.ctx(), run.GetID(), "", "operator stops it"); err != nil {
		t.Fatal(err)
	}
	e.waitFor("the training to end", func() bool { return e.opDone(op) })
	got, _ := e.emu.Operation(op)
	if got.GetError().GetCode() != insights.CodeCancelled {
		t.Errorf("training %s ended with error %v (nil: it trained to the end), want CANCELLED", op, got.GetError())
	}
}

// TestLifecycleCancelDuringDeployAtQuotaRedeploysThePrevious (issue 25, C): at the 5-deployed
// quota the lifecycle undeploys the model it replaces to make room; a cancel during the new
// model's deployment must leave the location as it was, that model deployed again.
func TestLifecycleCancelDuringDeployAtQuotaRedeploysThePrevious(t *testing.T) {
	t.Parallel()
	// Deployments last 3 s of real time, long enough to cancel in the middle of one.
	e := newEnv(t, insightstest.Options{DeployTime: 30 * time.Minute})
	old := deployedModel(e, "weekly")
	for i := range 4 {
		deployedModel(e, fmt.Sprintf("other-%d", i))
	}
	run := e.start(workflows.IssueModelLifecycleWorkflowType, createInput("weekly", fastPolling))
	res := cancelDuringNewDeploy(t, e, run, old)
	states := e.modelStates()
	if states[old] != "DEPLOYED" || states[res.Model] != "UNDEPLOYED" {
		t.Errorf("emulator models = %v, want old %s DEPLOYED and new %s UNDEPLOYED", states, old, res.Model)
	}
	deployed := 0
	for _, s := range states {
		if s == "DEPLOYED" {
			deployed++
		}
	}
	if deployed != 5 || len(res.Undeployed) != 0 {
		t.Errorf("%d models deployed, result undeployed %v; want the 5 deployed before and nothing undeployed", deployed, res.Undeployed)
	}
}
