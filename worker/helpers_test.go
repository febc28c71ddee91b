package main

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/issuemodels/durable-lro/insightsclient"
	"github.com/issuemodels/durable-lro/insightstest"
	"github.com/issuemodels/durable-lro/internal/devserver"
	"github.com/issuemodels/durable-lro/workflows"
)

// startStack starts a dev server and an emulator (opts; its clock 600x real time unless set)
// and points the worker's environment at them, as the worker binary reads it.
func startStack(t *testing.T, opts insightstest.Options) (*devserver.Server, *insightstest.Server) {
	t.Helper()
	srv := devserver.Start(t)
	if opts.Clock == nil {
		opts.Clock = insightstest.RealClock(600)
	}
	emu, err := insightstest.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emu.Close)
	t.Setenv("TEMPORAL_ADDRESS", srv.HostPort)
	t.Setenv("TEMPORAL_NAMESPACE", srv.Namespace)
	t.Setenv(insightsclient.EmulatorHostEnv, emu.Addr())
	t.Setenv(insightsclient.EndpointPatternEnv, "")
	t.Setenv("ISSUE_MODELS_CODEC_KEY", "")
	return srv, emu
}

// trainOnce runs a CreateIssueModelWorkflow of id in location, polled every second, on the
// default task queue, to its end.
func trainOnce(t *testing.T, c client.Client, id, location string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: workflows.DefaultTaskQueue},
		workflows.CreateIssueModelWorkflowType, json.RawMessage(`{"parent":"projects/p/locations/`+location+`",`+
			`"issueModel":{"displayName":"m","inputDataConfig":{"medium":"CHAT","filter":"medium=\"CHAT\""}},`+
			`"polling":{"initialInterval":"1s","maxInterval":"1s"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Get(ctx, nil); err != nil {
		t.Fatalf("run: %v", err)
	}
}
