package integration_test

import (
	"testing"
	"time"

	"cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

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
