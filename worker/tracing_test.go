package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.temporal.io/sdk/client"

	"github.com/issuemodels/durable-lro/insightsclient"
	"github.com/issuemodels/durable-lro/insightstest"
	"github.com/issuemodels/durable-lro/internal/devserver"
	"github.com/issuemodels/durable-lro/internal/telemetry"
	"github.com/issuemodels/durable-lro/workflows"
)

// TestServeTracesARun: with tracing on, serve (the worker binary's) wires the tracing
// interceptor into its Temporal client and otelgrpc into its per-endpoint Google clients: a run
// shows RunWorkflow, its activities, and under them the Google calls.
func TestServeTracesARun(t *testing.T) {
	srv := devserver.Start(t)
	emu, err := insightstest.NewServer(insightstest.Options{Clock: insightstest.RealClock(600)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emu.Close)
	t.Setenv("TEMPORAL_ADDRESS", srv.HostPort)
	t.Setenv("TEMPORAL_NAMESPACE", srv.Namespace)
	t.Setenv(insightsclient.EmulatorHostEnv, emu.Addr())
	t.Setenv(insightsclient.EndpointPatternEnv, "")
	t.Setenv("ISSUE_MODELS_CODEC_KEY", "")
	cfg, err := parseFlags([]string{"-api-time-scale", "600"}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	cfg.tracing = telemetry.New(tp)
	defer startServe(t, cfg)()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	run, err := srv.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "traced", TaskQueue: workflows.DefaultTaskQueue},
		workflows.CreateIssueModelWorkflowType, json.RawMessage(`{"parent":"projects/p/locations/europe-west1",`+
			`"issueModel":{"displayName":"m","inputDataConfig":{"medium":"CHAT","filter":"medium=\"CHAT\""}},`+
			`"polling":{"initialInterval":"1s","maxInterval":"1s"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Get(ctx, nil); err != nil {
		t.Fatalf("run: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		byID, byName := map[string]tracetest.SpanStub{}, map[string]tracetest.SpanStub{}
		for _, s := range exp.GetSpans() {
			byID[s.SpanContext.SpanID().String()], byName[s.Name] = s, s
		}
		create, ok := byName["google.cloud.contactcenterinsights.v1.ContactCenterInsights/CreateIssueModel"]
		_, done := byName["RunWorkflow:"+workflows.CreateIssueModelWorkflowType]
		if ok && done {
			chain := []string{create.Name}
			for s := create; s.Parent.IsValid(); {
				s = byID[s.Parent.SpanID().String()]
				chain = append(chain, s.Name)
			}
			want := []string{create.Name, "RunActivity:CreateIssueModel", "StartActivity:CreateIssueModel", "RunWorkflow:" + workflows.CreateIssueModelWorkflowType}
			if strings.Join(chain, " < ") != strings.Join(want, " < ") {
				t.Fatalf("the create's span and its ancestors: %v, want %v", chain, want)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no CreateIssueModel span under a RunWorkflow span; spans: %d", len(exp.GetSpans()))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
