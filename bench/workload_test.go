package main

import (
	"context"
	"math"
	"testing"
	"time"

	contactcenterinsights "cloud.google.com/go/contactcenterinsights/apiv1"
	contactcenterinsightspb "cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	longrunningpb "cloud.google.com/go/longrunning/autogen/longrunningpb"
	"github.com/googleapis/gax-go/v2"
	"google.golang.org/api/iterator"

	"github.com/issuemodels/durable-lro/insightstest"
	"github.com/issuemodels/durable-lro/workflows"
)

// The datasize workload: one batch filter per operation, conversation counts spread over at
// least a factor of 10 (at the smoke size too), lengths that follow them with the configured
// noise, the same plan for the same seed.
func TestDataSizeWorkload(t *testing.T) {
	for _, args := range [][]string{{"-workload", "datasize"}, {"-workload", "datasize", "-smoke"}} {
		cfg, err := parseFlags(args)
		if err != nil {
			t.Fatal(err)
		}
		p, again := newWorkloadPlan(cfg), newWorkloadPlan(cfg)
		lo, hi := int64(math.MaxInt64), int64(0)
		filters := map[string]bool{}
		var xs, ys []float64
		for i := range cfg.ops {
			if p.durations[i] != again.durations[i] || p.filters[i] != again.filters[i] || p.conversations[i] != again.conversations[i] {
				t.Fatalf("%q: operation %d differs between two plans of the same seed", args, i)
			}
			if p.conversations[i] != insightstest.SyntheticTrainingConversations(p.filter(i)) {
				t.Fatalf("operation %d: %d conversations, the emulator computes %d", i, p.conversations[i], insightstest.SyntheticTrainingConversations(p.filter(i)))
			}
			if d := p.durations[i]; d < cfg.minDur || d > cfg.maxDur {
				t.Fatalf("operation %d: %s outside -min..-max", i, d)
			}
			filters[p.filter(i)] = true
			lo, hi = min(lo, p.conversations[i]), max(hi, p.conversations[i])
			if d := p.durations[i]; d > cfg.minDur && d < cfg.maxDur {
				xs, ys = append(xs, math.Log(float64(p.conversations[i]))), append(ys, math.Log(d.Seconds()))
			}
		}
		if len(filters) != cfg.ops {
			t.Errorf("%q: %d distinct filters for %d operations", args, len(filters), cfg.ops)
		}
		if hi < 10*lo {
			t.Errorf("%q: conversation counts %d..%d, want a spread of at least 10x", args, lo, hi)
		}
		t.Logf("%q: %d operations, conversations %d..%d, p50 %s, longest %s", args, cfg.ops, lo, hi, p.quantile(0.5), p.longest())
		if cfg.smoke {
			continue // clipped to 1m..4m: the trend is mostly clipped away
		}
		slope, _ := fitLine(xs, ys)
		if slope < 0.7 || slope > 1.2 {
			t.Errorf("log length against log conversations: slope %.2f over %d unclipped operations, want about 1", slope, len(xs))
		}
	}
	// The independent workload is today's: one filter, the plan of newPlan.
	cfg, _ := parseFlags(nil)
	p, old := newWorkloadPlan(cfg), newPlan(cfg.ops, cfg.median, cfg.sigma, cfg.minDur, cfg.maxDur, cfg.seed)
	for i := range cfg.ops {
		if p.durations[i] != old.durations[i] || p.filter(i) != `medium="CHAT"` {
			t.Fatalf("independent operation %d: %s %q, want %s medium=\"CHAT\"", i, p.durations[i], p.filter(i), old.durations[i])
		}
	}
}

