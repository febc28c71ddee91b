package reliability_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/issuemodels/durable-lro/callers/gocaller"
	"github.com/issuemodels/durable-lro/insightstest"
	"github.com/issuemodels/durable-lro/internal/devserver"
	"github.com/issuemodels/durable-lro/nexusservice"
	"github.com/issuemodels/durable-lro/workflows"
)

// TestNexusStartedRunSurvivesWorkerKill: a pipeline in the callers namespace trains through the
// issue-models endpoint served by real worker processes; while the Nexus-started run polls,
// every worker is SIGKILLed and a new one started. The run resumes on it, the caller gets the
// model, and one training was made.
func TestNexusStartedRunSurvivesWorkerKill(t *testing.T) {
	t.Parallel()
	// 60x clock: a training of 20 emulated minutes takes 20 s.
	emu := newEmulator(t, 60, insightstest.Options{TrainingTime: fixed(20 * time.Minute)})
	tq, prefix := names(t)
	f := newFleet(t, 2, workerEnv(devServer.HostPort, emu.Addr(), tq))
	endpoint := "rel-" + strings.TrimPrefix(prefix, "rel-")
	cli, err := devserver.EnsureCLI()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := (nexusservice.Endpoint{Name: endpoint, TargetNamespace: "default", TaskQueue: tq,
		CallersNamespace: nexusservice.DefaultCallersNamespace}).Setup(ctx, cli, devServer.HostPort); err != nil {
		t.Fatal(err)
	}
	callers, err := client.NewClientFromExisting(devServer.Client, client.Options{Namespace: nexusservice.DefaultCallersNamespace})
	if err != nil {
		t.Fatal(err)
	}
	defer callers.Close()
	w := worker.New(callers, "callers-"+tq, worker.Options{})
	w.RegisterWorkflow(gocaller.PipelineWorkflow)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	request := createInput("projects/rel-nexus/locations/us-central1", "nexus-kill-"+prefix, `"polling":{"initialInterval":"1s","maxInterval":"2s"}`)
	in, err := workflows.DecodeCreateIssueModelInput([]byte(request))
	if err != nil {
		t.Fatal(err)
	}
	backingID := workflows.CreateWorkflowID(in)
	defer terminateIfRunning(devServer.Client, backingID)
	pipeline, err := callers.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: prefix, TaskQueue: "callers-" + tq},
		gocaller.PipelineWorkflow, gocaller.PipelineInput{Endpoint: endpoint, Request: json.RawMessage(request)})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = callers.TerminateWorkflow(context.Background(), prefix, "", "test ended") }()

	// Wait for polls of the backing run, then kill every worker of ours.
	for {
		var st workflows.PollStatus
		if v, err := devServer.Client.QueryWorkflow(ctx, backingID, "", workflows.StatusQuery); err == nil && v.Get(&st) == nil && st.Polls >= 2 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the backing run %s did not poll: %v\n%s", backingID, ctx.Err(), f.logs())
		}
		time.Sleep(200 * time.Millisecond)
	}
	f.killN(2)
	time.Sleep(time.Second)
	f.startN(1)

	var res gocaller.PipelineResult
	if err := pipeline.Get(ctx, &res); err != nil {
		t.Fatalf("pipeline: %v\n%s", err, f.logs())
	}
	if res.Outcome != workflows.OutcomeSucceeded || len(res.Model) == 0 {
		t.Errorf("pipeline result %+v, want SUCCEEDED with the model", res)
	}
	if n := emu.Stats().RPCs["CreateIssueModel"]; n != 1 {
		t.Errorf("CreateIssueModel RPCs = %d, want 1", n)
	}
	if n := countEvents(history(t, devServer.Client, backingID, ""), enumspb.EVENT_TYPE_WORKFLOW_TASK_FAILED); n != 0 {
		t.Errorf("%d WorkflowTaskFailed events in the backing run", n)
	}
}
