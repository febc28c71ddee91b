package telemetry_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/issuemodels/durable-lro/internal/telemetry"
	"github.com/issuemodels/durable-lro/workflows"
)

// TestRecordedHistoriesReplayWithTheInterceptor: the tracing interceptor adds no command, so
// every recorded history (workflows/testdata/histories, recorded without it) replays on a
// replayer that has it, as a traced worker meets runs started before tracing was turned on.
func TestRecordedHistoriesReplayWithTheInterceptor(t *testing.T) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(tracetest.NewInMemoryExporter()))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	cis, err := telemetry.New(tp).Interceptors()
	if err != nil {
		t.Fatal(err)
	}
	var wis []interceptor.WorkerInterceptor
	for _, ci := range cis {
		wis = append(wis, ci.(interceptor.WorkerInterceptor))
	}
	files, err := filepath.Glob("../../workflows/testdata/histories/*/*.history.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no recorded histories: %v", err)
	}
	quiet := log.NewStructuredLogger(slog.New(slog.DiscardHandler))
	for _, f := range files {
		var meta struct{ WorkflowID, RunID string }
		b, err := os.ReadFile(strings.TrimSuffix(f, ".history.json") + ".meta.json")
		if err != nil || json.Unmarshal(b, &meta) != nil {
			t.Fatalf("%s: meta: %v", f, err)
		}
		r, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		h, err := client.HistoryFromJSON(r, client.HistoryJSONOptions{})
		r.Close()
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		rp, err := worker.NewWorkflowReplayerWithOptions(worker.WorkflowReplayerOptions{Interceptors: wis})
		if err != nil {
			t.Fatal(err)
		}
		workflows.RegisterWorkflows(rp)
		if err := rp.ReplayWorkflowHistoryWithOptions(quiet, h, worker.ReplayWorkflowHistoryOptions{
			OriginalExecution: workflow.Execution{ID: meta.WorkflowID, RunID: meta.RunID},
		}); err != nil {
			t.Errorf("%s does not replay with the tracing interceptor: %v", f, err)
		}
	}
	t.Logf("replayed %d recorded histories with the tracing interceptor", len(files))
}
