package integration_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/grpc/codes"

	"cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"

	"github.com/issuemodels/durable-lro/callers/gocaller"
	"github.com/issuemodels/durable-lro/insights"
	"github.com/issuemodels/durable-lro/insightstest"
	"github.com/issuemodels/durable-lro/internal/devserver"
	"github.com/issuemodels/durable-lro/nexusservice"
	"github.com/issuemodels/durable-lro/workflows"
)

// callersNamespace is the second namespace: the callers' team's.
const callersNamespace = nexusservice.DefaultCallersNamespace

// nexusEnv is an env whose worker serves the issue-models service through an endpoint of its
// own, and a caller's worker in the callers namespace that runs gocaller.PipelineWorkflow.
type nexusEnv struct {
	*env
	endpoint    string
	callers     client.Client
	callerQueue string
}

var setupMu sync.Mutex

func newNexusEnv(t *testing.T, opts insightstest.Options) *nexusEnv {
	t.Helper()
	e := newEnv(t, opts)
	n := &nexusEnv{env: e, endpoint: "itest-" + strings.ReplaceAll(strings.TrimPrefix(e.idPrefix, "itest-"), "_", "-")}
	cli, err := devserver.EnsureCLI()
	if err != nil {
		t.Fatal(err)
	}
	// The README's commands, run by the CLI as an operator would.
	setupMu.Lock()
	err = nexusservice.Endpoint{Name: n.endpoint, TargetNamespace: "default", TaskQueue: e.taskQueue, CallersNamespace: callersNamespace}.
		Setup(e.ctx(), cli, devServer.HostPort)
	setupMu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	n.callers, err = client.NewClientFromExisting(devServer.Client, client.Options{Namespace: callersNamespace, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.callers.Close)
	n.callerQueue = "callers-" + e.taskQueue
	w := worker.New(n.callers, n.callerQueue, worker.Options{})
	w.RegisterWorkflow(gocaller.PipelineWorkflow)
	w.RegisterWorkflow(callOperation)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return n
}

// startPipeline starts the caller's pipeline in the callers namespace with the create request.
func (n *nexusEnv) startPipeline(id, request string) client.WorkflowRun {
	n.t.Helper()
	run, err := n.callers.ExecuteWorkflow(n.ctx(), client.StartWorkflowOptions{
		ID: id, TaskQueue: n.callerQueue, WorkflowExecutionTimeout: 5 * time.Minute,
	}, gocaller.PipelineWorkflow, gocaller.PipelineInput{Endpoint: n.endpoint, Request: json.RawMessage(request)})
	if err != nil {
		n.t.Fatal(err)
	}
	n.t.Cleanup(func() { _ = n.callers.TerminateWorkflow(n.ctx(), id, "", "test ended") })
	return run
}

// backing is the run the service started for request: its id is the starter's default id.
func (n *nexusEnv) backing(request string) client.WorkflowRun {
	n.t.Helper()
	in, err := workflows.DecodeCreateIssueModelInput([]byte(request))
	if err != nil {
		n.t.Fatal(err)
	}
	id := workflows.CreateWorkflowID(in)
	n.t.Cleanup(func() { _ = n.c.TerminateWorkflow(n.ctx(), id, "", "test ended") })
	return n.c.GetWorkflow(n.ctx(), id, "")
}

// A workflow in another namespace trains a model through the endpoint; a second caller with
// the same request (as a retried start) attaches to the same run: one training, one model.
func TestNexusCallerTrainsOnceAcrossNamespaces(t *testing.T) {
	t.Parallel()
	// The training lasts until both callers are attached; then the clock jumps past its end.
	clock := insightstest.NewJumpClock(insightstest.RealClock(timeScale))
	n := newNexusEnv(t, insightstest.Options{Clock: clock, TrainingTime: trainingTime(1000 * time.Hour)})
	request := createInput("nexus-"+n.idPrefix, fastPolling)
	first := n.startPipeline(n.idPrefix+"-a", request)
	backing := n.backing(request)
	n.waitStatus(backing, "the backing run polling", func(s workflows.PollStatus) bool { return s.Polls >= 1 })
	second := n.startPipeline(n.idPrefix+"-b", request)
	n.waitFor("the second caller's callback on the backing run", func() bool {
		d, err := n.c.DescribeWorkflow(n.ctx(), backing.GetID(), "")
		return err == nil && len(d.RawResponse.GetCallbacks()) == 2
	})
	clock.Jump(1001 * time.Hour)

	for _, run := range []client.WorkflowRun{first, second} {
		var res gocaller.PipelineResult
		if err := run.Get(n.ctx(), &res); err != nil {
			t.Fatalf("pipeline %s: %v", run.GetID(), err)
		}
		if res.Outcome != workflows.OutcomeSucceeded || !strings.Contains(string(res.Model), `"state":"UNDEPLOYED"`) {
			t.Errorf("pipeline %s: outcome %q, model %s", run.GetID(), res.Outcome, res.Model)
		}
	}
	n.checkSucceededOnce(backing, n.mustResult(backing).Operation)

	// Once that training completed, the same request does not train again (the starter's rule).
	err := n.startPipeline(n.idPrefix+"-c", request).Get(n.ctx(), nil)
	if err == nil || !strings.Contains(err.Error(), "already ran to completion") {
		t.Errorf("a start after the training completed: %v, want refused as already completed", err)
	}
	n.wantCreateCalls(1, "none for the third start")
}

// A failed training reaches the caller as the operation's failure, its cause the workflow's
// OperationFailed error with the google.rpc.Status as details.
func TestNexusCallerSeesFailedTraining(t *testing.T) {
	t.Parallel()
	n := newNexusEnv(t, insightstest.Options{
		TrainingTime:    trainingTime(10 * time.Minute),
		TrainingOutcome: insightstest.RandomTrainingFailure(1, 0), // every training fails
	})
	err := n.startPipeline(n.idPrefix, createInput("nexus-fail-"+n.idPrefix, fastPolling)).Get(n.ctx(), nil)
	var nexusErr *temporal.NexusOperationError
	if !errors.As(err, &nexusErr) {
		t.Fatalf("pipeline error = %v, want a NexusOperationError", err)
	}
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != insights.ErrOperationFailed {
		t.Fatalf("cause = %v, want an ApplicationError of type %s", err, insights.ErrOperationFailed)
	}
	var st insights.Status
	if err := appErr.Details(&st); err != nil || st.Code != int32(codes.FailedPrecondition) || st.Message != insightstest.TooFewConversations {
		t.Errorf("details = %+v (%v), want the google.rpc.Status", st, err)
	}
}

// Cancelling the caller cancels the operation: the backing run sends CancelOperation and polls
// to the outcome, the training ends cancelled, and the caller sees CANCELLED.
func TestNexusCallerCancelsTheTraining(t *testing.T) {
	t.Parallel()
	n := newNexusEnv(t, insightstest.Options{TrainingTime: trainingTime(1000 * time.Hour)})
	request := createInput("nexus-cancel-"+n.idPrefix, fastPolling)
	pipeline := n.startPipeline(n.idPrefix, request)
	backing := n.backing(request)
	st := n.waitStatus(backing, "the backing run polling", func(s workflows.PollStatus) bool { return s.Polls >= 1 })
	if err := n.callers.CancelWorkflow(n.ctx(), pipeline.GetID(), ""); err != nil {
		t.Fatal(err)
	}
	err := pipeline.Get(n.ctx(), nil)
	var canceled *temporal.CanceledError
	if !errors.As(err, &canceled) {
		t.Fatalf("pipeline error = %v, want cancelled", err)
	}
	// The backing run ended once the outcome was known: the operation is done, cancelled.
	_, berr := n.result(backing)
	var details workflows.CreateIssueModelResult
	n.cancelledWith(berr, &details)
	if details.Outcome != workflows.OutcomeCancelled {
		t.Fatalf("backing run's details %+v, want CANCELLED", details)
	}
	op, ok := n.emu.Operation(st.Operation)
	if !ok || !op.GetDone() || op.GetError().GetCode() != int32(codes.Canceled) {
		t.Errorf("emulator operation %s: done %v, error %v; want cancelled", st.Operation, op.GetDone(), op.GetError())
	}
	d, err := n.callers.DescribeWorkflow(n.ctx(), pipeline.GetID(), "")
	if err != nil || d.RawResponse.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED {
		t.Errorf("pipeline status: %v %v, want CANCELED", d, err)
	}
}

// The same namespace: the sample's ChildPipelineWorkflow, on a worker of its own, starts
// CreateIssueModelWorkflow as a child by type name with the README's JSON.
func TestGoCallerTrainsAsChild(t *testing.T) {
	t.Parallel()
	e := newEnv(t, insightstest.Options{})
	queue := "child-callers-" + e.taskQueue
	w := worker.New(e.c, queue, worker.Options{})
	w.RegisterWorkflow(gocaller.ChildPipelineWorkflow)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	run, err := e.c.ExecuteWorkflow(e.ctx(), client.StartWorkflowOptions{ID: e.idPrefix, TaskQueue: queue, WorkflowExecutionTimeout: 5 * time.Minute},
		gocaller.ChildPipelineWorkflow, gocaller.ChildInput{TaskQueue: e.taskQueue, Request: json.RawMessage(createInput("child", fastPolling))})
	if err != nil {
		t.Fatal(err)
	}
	var res gocaller.PipelineResult
	if err := run.Get(e.ctx(), &res); err != nil {
		t.Fatal(err)
	}
	if res.Outcome != workflows.OutcomeSucceeded || !strings.Contains(string(res.Model), `"state":"UNDEPLOYED"`) {
		t.Errorf("outcome %q, model %s", res.Outcome, res.Model)
	}
}

// callInput is callOperation's input: any operation of the service with its JSON input.
type callInput struct {
	Endpoint, Operation string
	Input               json.RawMessage
}

// callOperation is a caller of any operation of the issue-models service.
func callOperation(ctx workflow.Context, in callInput) (json.RawMessage, error) {
	var out json.RawMessage
	err := workflow.NewNexusClient(in.Endpoint, nexusservice.ServiceName).
		ExecuteOperation(ctx, in.Operation, in.Input, workflow.NexusOperationOptions{}).Get(ctx, &out)
	return out, err
}

func (n *nexusEnv) call(operation, input string) (json.RawMessage, error) {
	n.t.Helper()
	id := fmt.Sprintf("%s-call-%d", n.idPrefix, n.seq.Add(1))
	run, err := n.callers.ExecuteWorkflow(n.ctx(), client.StartWorkflowOptions{ID: id, TaskQueue: n.callerQueue, WorkflowExecutionTimeout: 5 * time.Minute},
		callOperation, callInput{Endpoint: n.endpoint, Operation: operation, Input: json.RawMessage(input)})
	if err != nil {
		n.t.Fatal(err)
	}
	var out json.RawMessage
	err = run.Get(n.ctx(), &out)
	return out, err
}

// The service's other operations: await-operation awaits an operation made elsewhere, and
// issue-model-lifecycle trains, gates and deploys; an invalid input fails before anything starts.
func TestNexusAwaitAndLifecycleOperations(t *testing.T) {
	t.Parallel()
	n := newNexusEnv(t, insightstest.Options{})
	op, err := n.google.CreateIssueModel(n.ctx(), &contactcenterinsightspb.CreateIssueModelRequest{
		Parent: parent, IssueModel: &contactcenterinsightspb.IssueModel{DisplayName: "elsewhere"}})
	if err != nil {
		t.Fatal(err)
	}
	out, err := n.call(nexusservice.AwaitOperationOperation, fmt.Sprintf(`{"operation":%q,%s}`, op.Name(), fastPolling))
	if err != nil || !strings.Contains(string(out), `"done":true`) || !strings.Contains(string(out), op.Name()) {
		t.Fatalf("await-operation: %v\n%s", err, out)
	}
	out, err = n.call(nexusservice.LifecycleOperation, createInput("nexus-lifecycle-"+n.idPrefix, fastPolling, `"qualityGate":{"minIssueCount":1}`))
	var res workflows.LifecycleResult
	if err != nil || json.Unmarshal(out, &res) != nil || res.Outcome != workflows.LifecycleDeployed {
		t.Fatalf("issue-model-lifecycle: %v\n%s", err, out)
	}
	_, err = n.call(nexusservice.CreateIssueModelOperation, `{"parent":"nowhere","issueModel":{}}`)
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || !strings.Contains(err.Error(), "parent") {
		t.Errorf("an invalid input: %v, want the workflow's InvalidArgument", err)
	}
	n.wantCreateCalls(2, "ours and the lifecycle's")
}

// When the server cannot cancel the training, the cancelled caller still gets the outcome: the
// model, COMPLETED_DESPITE_CANCEL.
func TestNexusCallerCancelTheServerCannotHonour(t *testing.T) {
	t.Parallel()
	// The training lasts until the cancel was refused; then the clock jumps past its end.
	clock := insightstest.NewJumpClock(insightstest.RealClock(timeScale))
	n := newNexusEnv(t, insightstest.Options{Clock: clock, CancelMode: insightstest.CancelUnimplemented, TrainingTime: trainingTime(1000 * time.Hour)})
	request := createInput("nexus-unimplemented-"+n.idPrefix, fastPolling)
	pipeline := n.startPipeline(n.idPrefix, request)
	backing := n.backing(request)
	n.waitStatus(backing, "the backing run polling", func(s workflows.PollStatus) bool { return s.Polls >= 1 })
	if err := n.callers.CancelWorkflow(n.ctx(), pipeline.GetID(), ""); err != nil {
		t.Fatal(err)
	}
	n.waitStatus(backing, "the cancel refused", func(s workflows.PollStatus) bool { return s.CancelUnimplemented })
	clock.Jump(1001 * time.Hour)
	var res gocaller.PipelineResult
	err := pipeline.Get(n.ctx(), &res)
	if err != nil || res.Outcome != workflows.OutcomeCompletedDespiteCancel || len(res.Model) == 0 {
		t.Fatalf("pipeline: %v %+v, want COMPLETED_DESPITE_CANCEL with the model", err, res)
	}
}
