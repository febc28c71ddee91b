package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	contactcenterinsightspb "cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	"go.temporal.io/api/serviceerror"

	"github.com/issuemodels/durable-lro/internal/cluster"
)

// TestMain lets the test binary play the bench's subprocess roles (-role opwait,
// -role retryworker): the bench re-executes its own binary for them.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "-role" {
		os.Exit(run(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// TestSmoke runs the bench's smoke size end to end (dev server, emulator, the worker binary,
// op.Wait and retry-worker subprocesses) and checks what must hold whatever the timings: every
// strategy completed every operation, each operation was polled, history was measured for the
// Temporal strategies, and the table, JSON and plot were produced. It asserts no timing.
func TestSmoke(t *testing.T) {
	dir := t.TempDir()
	jsonFile, plotFile := filepath.Join(dir, "bench.json"), filepath.Join(dir, "bench.png")
	cfg, err := parseFlags([]string{"-smoke", "-json", jsonFile, "-plot", plotFile, "-variant", `slow={"maxInterval":"90s","ageFraction":0.1}`})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := runBench(ctx, cfg, &out); err != nil {
		t.Fatalf("bench: %v\noutput:\n%s", err, out.String())
	}
	t.Logf("bench output:\n%s", out.String())

	rep := readReport(t, jsonFile)
	want := []string{stratOpWait, stratWorkflow, "workflow-slow", stratRetry}
	if len(rep.Results) != len(want) {
		t.Fatalf("%d results, want %d", len(rep.Results), len(want))
	}
	for k, r := range rep.Results {
		if r.Strategy != want[k] {
			t.Errorf("result %d is %q, want %q", k, r.Strategy, want[k])
		}
		if r.Ops != 20 || r.Completed != r.Ops || r.Lost != 0 {
			t.Errorf("%s: ops %d, completed %d, lost %d (%v)", r.Strategy, r.Ops, r.Completed, r.Lost, r.Failures)
		}
		if len(r.PerOp) != r.Ops {
			t.Errorf("%s: the emulator recorded %d operations, want %d", r.Strategy, len(r.PerOp), r.Ops)
		}
		for _, o := range r.PerOp {
			if o.Calls < 1 || o.Lag < 0 || o.Duration <= 0 {
				t.Errorf("%s: operation %d: %d GetOperation calls, lag %v, duration %v", r.Strategy, o.Index, o.Calls, o.Lag, o.Duration)
			}
		}
		if r.CallsPerOp < 1 || r.GetOperationRejected != 0 || r.PeakConcurrent < 1 || r.PeakGetOpPerMin <= 0 {
			t.Errorf("%s: calls/op %v, rejected %d, peak concurrent %d, peak rate %v", r.Strategy, r.CallsPerOp,
				r.GetOperationRejected, r.PeakConcurrent, r.PeakGetOpPerMin)
		}
		if r.WorkerCPUSeconds <= 0 || r.WorkerRSSMiB <= 0 || r.Throughput <= 0 {
			t.Errorf("%s: worker CPU %v s, RSS %v MiB, throughput %v", r.Strategy, r.WorkerCPUSeconds, r.WorkerRSSMiB, r.Throughput)
		}
		wantHistory := r.Strategy != stratOpWait
		if r.HasHistory != wantHistory {
			t.Errorf("%s: hasHistory %v", r.Strategy, r.HasHistory)
		}
		if wantHistory && (r.Runs < r.Ops || r.EventsPerOp <= 0 || r.EventsPerPoll <= 0 || r.LargestRun <= 0) {
			t.Errorf("%s: runs %d, events/op %v, events/poll %v, largest run %d", r.Strategy, r.Runs, r.EventsPerOp, r.EventsPerPoll, r.LargestRun)
		}
		if !strings.Contains(out.String(), r.Label) {
			t.Errorf("the table has no row %q", r.Label)
		}
	}
	// The variant polls less often than the default policy on the same operations.
	if v, d := rep.Results[2], rep.Results[1]; v.GetOperationCalls >= d.GetOperationCalls {
		t.Errorf("variant %q made %d GetOperation calls, the default policy %d", v.Label, v.GetOperationCalls, d.GetOperationCalls)
	}
	if got := strings.Count(out.String(), "\ntarget: "); got != len(rep.Targets) || got < 6 {
		t.Errorf("%d target lines for %d targets", got, len(rep.Targets))
	}
	f, err := os.Open(plotFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("plot: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 400 || b.Dy() < 200 {
		t.Errorf("plot is %v", b)
	}
}

func TestPlanIsSeededAndClipped(t *testing.T) {
	a := newPlan(500, 20*time.Minute, 1.5, 2*time.Minute, 3*time.Hour, 7)
	b := newPlan(500, 20*time.Minute, 1.5, 2*time.Minute, 3*time.Hour, 7)
	c := newPlan(500, 20*time.Minute, 1.5, 2*time.Minute, 3*time.Hour, 8)
	same, clippedLo, clippedHi := true, 0, 0
	for i, d := range a.durations {
		if d != b.durations[i] {
			t.Fatalf("same seed, different plans at %d", i)
		}
		same = same && d == c.durations[i]
		if d < 2*time.Minute || d > 3*time.Hour {
			t.Fatalf("duration %v outside the clip", d)
		}
		if d == 2*time.Minute {
			clippedLo++
		}
		if d == 3*time.Hour {
			clippedHi++
		}
	}
	if same || clippedLo == 0 || clippedHi == 0 {
		t.Errorf("other seed same plan: %v; clipped low %d, high %d", same, clippedLo, clippedHi)
	}
	if m := a.quantile(0.5); m < 15*time.Minute || m > 26*time.Minute {
		t.Errorf("median %v, want about 20m", m)
	}
	req := &contactcenterinsightspb.CreateIssueModelRequest{IssueModel: &contactcenterinsightspb.IssueModel{DisplayName: displayName(42)}}
	if got := a.trainingTimeFor(req); got != a.durations[42] {
		t.Errorf("trainingTimeFor(%s) = %v, want %v", displayName(42), got, a.durations[42])
	}
	if i, ok := opIndex(displayName(12345)); !ok || i != 12345 {
		t.Errorf("opIndex round trip: %d %v", i, ok)
	}
	if _, ok := opIndex("weekly"); ok {
		t.Error("opIndex accepted a foreign name")
	}
}

func TestScaledDefaultPolicy(t *testing.T) {
	p, err := scaledDefaultPolicy(1)
	if err != nil {
		t.Fatal(err)
	}
	q, err := scaledDefaultPolicy(2)
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := time.ParseDuration(p.MaxInterval)
	d2, _ := time.ParseDuration(q.MaxInterval)
	if d2*2 != d1 {
		t.Errorf("max interval %v at scale 1, %v at scale 2", d1, d2)
	}
	if _, err := scaledDefaultPolicy(1e6); err == nil || !strings.Contains(err.Error(), "1s minimum") {
		t.Errorf("scale 1e6: %v", err)
	}
}

func TestStats(t *testing.T) {
	if s, a := fitLine([]float64{1, 2, 3, 4}, []float64{13, 19, 25, 31}); s != 6 || a != 7 {
		t.Errorf("fitLine = %v, %v; want 6, 7", s, a)
	}
	xs := []float64{5, 1, 4, 2, 3}
	if quantile(xs, 0.5) != 3 || quantile(xs, 0.99) != 5 || quantile(xs, 0) != 1 || quantile(nil, 0.5) != 0 {
		t.Error("quantile")
	}
}

func TestFlags(t *testing.T) {
	cfg, err := parseFlags([]string{"-strategies", "retry,opwait"})
	if err != nil || strings.Join(cfg.strategies, ",") != "opwait,retry" || cfg.ops != 300 {
		t.Errorf("%+v %v", cfg.strategies, err)
	}
	cfg, err = parseFlags([]string{"-strategies", "workflow", "-variant", `max60s={"maxInterval":"1m"}`, "-variant", `nojit={"jitter":0}`})
	if err != nil || strings.Join(cfg.strategies, ",") != "workflow,workflow-max60s,workflow-nojit" {
		t.Errorf("variants: %v %v", cfg.strategies, err)
	}
	if got := labelFor("workflow-max60s", cfg.variants); got != "workflow max60s (maxInterval 1m)" {
		t.Errorf("label %q", got)
	}
	if cfg.server != serverDev || cfg.workers != 1 {
		t.Errorf("defaults: -temporal %q, -workers %d; want dev, 1", cfg.server, cfg.workers)
	}
	cfg, err = parseFlags([]string{"-temporal", "cluster", "-workers", "3", "-strategies", "workflow"})
	if err != nil || cfg.server != serverCluster || cfg.workers != 3 {
		t.Errorf("-temporal cluster -workers 3: %q %d %v", cfg.server, cfg.workers, err)
	}
	for _, bad := range [][]string{{"-strategies", "cron"}, {"-ops", "0"}, {"-temporal", "prod"}, {"-workers", "0"}, {"-quota", "3001"}, {"-scale", "0.5"}, {"extra"},
		{"-variant", `Max={"maxInterval":"1m"}`}, {"-variant", `a={"maxInterval":"1x"}`}, {"-variant", `a={"interval":"1m"}`},
		{"-variant", `a={"maxInterval":"1s"}`}, {"-variant", `a={}`, "-variant", `a={}`}} {
		if _, err := parseFlags(bad); err == nil {
			t.Errorf("parseFlags(%q) succeeded", bad)
		}
	}
}

// TestProcCPUSeconds reads this test process's CPU time from /proc (procfs), as the bench reads
// the dev server's.
func TestProcCPUSeconds(t *testing.T) {
	// The kernel counts in ticks of 10 ms: spin until one is counted.
	cpu, x := 0.0, 0
	for i := 0; i < 1000 && cpu <= 0; i++ {
		for j := range 1_000_000 {
			x ^= j
		}
		cpu = procCPUSeconds(os.Getpid())
	}
	if cpu <= 0 {
		t.Errorf("procCPUSeconds(self) = %v after spinning (%d), want > 0", cpu, x)
	}
	if cpu := procCPUSeconds(0); cpu != 0 {
		t.Errorf("procCPUSeconds(0) = %v, want 0", cpu)
	}
}

// TestWorkerEnv: the workers are given the budget (98 % of -quota, scaled) as the limits the
// server holds, per project and for the queue, whatever their number.
func TestWorkerEnv(t *testing.T) {
	for _, workers := range []int{1, 3} {
		cfg, err := parseFlags([]string{"-workers", fmt.Sprint(workers)})
		if err != nil {
			t.Fatal(err)
		}
		env := "\x00" + strings.Join(workerEnv(cfg, "127.0.0.1:7233", "default", "tq", "127.0.0.1:1"), "\x00") + "\x00"
		for _, want := range []string{"INSIGHTS_API_TIME_SCALE=10", "PROJECT_REQUESTS_PER_SECOND=392", "TASK_QUEUE_ACTIVITIES_PER_SECOND=392"} {
			if !strings.Contains(env, "\x00"+want+"\x00") {
				t.Errorf("-workers %d: env %q lacks %s", workers, env, want)
			}
		}
		if strings.Contains(env, "POLLS_PER_SECOND=") {
			t.Errorf("-workers %d: env %q names a budget the worker refuses", workers, env)
		}
	}
}

// TestTreeCPUSeconds: a process tree's CPU time counts the process itself.
func TestTreeCPUSeconds(t *testing.T) {
	self := procCPUSeconds(os.Getpid())
	if tree := treeCPUSeconds(os.Getpid()); tree < self {
		t.Errorf("treeCPUSeconds(self) = %v, under procCPUSeconds(self) = %v", tree, self)
	}
	if cpu := treeCPUSeconds(0); cpu != 0 {
		t.Errorf("treeCPUSeconds(0) = %v, want 0", cpu)
	}
}

// TestCluster runs a tiny workflow bench on the production shape (-temporal cluster: a Temporal
// server on PostgreSQL) with three workers sharing the poll budget, and checks what must hold
// whatever the timings: every operation completed, the server and PostgreSQL CPU were measured
// and the table says which server it ran against. It takes about 40 s (PostgreSQL and the
// server start in about 10 s); -short skips it.
func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the cluster takes about 30 s to start")
	}
	jsonFile := filepath.Join(t.TempDir(), "bench.json")
	cfg, err := parseFlags([]string{"-smoke", "-strategies", "workflow", "-temporal", "cluster", "-workers", "3", "-json", jsonFile})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var out bytes.Buffer
	err = runBench(ctx, cfg, &out)
	if errors.Is(err, cluster.ErrNoPostgres) {
		t.Skipf("SKIPPED, NOT TESTED: the cluster needs PostgreSQL (apt-get install postgresql, as root): %v", err)
	}
	if err != nil {
		t.Fatalf("bench: %v\noutput:\n%s", err, out.String())
	}
	t.Logf("bench output:\n%s", out.String())
	if !strings.Contains(out.String(), "server: cluster (Temporal 1.29.1 on PostgreSQL") || !strings.Contains(out.String(), "workers: 3") {
		t.Errorf("the table does not say it ran on the cluster with 3 workers")
	}
	if !strings.Contains(out.String(), "db CPU-s/1k") || !strings.Contains(out.String(), "held by the Temporal server") {
		t.Errorf("the table has no db CPU column or no note of the server-held budget")
	}
	rep := readReport(t, jsonFile)
	if !strings.HasPrefix(rep.Server, "cluster (") || rep.Workers != 3 || rep.ServerCPUSeconds <= 0 || rep.DBCPUSeconds <= 0 {
		t.Errorf("server %q, workers %d, server CPU %v s, PostgreSQL CPU %v s", rep.Server, rep.Workers, rep.ServerCPUSeconds, rep.DBCPUSeconds)
	}
	if len(rep.Results) != 1 {
		t.Fatalf("%d results, want 1", len(rep.Results))
	}
	r := rep.Results[0]
	if r.Completed != 20 || r.Lost != 0 || r.Throughput <= 0 || r.WorkerCPUSeconds <= 0 || r.ServerCPUSeconds <= 0 || r.DBCPUSeconds <= 0 || r.CallsPerOp < 1 {
		t.Errorf("%s: completed %d, lost %d, %v ops/s, worker CPU %v s, server CPU %v s, PostgreSQL CPU %v s, calls/op %v (%v)",
			r.Strategy, r.Completed, r.Lost, r.Throughput, r.WorkerCPUSeconds, r.ServerCPUSeconds, r.DBCPUSeconds, r.CallsPerOp, r.Failures)
	}
}

// readReport reads a report the bench wrote with -json.
func readReport(t *testing.T, file string) Report {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var rep Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	return rep
}

// TestStartRetryingOutlastsASlowServer: starts past the client's deadline are tried again, a
// start whose earlier attempt took counts as started, and a refusal ends at once.
func TestStartRetryingOutlastsASlowServer(t *testing.T) {
	ctx := context.Background()
	deadline := time.Now().Add(time.Minute)
	calls := 0
	err := startRetrying(ctx, deadline, func(context.Context) error {
		calls++
		if calls == 1 {
			return context.DeadlineExceeded
		}
		return serviceerror.NewWorkflowExecutionAlreadyStarted("started", "", "")
	})
	if err != nil || calls != 2 {
		t.Fatalf("a start past its deadline, then found started: err %v after %d calls, want nil after 2", err, calls)
	}
	calls = 0
	refused := serviceerror.NewInvalidArgument("bad input")
	err = startRetrying(ctx, deadline, func(context.Context) error { calls++; return refused })
	if !errors.Is(err, refused) || calls != 1 {
		t.Fatalf("a refused start: err %v after %d calls, want the refusal after 1", err, calls)
	}
}
