package main

import (
	"context"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/issuemodels/durable-lro/insightstest"
	"github.com/issuemodels/durable-lro/internal/telemetry"
	"github.com/issuemodels/durable-lro/workflows"
)

// TestServeTracesARun: with tracing on, serve (the worker binary's) wires the tracing
// interceptor into its Temporal client and otelgrpc into its per-endpoint Google clients: a run
// shows RunWorkflow, its activities, and under them the Google calls.
func TestServeTracesARun(t *testing.T) {
	srv, _ := startStack(t, insightstest.Options{})
	cfg, err := parseFlags([]string{"-api-time-scale", "600"}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	cfg.tracing = telemetry.New(tp)
	defer startServe(t, cfg)()

	trainOnce(t, srv.Client, "traced", "europe-west1")
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
