package main

import (
	"context"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/issuemodels/durable-lro/internal/devserver"
	"github.com/issuemodels/durable-lro/internal/telemetry"
)

// TestStartIsTraced: with tracing on, `starter start` makes the StartWorkflow span, the root of
// the run's trace, and hands its context to the run in the start's Temporal header, where the
// worker's interceptor picks it up.
func TestStartIsTraced(t *testing.T) {
	srv := devserver.Start(t)
	t.Setenv("TEMPORAL_ADDRESS", srv.HostPort)
	t.Setenv("TEMPORAL_NAMESPACE", srv.Namespace)
	t.Setenv("TEMPORAL_TASK_QUEUE", "")
	t.Setenv("ISSUE_MODELS_CODEC_KEY", "")
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	tracing = telemetry.New(tp)
	t.Cleanup(func() { tracing = nil })

	code, out, stderr := runStarter(dial, "start", "-input-file", writeTemp(t, sampleInput), "-workflow-id", "traced", "-task-queue", "nobody")
	if code != exitOK {
		t.Fatalf("start: exit %d: %s%s", code, out, stderr)
	}
	var root *tracetest.SpanStub
	for _, s := range exp.GetSpans() {
		if s.Name == "StartWorkflow:CreateIssueModelWorkflow" {
			root = &s
		}
	}
	if root == nil || root.Parent.IsValid() {
		t.Fatalf("no root StartWorkflow span: %+v", exp.GetSpans())
	}
	it := srv.Client.GetWorkflowHistory(context.Background(), "traced", "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	ev, err := it.Next()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range ev.GetWorkflowExecutionStartedEventAttributes().GetHeader().GetFields() {
		found = found || strings.Contains(string(p.GetData()), root.SpanContext.TraceID().String())
	}
	if !found {
		t.Fatalf("the run's header %v does not carry the trace %s", ev.GetWorkflowExecutionStartedEventAttributes().GetHeader(), root.SpanContext.TraceID())
	}
}
