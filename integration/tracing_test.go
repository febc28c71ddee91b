package integration_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	contactcenterinsights "cloud.google.com/go/contactcenterinsights/apiv1"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.temporal.io/sdk/client"
	"google.golang.org/grpc/codes"

	"github.com/issuemodels/durable-lro/insightstest"
	"github.com/issuemodels/durable-lro/internal/telemetry"
	"github.com/issuemodels/durable-lro/workflows"
)

// TestTraceOfARun: with tracing on, one run that creates (refused once by the quota, then
// accepted), polls and completes makes one trace on the dev server: the starter's
// StartWorkflow span, under it the workflow's RunWorkflow, under that each activity's
// StartActivity and RunActivity, and under each RunActivity the Google API calls it made, each
// with its gRPC status code (the refusal's RESOURCE_EXHAUSTED among them). The worker and the
// Google client use the same telemetry package as the worker binary.
func TestTraceOfARun(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	e, exp := newTracedEnv(ctx, t)
	emu := e.emu

	run := e.start(workflows.CreateIssueModelWorkflowType, createInput("traced", fastPolling))
	res := e.mustResult(run)
	if res.Outcome != workflows.OutcomeSucceeded {
		t.Fatalf("outcome %q", res.Outcome)
	}
	if n := emu.Stats().Faults["CreateIssueModel"]; n != 1 {
		t.Fatalf("CreateIssueModel faults = %d, want the one refusal", n)
	}
	// The worker ends its spans as the tasks complete; the last ones (the run's end) may land
	// just after the result.
	var spans tracetest.SpanStubs
	e.waitFor("the workflow's span to end", func() bool {
		spans = exp.GetSpans()
		return find(spans, "RunWorkflow:"+workflows.CreateIssueModelWorkflowType) != nil
	})
	checkOneTrace(t, spans)
}

