package integration_test

import (
	"fmt"
	"testing"
	"time"

	"cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/issuemodels/durable-lro/insights"
	"github.com/issuemodels/durable-lro/insightstest"
	"github.com/issuemodels/durable-lro/workflows"
)

// deployedModel creates and deploys a model directly with the Google client: the model an
// earlier pipeline left serving.
func deployedModel(e *env, displayName string) string {
	e.t.Helper()
	ctx := e.ctx()
	op, err := e.google.CreateIssueModel(ctx, &contactcenterinsightspb.CreateIssueModelRequest{
		Parent: parent, IssueModel: &contactcenterinsightspb.IssueModel{DisplayName: displayName}})
	if err != nil {
		e.t.Fatalf("create: %v", err)
	}
	m, err := op.Wait(ctx)
	if err != nil {
		e.t.Fatalf("wait for training: %v", err)
	}
	dop, err := e.google.DeployIssueModel(ctx, &contactcenterinsightspb.DeployIssueModelRequest{Name: m.GetName()})
	if err != nil {
		e.t.Fatalf("deploy: %v", err)
	}
	if _, err := dop.Wait(ctx); err != nil {
		e.t.Fatalf("wait for deploy: %v", err)
	}
	return m.GetName()
}

func (e *env) modelStates() map[string]string {
	out := map[string]string{}
	for _, m := range e.emu.Models(parent) {
		out[m.GetName()] = m.GetState().String()
	}
	return out
}

func (e *env) lifecycleStatus(id string) workflows.LifecycleStatus {
	var st workflows.LifecycleStatus
	v, err := e.c.QueryWorkflow(e.ctx(), id, "", workflows.StatusQuery)
	if err == nil {
		_ = v.Get(&st)
	}
	return st
}

// cancelDuringNewDeploy waits until the lifecycle run deploys a model other than old (or ends),
// signals it to cancel, and returns the result its cancellation carries; a run that was not
// cancelled fails the test.
func cancelDuringNewDeploy(t *testing.T, e *env, run client.WorkflowRun, old string) workflows.LifecycleResult {
	t.Helper()
	e.waitFor("the new model's deployment", func() bool {
		for _, m := range e.emu.Models(parent) {
			if m.GetName() != old && m.GetState() == contactcenterinsightspb.IssueModel_DEPLOYING {
				return true
			}
		}
		return e.lifecycleStatus(run.GetID()).Done
	})
	if err := e.c.SignalWorkflow(e.ctx(), run.GetID(), "", workflows.CancelSignal, workflows.CancelRequest{Reason: "stop"}); err != nil {
		t.Fatal(err)
	}
	// A run that ended otherwise finished its deployment before the signal: deploy time too short.
	var res workflows.LifecycleResult
	e.cancelledWith(run.Get(e.ctx(), nil), &res)
	return res
}

func TestLifecycleReplacesTheDeployedModel(t *testing.T) {
	t.Parallel()
	e := newEnv(t, insightstest.Options{})
	old := deployedModel(e, "weekly")

	run := e.start(workflows.IssueModelLifecycleWorkflowType, createInput("weekly", fastPolling,
		`"qualityGate":{"minAnalyzedConversations":1,"minIssueCount":1}`, `"deleteReplaced":true`))
	var res workflows.LifecycleResult
	if err := run.Get(e.ctx(), &res); err != nil {
		t.Fatalf("lifecycle: %v", err)
	}
	if res.Outcome != workflows.LifecycleDeployed || res.State != "DEPLOYED" {
		t.Errorf("result = %+v, want DEPLOYED", res)
	}
	if len(res.Undeployed) != 1 || res.Undeployed[0] != old || len(res.Deleted) != 1 || res.Deleted[0] != old {
		t.Errorf("undeployed/deleted = %v/%v, want the old model %s", res.Undeployed, res.Deleted, old)
	}
	states := e.modelStates()
	if len(states) != 1 || states[res.Model] != "DEPLOYED" {
		t.Errorf("emulator models = %v, want only %s DEPLOYED", states, res.Model)
	}
	st := e.lifecycleStatus(run.GetID())
	if st.Step != workflows.StepDone || len(st.Steps) != 5 {
		t.Errorf("status = %+v, want step done after 5 steps", st)
	}
	for _, s := range st.Steps {
		if s.State != "done" {
			t.Errorf("step %s = %s, want done", s.Name, s.State)
		}
	}
}

func TestLifecycleCancelDuringDeployKeepsThePreviousDeployment(t *testing.T) {
	t.Parallel()
	// Deployments last 6 s of real time, long enough to cancel in the middle of one.
	e := newEnv(t, insightstest.Options{DeployTime: time.Hour})
	old := deployedModel(e, "weekly")
	run := e.start(workflows.IssueModelLifecycleWorkflowType, createInput("weekly", fastPolling))
	res := cancelDuringNewDeploy(t, e, run, old)
	if res.Outcome != workflows.LifecycleCancelled || res.State != "UNDEPLOYED" || len(res.Undeployed) != 0 {
		t.Errorf("result = %+v, want CANCELLED with the new model UNDEPLOYED and nothing undeployed", res)
	}
	states := e.modelStates()
	if states[old] != "DEPLOYED" || states[res.Model] != "UNDEPLOYED" {
		t.Errorf("emulator models = %v, want old %s DEPLOYED and new %s UNDEPLOYED", states, old, res.Model)
	}
	if st := e.describeStatus(run.GetID(), ""); st != enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED {
		t.Errorf("execution status = %v, want CANCELED", st)
	}
}

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