// Every strategy creates the same requests: op.Wait's (createRequest), the retry sample's
// (RetryInput) and the workflows' (CreateIssueModelInput, the default policy's and a variant's)
// have the same display name and filter, so the emulator gives them the same conversation count
// and length, in each strategy's own location.
func TestWorkloadIdenticalAcrossStrategies(t *testing.T) {
	cfg, err := parseFlags([]string{"-workload", "datasize", "-ops", "40", "-variant", `slow={"maxInterval":"90s"}`})
	if err != nil {
		t.Fatal(err)
	}
	policies, err := strategyPolicies(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := &runner{cfg: cfg, plan: newWorkloadPlan(cfg), policies: policies}
	_, c := startTestEmulator(t, r)
	ctx := context.Background()
	model := insightstest.DataSizeTrainingTime(cfg.median, dataSizeAt, cfg.sigma, cfg.seed)
	for i := range cfg.ops {
		var counts []int64
		var ends []time.Duration
		for _, s := range cfg.strategies {
			var req *contactcenterinsightspb.CreateIssueModelRequest
			switch in := r.workflowInput(s, i).(type) {
			case RetryInput:
				req = createRequest(in.Parent, in.DisplayName, in.Filter)
			case workflows.CreateIssueModelInput:
				req = &contactcenterinsightspb.CreateIssueModelRequest{Parent: in.Parent, IssueModel: in.IssueModel.Proto()}
			}
			if s == stratOpWait {
				req = createRequest(parentFor(s), displayName(i), filterFor(cfg.workload, i))
			}
			op, err := c.CreateIssueModel(ctx, req, gax.WithRetry(nil))
			if err != nil {
				t.Fatalf("%s: %v", s, err)
			}
			md, err := op.Metadata()
			if err != nil {
				t.Fatal(err)
			}
			counts = append(counts, md.GetRequest().GetIssueModel().GetInputDataConfig().GetTrainingConversationsCount())
			// The emulator gives it the plan's length (by display name), which is the data-size
			// model's for the request as the emulator echoes it, count filled in.
			if got := r.plan.trainingTimeFor(md.GetRequest()); got != r.plan.durations[i] {
				t.Fatalf("%s: operation %d planned %s, want %s", s, i, got, r.plan.durations[i])
			}
			ends = append(ends, min(max(model(md.GetRequest()), cfg.minDur), cfg.maxDur).Round(time.Second))
		}
		for k := range counts {
			if counts[k] != r.plan.conversations[i] || ends[k] != r.plan.durations[i] {
				t.Fatalf("operation %d, %s: %d conversations, %s; the plan's %d, %s", i, cfg.strategies[k], counts[k], ends[k], r.plan.conversations[i], r.plan.durations[i])
			}
		}
	}
	// The emulator holds each strategy's operations with the plan's filters.
	for _, s := range cfg.strategies {
		resp := listAll(t, c, parentFor(s))
		if len(resp) != cfg.ops {
			t.Fatalf("%s: %d operations, want %d", s, len(resp), cfg.ops)
		}
		for _, op := range resp {
			md := &contactcenterinsightspb.CreateIssueModelMetadata{}
			if err := op.GetMetadata().UnmarshalTo(md); err != nil {
				t.Fatal(err)
			}
			i, ok := opIndex(md.GetRequest().GetIssueModel().GetDisplayName())
			if !ok || md.GetRequest().GetIssueModel().GetInputDataConfig().GetFilter() != r.plan.filter(i) {
				t.Fatalf("%s: operation %q with filter %q", s, md.GetRequest().GetIssueModel().GetDisplayName(), md.GetRequest().GetIssueModel().GetInputDataConfig().GetFilter())
			}
		}
	}
}

// -history seeds every strategy's location with the same finished trainings, of the same
// workload (conversation counts spread the same), another seed, durations multiplied by
// -history-shift, ended over the last days; ListOperations returns them.
func TestHistorySeeded(t *testing.T) {
	seeded := func(args ...string) (config, map[string][]trainingRecord) {
		cfg, err := parseFlags(append([]string{"-workload", "datasize", "-strategies", "opwait,workflow,retry"}, args...))
		if err != nil {
			t.Fatal(err)
		}
		r := &runner{cfg: cfg, plan: newWorkloadPlan(cfg)}
		_, c := startTestEmulator(t, r)
		out := map[string][]trainingRecord{}
		for _, s := range cfg.strategies {
			for _, op := range listAll(t, c, parentFor(s)) {
				md := &contactcenterinsightspb.CreateIssueModelMetadata{}
				if err := op.GetMetadata().UnmarshalTo(md); err != nil || !op.GetDone() || op.GetError() != nil {
					t.Fatalf("%s: %v %v", op.GetName(), err, op.GetError())
				}
				out[s] = append(out[s], trainingRecord{
					name:          md.GetRequest().GetIssueModel().GetDisplayName(),
					conversations: md.GetRequest().GetIssueModel().GetInputDataConfig().GetTrainingConversationsCount(),
					duration:      md.GetEndTime().AsTime().Sub(md.GetCreateTime().AsTime()),
				})
			}
		}
		return cfg, out
	}
	cfg, truth := seeded("-history", "300")
	_, shifted := seeded("-history", "300", "-history-shift", "2.5")
	p := newWorkloadPlan(cfg)
	for _, s := range cfg.strategies {
		if len(truth[s]) != 300 || len(shifted[s]) != 300 {
			t.Fatalf("%s: %d and %d seeded trainings, want 300", s, len(truth[s]), len(shifted[s]))
		}
		lo, hi := int64(math.MaxInt64), int64(0)
		sameAsPlan := 0
		for k, tr := range truth[s] {
			if tr != truth[stratOpWait][k] {
				t.Fatalf("%s: training %d is %+v, opwait's %+v: every location has the same history", s, k, tr, truth[stratOpWait][k])
			}
			if _, ok := opIndex(tr.name); ok {
				t.Fatalf("history training named %q: the report would take it for an operation", tr.name)
			}
			if sh := shifted[s][k]; sh.conversations != tr.conversations || math.Abs(sh.duration.Seconds()-2.5*tr.duration.Seconds()) > 1 {
				t.Fatalf("%s: training %d lasts %s, shifted %s (conversations %d, %d); want x2.5", s, k, tr.duration, sh.duration, tr.conversations, sh.conversations)
			}
			if tr.duration < cfg.minDur || tr.duration > cfg.maxDur {
				t.Fatalf("unshifted training %d: %s outside -min..-max", k, tr.duration)
			}
			if k < len(p.durations) && tr.duration == p.durations[k] {
				sameAsPlan++
			}
			lo, hi = min(lo, tr.conversations), max(hi, tr.conversations)
		}
		if hi < 10*lo {
			t.Errorf("%s: history conversations %d..%d, want the workload's spread (>= 10x)", s, lo, hi)
		}
		if sameAsPlan > 30 {
			t.Errorf("%s: %d of 300 history trainings as long as the plan's operation of the same index: not another seed", s, sameAsPlan)
		}
	}
	// Independent workload: the history has the operations' one filter.
	_, ind := seeded("-workload", "independent", "-history", "50")
	want := insightstest.SyntheticTrainingConversations(independentFilter)
	for _, tr := range ind[stratWorkflow] {
		if tr.conversations != want {
			t.Fatalf("independent history: %d conversations, want %d", tr.conversations, want)
		}
	}
}

type trainingRecord struct {
	name          string
	conversations int64
	duration      time.Duration
}

// startTestEmulator starts r's emulator (startEmulator, -history included) on the real client;
// its clock is the bench's (scaled real time).
func startTestEmulator(t *testing.T, r *runner) (*insightstest.Server, *contactcenterinsights.Client) {
	t.Helper()
	if err := r.startEmulator(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.emu.Close)
	c, err := contactcenterinsights.NewClient(context.Background(), r.emu.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return r.emu, c
}

// listAll is every operation of parent, by ListOperations.
func listAll(t *testing.T, c *contactcenterinsights.Client, parent string) []*longrunningpb.Operation {
	t.Helper()
	var out []*longrunningpb.Operation
	it := c.ListOperations(context.Background(), &longrunningpb.ListOperationsRequest{Name: parent, PageSize: 500})
	for {
		op, err := it.Next()
		if err == iterator.Done {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, op)
	}
}