// newTracedEnv starts a traced client and worker against an emulator that refuses the first
// creation by the quota; exp receives every span.
func newTracedEnv(ctx context.Context, t *testing.T) (*env, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	tr := telemetry.New(tp)
	interceptors, err := tr.Interceptors()
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.NewClientFromExisting(devServer.Client, client.Options{Logger: testLogger(t), Interceptors: interceptors})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	emu, err := insightstest.NewServer(insightstest.Options{Clock: insightstest.RealClock(timeScale), TrainingTime: trainingTime(10 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emu.Close)
	// One refusal by the quota, as Google answers a second creation in a region.
	emu.SetFaults("CreateIssueModel", insightstest.Fault{Code: codes.ResourceExhausted, Probability: 1, Times: 1})
	google, err := contactcenterinsights.NewClient(ctx, append(emu.ClientOptions(), tr.GoogleClientOptions()...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = google.Close() })
	suffix := fmt.Sprintf("%d", time.Now().UnixNano())
	e := &env{t: t, emu: emu, google: google, c: c,
		taskQueue: workflows.DefaultTaskQueue + "-trace-" + suffix, idPrefix: "itest-trace-" + suffix}
	e.worker = e.startWorker()
	return e, exp
}

// checkOneTrace checks the spans make one trace, StartWorkflow > RunWorkflow > StartActivity >
// RunActivity > Google call, and logs it with the calls' codes.
func checkOneTrace(t *testing.T, spans tracetest.SpanStubs) {
	t.Helper()
	byID := map[string]tracetest.SpanStub{}
	for _, s := range spans {
		byID[s.SpanContext.SpanID().String()] = s
	}
	parentName := func(s tracetest.SpanStub) string {
		if p, ok := byID[s.Parent.SpanID().String()]; ok {
			return p.Name
		}
		return ""
	}
	root := find(spans, "StartWorkflow:"+workflows.CreateIssueModelWorkflowType)
	if root == nil {
		t.Fatalf("no StartWorkflow span; spans: %s", names(spans))
	}
	traceID := root.SpanContext.TraceID()
	for _, s := range spans {
		if s.SpanContext.TraceID() != traceID {
			t.Errorf("span %q is in trace %s, want the run's %s", s.Name, s.SpanContext.TraceID(), traceID)
		}
	}
	wf := find(spans, "RunWorkflow:"+workflows.CreateIssueModelWorkflowType)
	if parentName(*wf) != root.Name {
		t.Errorf("RunWorkflow's parent = %q, want %q", parentName(*wf), root.Name)
	}
	// Each Google call is a child of the activity that made it, which is a child of the
	// workflow's StartActivity, a child of RunWorkflow.
	codesOf := map[string][]string{} // RPC method -> codes, in order
	for _, s := range spans {
		method, ok := strings.CutPrefix(s.Name, "google.")
		if !ok || s.SpanKind.String() != "client" {
			continue
		}
		method = method[strings.LastIndexByte(method, '/')+1:]
		act := parentName(s)
		if !strings.HasPrefix(act, "RunActivity:") {
			t.Errorf("%s's parent = %q, want a RunActivity span", s.Name, act)
			continue
		}
		start := parentName(byID[s.Parent.SpanID().String()])
		if want := "StartActivity:" + strings.TrimPrefix(act, "RunActivity:"); start != want {
			t.Errorf("%s's parent's parent = %q, want %q", s.Name, start, want)
		}
		if p := parentName(byID[byID[s.Parent.SpanID().String()].Parent.SpanID().String()]); p != wf.Name {
			t.Errorf("%s's activity was started by %q, want %q", s.Name, p, wf.Name)
		}
		codesOf[method] = append(codesOf[method], grpcCode(s.Attributes))
	}
	t.Logf("API calls by method and code: %v\nthe trace:\n%s", codesOf, tree(spans, root.SpanContext.SpanID().String(), ""))
	if got := codesOf["CreateIssueModel"]; len(got) != 2 || got[0] != "RESOURCE_EXHAUSTED" || got[1] != "OK" {
		t.Errorf("CreateIssueModel spans' codes = %v, want [RESOURCE_EXHAUSTED OK]", got)
	}
	if got := codesOf["GetOperation"]; len(got) == 0 || got[len(got)-1] != "OK" {
		t.Errorf("GetOperation spans' codes = %v, want polls ending OK", got)
	}
}

// tree draws the span id and those under it, one a line, indented by depth, in start order,
// with the Google calls' status codes.
func tree(spans tracetest.SpanStubs, id, indent string) string {
	var b strings.Builder
	var children tracetest.SpanStubs
	for _, s := range spans {
		if s.SpanContext.SpanID().String() == id {
			line := indent + s.Name
			if strings.HasPrefix(s.Name, "google.") {
				line += " " + grpcCode(s.Attributes)
			}
			fmt.Fprintf(&b, "%s (%s)\n", line, s.EndTime.Sub(s.StartTime).Round(time.Millisecond))
		}
		if s.Parent.SpanID().String() == id {
			children = append(children, s)
		}
	}
	sort.Slice(children, func(i, j int) bool { return children[i].StartTime.Before(children[j].StartTime) })
	for _, c := range children {
		b.WriteString(tree(spans, c.SpanContext.SpanID().String(), indent+"  "))
	}
	return b.String()
}

func find(spans tracetest.SpanStubs, name string) *tracetest.SpanStub {
	for i := range spans {
		if spans[i].Name == name {
			return &spans[i]
		}
	}
	return nil
}

func names(spans tracetest.SpanStubs) string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return strings.Join(out, ", ")
}

// grpcCode is the span's gRPC status code, by name, from the attribute otelgrpc sets.
func grpcCode(attrs []attribute.KeyValue) string {
	for _, a := range attrs {
		switch a.Key {
		case "rpc.grpc.status_code":
			return codes.Code(a.Value.AsInt64()).String()
		case "rpc.response.status_code":
			return a.Value.String()
		}
	}
	return "?"
}
