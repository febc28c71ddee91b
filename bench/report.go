package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/issuemodels/durable-lro/insightstest"
	"github.com/issuemodels/durable-lro/insightstest/record"
	"github.com/issuemodels/durable-lro/workflows"
)

// Report is everything the bench measured; -json writes it.
type Report struct {
	Command      string    `json:"command"`
	Date         time.Time `json:"date"`
	Machine      Machine   `json:"machine"`
	Ops          int       `json:"ops"`
	Scale        float64   `json:"scale"`
	Seed         int64     `json:"seed"`
	Distribution string    `json:"distribution"`
	// Workload is -workload (empty in reports from before it: independent); History and
	// HistoryShift are -history and -history-shift (absent: none).
	Workload     string  `json:"workload,omitempty"`
	History      int     `json:"history,omitempty"`
	HistoryShift float64 `json:"historyShift,omitempty"`
	// ListOperationsCounted: the results count ListOperations calls (false in reports from
	// before they did: their ListOps/op column prints "n/a").
	ListOperationsCounted bool            `json:"listOperationsCounted,omitempty"`
	Durations             DurationSummary `json:"durations"`
	// Quota is -quota: the API budget per emulated minute. BudgetHeldByServer says it holds every
	// call, held by the Temporal server; reports without it gave GetOperation this budget, paced
	// by the workers, and the creations their own, CreateRPM.
	Quota              int                     `json:"quotaGetOperationPerMinute"`
	BudgetHeldByServer bool                    `json:"budgetHeldByServer,omitempty"`
	CreateRPM          int                     `json:"createRequestsPerMinute,omitempty"`
	APIRPM             int                     `json:"apiRequestsPerMinutePerProject"`
	Sequential         bool                    `json:"sequential"`
	Policy             workflows.PollingPolicy `json:"defaultPolicy"`
	ScaledPolicy       workflows.PollingPolicy `json:"scaledPolicy"`
	// Variants are the other policies run as strategies workflow-NAME (emulated time).
	Variants   []variant `json:"variants,omitempty"`
	RetryEvery string    `json:"retryInterval"`
	// Server is the Temporal server the bench ran against, e.g. "cluster (Temporal 1.29.1 on
	// PostgreSQL 17, 4 history shards)" (empty in reports from before -temporal: the dev
	// server); Workers is the worker processes per workflow strategy (0 in those: 1).
	Server  string `json:"server,omitempty"`
	Workers int    `json:"workers,omitempty"`
	// ServerCPUSeconds is the Temporal server's CPU time over all phases (the dev server's, or
	// the cluster's temporal-server process's).
	ServerCPUSeconds float64 `json:"serverCpuSeconds"`
	// DBCPUSeconds is PostgreSQL's CPU time over all phases (all its processes), on the
	// cluster; absent without one.
	DBCPUSeconds float64   `json:"dbCpuSeconds,omitempty"`
	WallSeconds  float64   `json:"wallSeconds"`
	Results      []*Result `json:"results"`
	Targets      []Target  `json:"targets"`
	Notes        []string  `json:"notes"`
	byName       map[string]*Result
}

// Machine describes where the bench ran.
type Machine struct {
	CPUs      int     `json:"cpus"`
	MemoryGiB float64 `json:"memoryGiB"`
	CPUModel  string  `json:"cpuModel,omitempty"`
	GoVersion string  `json:"goVersion"`
	OS        string  `json:"os"`
}

// DurationSummary summarizes the planned training times (emulated).
type DurationSummary struct {
	P50     string `json:"p50"`
	P90     string `json:"p90"`
	P99     string `json:"p99"`
	Longest string `json:"longest"`
}

// Result is one strategy's row. Lags are in seconds of emulated time (the API's own clock).
type Result struct {
	Strategy  string `json:"strategy"`
	Label     string `json:"label"`
	Ops       int    `json:"ops"`
	Completed int    `json:"completed"`
	// Lost: the strategy gave up on the operation (an error); Unfinished: it was still waiting
	// when the bench's deadline stopped it (counted in Lost too).
	Lost       int `json:"lost"`
	Unfinished int `json:"unfinished"`
	// Failures: why operations were lost (first few).
	Failures []string `json:"failures,omitempty"`
	// GetOperationCalls were answered by the emulator for this strategy's operations;
	// GetOperationRejected were refused before (the API's request limit).
	GetOperationCalls    int64   `json:"getOperationCalls"`
	GetOperationRejected int64   `json:"getOperationRejected"`
	CallsPerOp           float64 `json:"callsPerOp"`
	// ListOperationsCalls were received (rejected ones included) from this strategy's project:
	// the learned polling's scan of the location's history, and the creation's duplicate lookup
	// after a retry; absent in reports from before they were counted. AllCallsPerOp is
	// (GetOperation + ListOperations) per operation: the calls compared with op.Wait's.
	ListOperationsCalls int64   `json:"listOperationsCalls,omitempty"`
	ListCallsPerOp      float64 `json:"listOperationsCallsPerOp,omitempty"`
	AllCallsPerOp       float64 `json:"allCallsPerOp,omitempty"`
	CallsPerOpHour      float64 `json:"callsPerOpHour"`
	LagP50              float64 `json:"lagP50Seconds"`
	LagP99              float64 `json:"lagP99Seconds"`
	LagMax              float64 `json:"lagMaxSeconds"`
	RelLagP50           float64 `json:"relativeLagP50"`
	RelLagP99           float64 `json:"relativeLagP99"`
	// History (Temporal strategies): events per operation (all runs of its chain), per
	// GetOperation call, and the longest single run.
	HasHistory    bool    `json:"hasHistory"`
	Runs          int     `json:"runs,omitempty"`
	EventsPerOp   float64 `json:"eventsPerOp,omitempty"`
	EventsPerPoll float64 `json:"eventsPerPoll,omitempty"`
	// MarginalEventsPerPoll and FixedEvents fit events = fixed + marginal x calls over the
	// operations (least squares): what one more poll costs, and what a run costs besides polls.
	MarginalEventsPerPoll float64 `json:"marginalEventsPerPoll,omitempty"`
	FixedEvents           float64 `json:"fixedEvents,omitempty"`
	LargestRun            int64   `json:"largestRun,omitempty"`
	// Worker process (the process that polls): CPU-seconds and peak RSS, and per 1,000 ops.
	WorkerCPUSeconds float64 `json:"workerCpuSeconds"`
	WorkerRSSMiB     float64 `json:"workerMaxRssMiB"`
	CPUPer1k         float64 `json:"workerCpuSecondsPer1kOps"`
	RSSPer1kMiB      float64 `json:"workerRssMiBPer1kOps"`
	// ServerCPUSeconds: the Temporal server's CPU during this phase (-1: phases ran side by
	// side); DBCPUSeconds: PostgreSQL's (cluster only, absent without; -1: side by side).
	ServerCPUSeconds float64 `json:"serverCpuSeconds"`
	DBCPUSeconds     float64 `json:"dbCpuSeconds,omitempty"`
	WallSeconds      float64 `json:"wallSeconds"`
	Throughput       float64 `json:"throughputOpsPerSecond"`
	// PeakGetOpPerMin is the largest number of GetOperation calls received in one second of
	// real time, expressed per minute of emulated time (x 60 / scale), to compare with the
	// quota; PeakConcurrent is the largest number of this strategy's operations running at once.
	PeakGetOpPerMin float64 `json:"peakGetOperationPerMinute"`
	// PeakGetOpPerEmulatedMinute is the most GetOperation calls received in any window of one
	// emulated minute (60/scale s of real time, in whole seconds): the quota's own unit.
	PeakGetOpPerEmulatedMinute int64 `json:"peakGetOperationPerEmulatedMinute"`
	// PeakCallsPerEmulatedMinute is the same for every call of the strategy's project (polls,
	// creations, lists, cancels): what the budget holds; Refused is how many of them the
	// emulator refused with RESOURCE_EXHAUSTED. Absent in reports from before they were counted.
	PeakCallsPerEmulatedMinute int64 `json:"peakCallsPerEmulatedMinute,omitempty"`
	Refused                    int64 `json:"refused,omitempty"`
	PeakConcurrent             int   `json:"peakConcurrentOperations"`
	// MaxBacklog is the largest workflow-task backlog seen on the strategy's task queue (sampled
	// every 10 s) and MaxBacklogAge its oldest task: non-zero means the server or the worker
	// could not keep up.
	MaxBacklog    int64      `json:"maxWorkflowTaskBacklog"`
	MaxBacklogAge float64    `json:"maxWorkflowTaskBacklogAgeSeconds"`
	PerOp         []OpResult `json:"perOp"`
}

// OpResult is one operation as the emulator saw it.
type OpResult struct {
	Index    int     `json:"i"`
	Duration float64 `json:"durationSeconds"`
	Calls    int64   `json:"calls"`
	// Lag is firstDoneServed - end (emulated seconds); -1 when no caller saw it done.
	Lag float64 `json:"lagSeconds"`
	// Events is the history length of the operation's workflow (all its runs).
	Events int64 `json:"events,omitempty"`
}

// Target is one of the targets, met or not.
type Target struct {
	Name   string `json:"name"`
	Status string `json:"status"` // met, NOT MET, not measured
	Detail string `json:"detail"`
}

func (r *runner) report(phases map[string]*phase, cpu serverCPU, wall time.Duration) *Report {
	cfg := r.cfg
	rep := &Report{
		Command: "go run ./bench " + strings.Join(os.Args[1:], " "),
		Date:    time.Now().UTC().Truncate(time.Second),
		Machine: machine(),
		Ops:     cfg.ops, Scale: cfg.scale, Seed: cfg.seed,
		Distribution: distribution(cfg),
		Workload:     cfg.workload, History: cfg.history, HistoryShift: cfg.historyShift, ListOperationsCounted: true,
		Durations: DurationSummary{P50: r.plan.quantile(0.5).String(), P90: r.plan.quantile(0.9).String(),
			P99: r.plan.quantile(0.99).String(), Longest: r.plan.longest().String()},
		Quota: cfg.quota, BudgetHeldByServer: true, APIRPM: cfg.apiRPM, Sequential: cfg.sequential,
		Policy: workflows.DefaultPollingPolicy(), ScaledPolicy: r.policies[stratWorkflow], Variants: cfg.variants,
		RetryEvery:       cfg.retryEvery.String(),
		Server:           r.serverDescription(),
		Workers:          cfg.workers,
		ServerCPUSeconds: cpu.Server,
		DBCPUSeconds:     max(cpu.DB, 0),
		WallSeconds:      wall.Seconds(),
		byName:           map[string]*Result{},
	}
	for _, s := range cfg.strategies {
		p := phases[s]
		res := r.result(p)
		rep.Results = append(rep.Results, res)
		rep.byName[s] = res
	}
	rep.Targets = rep.targets()
	rep.Notes = []string{
		fmt.Sprintf("emulator: creation quotas lifted (MaxConcurrentCreates and MaxModels unlimited); one project per strategy, each limited to %d requests per emulated minute", cfg.apiRPM),
		fmt.Sprintf("time scale %g: the emulator's clock runs %gx wall time and every interval is divided by %g; lags are in emulated time, so 100 ms of real latency shows as %s", cfg.scale, cfg.scale, cfg.scale, time.Duration(float64(100*time.Millisecond)*cfg.scale)),
		workerNote(cfg),
	}
	rep.Notes = append(rep.Notes, "calls/op (scan incl.) = GetOperation + ListOperations calls per operation, and \"vs op.Wait\" compares it with op.Wait's: ListOperations is the learned polling's scan of the location's finished trainings (the creation's duplicate lookup after a retry too); every ListOperations call received from the strategy's project counts, rejected ones included")
	for _, res := range rep.Results {
		if res.ListOperationsCalls > 0 {
			rep.Notes = append(rep.Notes, fmt.Sprintf("learning (%s): %d ListOperations calls, %.2f per operation", res.Strategy, res.ListOperationsCalls, res.ListCallsPerOp))
		}
	}
	if cfg.workers > 1 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("workers: %d worker processes per workflow strategy; their CPU-seconds and peak RSS are summed over the processes (the retry sample has one worker)", cfg.workers))
	}
	if len(cfg.variants) > 0 {
		rep.Notes = append(rep.Notes, "variants: each has its own worker with the same budgets, task queue and project; their targets are not judged (only the default policy's are)")
	}
	if temporal := len(cfg.strategies) - btoi(slices.Contains(cfg.strategies, stratOpWait)); !cfg.sequential && temporal > 1 {
		db := ""
		if cpu.DB >= 0 {
			db = fmt.Sprintf(" (and PostgreSQL's %.1f)", cpu.DB)
		}
		rep.Notes = append(rep.Notes, fmt.Sprintf("strategies ran side by side; the %s server's %.1f CPU-seconds%s are shared by the Temporal strategies (-sequential attributes them)", cfg.server, cpu.Server, db))
	}
	if cpu.DB >= 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("server CPU: the temporal-server process's; db CPU: PostgreSQL's, the postmaster and all its backends (live and ended), %.1f CPU-seconds in all", cpu.DB))
	}
	return rep
}

// distribution describes cfg's workload for the report.
func distribution(cfg config) string {
	d := fmt.Sprintf("lognormal, median %s, sigma %g, clipped to %s..%s (emulated)", cfg.median, cfg.sigma, cfg.minDur, cfg.maxDur)
	if cfg.workload == workloadDataSize {
		d = fmt.Sprintf("datasize: median %s per %d conversations x conversations (log-uniform %d..%d, one batch filter per operation), lognormal noise sigma %g, clipped to %s..%s (emulated)",
			cfg.median, dataSizeAt, insightstest.SyntheticConversationsMin, insightstest.SyntheticConversationsMax, cfg.sigma, cfg.minDur, cfg.maxDur)
	}
	if cfg.history > 0 {
		d += fmt.Sprintf("; history: %d finished trainings per location, same workload, durations x %g", cfg.history, cfg.historyShift)
	}
	return d
}

// allCallsPerOp is the calls per operation compared with op.Wait's: GetOperation and
// ListOperations (the scan) together; reports from before ListOperations was counted have only
// the first.
func (r *Result) allCallsPerOp() float64 {
	return r.CallsPerOp + r.ListCallsPerOp
}

func (r *runner) result(p *phase) *Result {
	s := p.strategy
	res := &Result{Strategy: s, Label: labelFor(s, r.cfg.variants), Ops: r.cfg.ops, Completed: len(p.completed), ServerCPUSeconds: p.serverCPU}
	if r.cluster != nil {
		res.DBCPUSeconds = p.dbCPU
	}
	res.Lost = res.Ops - res.Completed
	res.Unfinished = len(p.unfinished)
	res.Failures = p.firstFailures(r.cfg.ops, 5)
	lags, rels, totalHours := r.addOperations(res, r.rec.Operations(parentFor(s)))
	for _, c := range r.rec.CallsPerSecond("ListOperations", projectFor(s)) {
		res.ListOperationsCalls += c.Calls
	}
	if res.Ops > 0 {
		res.CallsPerOp = float64(res.GetOperationCalls) / float64(res.Ops)
		res.ListCallsPerOp = float64(res.ListOperationsCalls) / float64(res.Ops)
		res.AllCallsPerOp = res.CallsPerOp + res.ListCallsPerOp
	}
	if totalHours > 0 {
		res.CallsPerOpHour = float64(res.GetOperationCalls) / totalHours
	}
	res.LagP50, res.LagP99, res.LagMax = quantile(lags, 0.5), quantile(lags, 0.99), quantile(lags, 1)
	res.RelLagP50, res.RelLagP99 = quantile(rels, 0.5), quantile(rels, 0.99)
	r.addCallPeaks(res, projectFor(s))

	if p.runs != nil {
		res.addHistory(p.runs, "bench-"+s+"-")
	}
	res.addProcess(p)
	return res
}

// addOperations adds the phase's created operations (recs) to res: one OpResult each, their
// GetOperation calls and peak concurrency. It returns their lags (seconds from the end to the
// first caller to see it done), lags relative to the durations, and the durations' total hours.
func (r *runner) addOperations(res *Result, recs []record.Operation) (lags, rels []float64, totalHours float64) {
	var edges []concurrencyEdge
	for _, rec := range recs {
		i, ok := opIndex(rec.DisplayName)
		if rec.Kind != "create" || !ok {
			continue
		}
		if rec.EndTime.IsZero() && i < len(r.plan.durations) {
			// No caller saw it done: it ends (or ended) when the plan had it end.
			rec.EndTime = rec.CreateTime.Add(r.plan.durations[i])
		}
		dur := rec.EndTime.Sub(rec.CreateTime)
		o := OpResult{Index: i, Duration: dur.Seconds(), Calls: rec.GetOperationCalls, Lag: -1}
		res.GetOperationCalls += rec.GetOperationCalls
		totalHours += dur.Hours()
		if !rec.FirstDoneServed.IsZero() {
			lag := rec.FirstDoneServed.Sub(rec.EndTime).Seconds()
			o.Lag = lag
			lags = append(lags, lag)
			if dur > 0 {
				rels = append(rels, lag/dur.Seconds())
			}
		}
		res.PerOp = append(res.PerOp, o)
		edges = append(edges, concurrencyEdge{rec.CreateTime, 1}, concurrencyEdge{rec.EndTime, -1})
	}
	sort.Slice(res.PerOp, func(a, b int) bool { return res.PerOp[a].Index < res.PerOp[b].Index })
	res.PeakConcurrent = peakConcurrent(edges)
	return lags, rels, totalHours
}

// concurrencyEdge is an operation starting (d 1) or ending (d -1) at t.
type concurrencyEdge struct {
	t time.Time
	d int
}

// peakConcurrent is the most operations running at once; an operation ending when another
// starts does not overlap it.
func peakConcurrent(edges []concurrencyEdge) int {
	sort.Slice(edges, func(a, b int) bool {
		if !edges[a].t.Equal(edges[b].t) {
			return edges[a].t.Before(edges[b].t)
		}
		return edges[a].d < edges[b].d
	})
	cur, peak := 0, 0
	for _, e := range edges {
		cur += e.d
		peak = max(peak, cur)
	}
	return peak
}

// addCallPeaks adds project's GetOperation calls refused by the quota and its peak call rates.
func (r *runner) addCallPeaks(res *Result, project string) {
	var received, peak int64
	series := r.rec.CallsPerSecond("GetOperation", project)
	for _, c := range series {
		received += c.Calls
		peak = max(peak, c.Calls)
	}
	res.PeakGetOpPerEmulatedMinute = record.PeakWindow(series, int64(math.Max(1, math.Round(60/r.cfg.scale))))
	res.GetOperationRejected = max(received-res.GetOperationCalls, 0)
	res.PeakGetOpPerMin = float64(peak) * 60 / r.cfg.scale
	res.PeakCallsPerEmulatedMinute = record.PeakWindow(r.rec.AllCallsPerSecond(project), int64(math.Max(1, math.Round(60/r.cfg.scale))))
	res.Refused = r.rec.Refused(project)
}

// firstFailures are why the first n lost operations of the phase were lost, one line each.
func (p *phase) firstFailures(ops, n int) []string {
	var out []string
	for i := 0; i < ops && len(out) < n; i++ {
		if !p.completed[i] {
			why := p.failures[i]
			if why == "" {
				why = "no result"
			}
			why, _, _ = strings.Cut(why, "\n")
			out = append(out, fmt.Sprintf("%s: %s", displayName(i), why))
		}
	}
	return out
}

// addHistory adds the history figures of the phase's Temporal runs, per operation included.
func (res *Result) addHistory(runs []runInfo, idPrefix string) {
	res.HasHistory = true
	res.Runs = len(runs)
	var events int64
	perOp := map[int]int64{}
	for _, run := range runs {
		events += run.HistoryLength
		res.LargestRun = max(res.LargestRun, run.HistoryLength)
		if i, ok := indexFromID(run.WorkflowID, idPrefix); ok {
			perOp[i] += run.HistoryLength
		}
	}
	var xs, ys []float64
	for k := range res.PerOp {
		o := &res.PerOp[k]
		o.Events = perOp[o.Index]
		if o.Events > 0 {
			xs, ys = append(xs, float64(o.Calls)), append(ys, float64(o.Events))
		}
	}
	res.MarginalEventsPerPoll, res.FixedEvents = fitLine(xs, ys)
	res.EventsPerOp = float64(events) / float64(res.Ops)
	if res.GetOperationCalls > 0 {
		res.EventsPerPoll = float64(events) / float64(res.GetOperationCalls)
	}
}

// workerNote says how the workflow's workers were given their budget.
func workerNote(cfg config) string {
	return fmt.Sprintf("workflow workers: %d, their API budget held by the Temporal server: PROJECT_REQUESTS_PER_SECOND = TASK_QUEUE_ACTIVITIES_PER_SECOND = %g (%g%% of the %d/min budget, every call counted); op.Wait and the retry sample have no limit of their own",
		max(cfg.workers, 1), workerRequestsPerSecond(cfg), 100*budgetShare, cfg.quota)
}

// addProcess adds the measured process's figures: backlog, CPU, memory, throughput.
func (res *Result) addProcess(p *phase) {
	res.MaxBacklog, res.MaxBacklogAge = p.maxBacklog, p.maxBacklogAge.Seconds()
	res.WorkerCPUSeconds, res.WorkerRSSMiB = rusage(p.procs...)
	res.CPUPer1k = res.WorkerCPUSeconds / float64(res.Ops) * 1000
	res.RSSPer1kMiB = res.WorkerRSSMiB / float64(res.Ops) * 1000
	res.WallSeconds = p.end.Sub(p.start).Seconds()
	if res.WallSeconds > 0 {
		res.Throughput = float64(res.Completed) / res.WallSeconds
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// firstFailure is the reason of the first lost operation, shortened.
func firstFailure(r *Result) string {
	if len(r.Failures) == 0 {
		return "no reason recorded"
	}
	f := r.Failures[0]
	if _, why, ok := strings.Cut(f, ": "); ok {
		f = why
	}
	if len(f) > 80 {
		f = f[:80] + "…"
	}
	return "first: " + f
}

// replay prints the table of a saved -json report and writes -plot from it.
func replay(cfg config, w io.Writer) error {
	b, err := os.ReadFile(cfg.fromJSON)
	if err != nil {
		return err
	}
	var rep Report
	if err := json.Unmarshal(b, &rep); err != nil {
		return fmt.Errorf("%s: %w", cfg.fromJSON, err)
	}
	rep.byName = map[string]*Result{}
	for _, r := range rep.Results {
		rep.byName[r.Strategy] = r
	}
	rep.Targets = rep.targets()
	rep.printTable(w)
	if cfg.plotFile != "" {
		return writePlot(&rep, cfg.plotFile)
	}
	return nil
}

// fitLine fits y = a + b x by least squares and returns b and a (0, 0 when x does not vary).
func fitLine(xs, ys []float64) (slope, intercept float64) {
	n := float64(len(xs))
	if n < 2 {
		return 0, 0
	}
	var sx, sy, sxx, sxy float64
	for i := range xs {
		sx += xs[i]
		sy += ys[i]
		sxx += xs[i] * xs[i]
		sxy += xs[i] * ys[i]
	}
	d := n*sxx - sx*sx
	if d == 0 {
		return 0, 0
	}
	slope = (n*sxy - sx*sy) / d
	return slope, (sy - slope*sx) / n
}

// quantile is the nearest-rank quantile of xs (0 for none).
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[rank(len(s), q)]
}

// targets evaluates the targets for the workflow against op.Wait.
func (rep *Report) targets() []Target {
	wf, ow := rep.byName[stratWorkflow], rep.byName[stratOpWait]
	var out []Target
	add := func(name string, measured, ok bool, detail string) {
		st := "not measured"
		if measured {
			st = "met"
			if !ok {
				st = "NOT MET"
			}
		}
		out = append(out, Target{Name: name, Status: st, Detail: detail})
	}
	if wf != nil && ow != nil && ow.Completed < ow.Ops {
		// op.Wait's figures cover only the operations it did not lose: nothing to compare.
		why := fmt.Sprintf("op.Wait lost %d of %d operations (%s)", ow.Lost, ow.Ops, firstFailure(ow))
		out = append(out, Target{Name: "GetOperation calls per op <= 0.8 x op.Wait's", Status: "n/a", Detail: why},
			Target{Name: "p99 detection lag <= op.Wait's", Status: "n/a", Detail: why})
	} else if wf != nil && ow != nil && ow.CallsPerOp > 0 {
		ratio := wf.allCallsPerOp() / ow.allCallsPerOp()
		scan := ""
		if wf.ListOperationsCalls > 0 {
			scan = fmt.Sprintf("; ListOperations scan included: %.2f/op", wf.ListCallsPerOp)
		}
		add("GetOperation calls per op <= 0.8 x op.Wait's", true, ratio <= 0.8,
			fmt.Sprintf("%.1f vs %.1f (%.2fx)%s", wf.allCallsPerOp(), ow.allCallsPerOp(), ratio, scan))
		add("p99 detection lag <= op.Wait's", true, wf.LagP99 <= ow.LagP99,
			fmt.Sprintf("%s vs %s", fmtSeconds(wf.LagP99), fmtSeconds(ow.LagP99)))
	} else {
		add("GetOperation calls per op <= 0.8 x op.Wait's", false, false, "needs -strategies opwait,workflow")
		add("p99 detection lag <= op.Wait's", false, false, "needs -strategies opwait,workflow")
	}
	if wf != nil {
		// A poll is a regular activity once the server holds the budget: 11 events, not a local
		// activity's 6.
		perPoll := map[bool]float64{false: 6, true: 11}[rep.BudgetHeldByServer]
		add(fmt.Sprintf("history events per poll <= %g", perPoll), wf.HasHistory && wf.MarginalEventsPerPoll > 0, math.Round(wf.MarginalEventsPerPoll*100)/100 <= perPoll,
			fmt.Sprintf("%.2f per additional poll (fit over the operations; a run costs %.0f events besides its polls); all events / all polls = %.2f",
				wf.MarginalEventsPerPoll, wf.FixedEvents, wf.EventsPerPoll))
		add("no run above 4,096 events", wf.HasHistory, wf.LargestRun <= 4096,
			fmt.Sprintf("largest %d (operations up to %s here; continue-as-new every %d polls bounds longer ones)",
				wf.LargestRun, rep.Durations.Longest, rep.Policy.ContinueAsNewAfterPolls))
		if rep.BudgetHeldByServer {
			add("API calls <= budget, none refused", true, wf.PeakCallsPerEmulatedMinute <= int64(rep.Quota) && wf.Refused == 0,
				fmt.Sprintf("peak %d calls (all methods) in any emulated minute vs %d/min; %d refused with RESOURCE_EXHAUSTED", wf.PeakCallsPerEmulatedMinute, rep.Quota, wf.Refused))
		} else {
			add("GetOperation rate <= quota", true, wf.PeakGetOpPerEmulatedMinute <= int64(rep.Quota),
				fmt.Sprintf("peak %d in any emulated minute vs %d/min (busiest real second: %.0f/min)", wf.PeakGetOpPerEmulatedMinute, rep.Quota, wf.PeakGetOpPerMin))
		}
		add("10,000 concurrent operations, none lost", wf.Ops >= 10000, wf.Lost == 0 && wf.PeakConcurrent >= 10000,
			fmt.Sprintf("%d ops, peak %d concurrent, %d lost (%d of them unfinished at the bench's deadline)", wf.Ops, wf.PeakConcurrent, wf.Lost, wf.Unfinished))
	}
	return out
}

func (rep *Report) printTable(w io.Writer) {
	fmt.Fprintf(w, "bench: %d operations, %s; p50 %s, p99 %s, longest %s; time scale %g; %s\n",
		rep.Ops, rep.Distribution, rep.Durations.P50, rep.Durations.P99, rep.Durations.Longest, rep.Scale,
		map[bool]string{true: "strategies one after another", false: "strategies side by side"}[rep.Sequential])
	fmt.Fprintf(w, "machine: %d CPUs, %.1f GiB; %s %s\n", rep.Machine.CPUs, rep.Machine.MemoryGiB, rep.Machine.GoVersion, rep.Machine.OS)
	fmt.Fprintf(w, "default policy: %s; scaled: initial %s, max %s\n", policyString(rep.Policy), rep.ScaledPolicy.InitialInterval, rep.ScaledPolicy.MaxInterval)
	for _, v := range rep.Variants {
		fmt.Fprintf(w, "variant %s: %s\n", v.Name, policyString(v.Policy))
	}
	if rep.Server != "" {
		fmt.Fprintf(w, "server: %s, workers: %d\n", rep.Server, max(rep.Workers, 1))
	}
	if rep.BudgetHeldByServer {
		fmt.Fprintf(w, "API: %d requests/min per project; workflow workers' budget, held by the Temporal server: %d calls/min (emulated minutes)\n\n", rep.APIRPM, rep.Quota)
	} else {
		fmt.Fprintf(w, "API: %d requests/min per project; workflow worker budget: %d GetOperation/min, %d other/min (emulated minutes)\n\n", rep.APIRPM, rep.Quota, rep.CreateRPM)
	}
	// The database column only for a server with one (the cluster's PostgreSQL).
	withDB := rep.DBCPUSeconds > 0
	dbHead := ""
	if withDB {
		dbHead = "db CPU-s/1k\t"
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight|tabwriter.Debug)
	fmt.Fprintln(tw, "strategy\tops\tcompleted\tlost (unfinished)\tGetOp/op\tListOps/op\tcalls/op (scan incl.)\tvs op.Wait\tGetOp/op-hour\tlag p50\tlag p99\trel p50\trel p99\tevents/op\tevents/poll\tper extra poll\tlargest run\tCPU-s/1k ops\tRSS MiB/1k ops\tRSS MiB\tserver CPU-s/1k\t"+dbHead+"ops/s\tpeak GetOp/min (1 s)\tpeak GetOp/min\tpeak calls/min\trejected\trefused (any call)\tpeak concurrent\tmax task backlog\t")
	for _, r := range rep.Results {
		hist := func(s string) string {
			if !r.HasHistory {
				return "-"
			}
			return s
		}
		server := "-"
		if r.ServerCPUSeconds >= 0 && r.HasHistory {
			server = fmt.Sprintf("%.1f", r.ServerCPUSeconds/float64(r.Ops)*1000)
		}
		if withDB {
			db := "-"
			if r.DBCPUSeconds >= 0 && r.HasHistory {
				db = fmt.Sprintf("%.1f", r.DBCPUSeconds/float64(r.Ops)*1000)
			}
			server += "\t" + db
		}
		listPerOp := "n/a"
		if rep.ListOperationsCounted {
			listPerOp = fmt.Sprintf("%.2f", r.ListCallsPerOp)
		}
		vsOpWait := "-"
		if ow := rep.byName[stratOpWait]; ow != nil && ow.allCallsPerOp() > 0 {
			vsOpWait = fmt.Sprintf("%.2fx", r.allCallsPerOp()/ow.allCallsPerOp())
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d (%d)\t%.1f\t%s\t%.1f\t%s\t%.1f\t%s\t%s\t%.1f%%\t%.1f%%\t%s\t%s\t%s\t%s\t%.1f\t%.1f\t%.0f\t%s\t%.2f\t%.0f\t%d\t%d\t%d\t%d\t%d\t%s\t\n",
			r.Label, r.Ops, r.Completed, r.Lost, r.Unfinished, r.CallsPerOp, listPerOp, r.allCallsPerOp(), vsOpWait, r.CallsPerOpHour,
			fmtSeconds(r.LagP50), fmtSeconds(r.LagP99), 100*r.RelLagP50, 100*r.RelLagP99,
			hist(fmt.Sprintf("%.1f", r.EventsPerOp)), hist(fmt.Sprintf("%.2f", r.EventsPerPoll)), hist(fmt.Sprintf("%.2f", r.MarginalEventsPerPoll)), hist(fmt.Sprint(r.LargestRun)),
			r.CPUPer1k, r.RSSPer1kMiB, r.WorkerRSSMiB, server, r.Throughput, r.PeakGetOpPerMin, r.PeakGetOpPerEmulatedMinute, r.PeakCallsPerEmulatedMinute, r.GetOperationRejected, r.Refused, r.PeakConcurrent,
			hist(fmt.Sprintf("%d (%s)", r.MaxBacklog, time.Duration(r.MaxBacklogAge*float64(time.Second)).Round(time.Second))))
	}
	tw.Flush()
	fmt.Fprintln(w)
	for _, t := range rep.Targets {
		fmt.Fprintf(w, "target: %-46s %-12s %s\n", t.Name, t.Status, t.Detail)
	}
	for _, r := range rep.Results {
		for _, f := range r.Failures {
			fmt.Fprintf(w, "lost (%s): %s\n", r.Strategy, f)
		}
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	fmt.Fprintf(w, "wall time %s\n", time.Duration(rep.WallSeconds*float64(time.Second)).Round(time.Second))
}

func policyString(p workflows.PollingPolicy) string {
	j := 0.0
	if p.Jitter != nil {
		j = *p.Jitter
	}
	age := ""
	if p.AgeFraction > 0 {
		age = fmt.Sprintf(", at least %g of the age", p.AgeFraction)
	}
	return fmt.Sprintf("initial %s, x%g, max %s%s, jitter %g, continue-as-new every %d polls", p.InitialInterval, p.Multiplier, p.MaxInterval, age, j, p.ContinueAsNewAfterPolls)
}

// fmtSeconds prints emulated seconds compactly.
func fmtSeconds(s float64) string {
	if math.IsNaN(s) {
		return "-"
	}
	return time.Duration(s * float64(time.Second)).Round(100 * time.Millisecond).String()
}

func machine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH}
	if f, err := os.Open("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var kib float64
			if _, err := fmt.Sscanf(sc.Text(), "MemTotal: %g kB", &kib); err == nil {
				m.MemoryGiB = math.Round(kib/1024/1024*10) / 10
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

// writeOutputs writes the -json and -plot files.
func writeOutputs(cfg config, rep *Report) error {
	if cfg.jsonFile != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(cfg.jsonFile, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	if cfg.plotFile != "" {
		if err := writePlot(rep, cfg.plotFile); err != nil {
			return fmt.Errorf("plot: %w", err)
		}
	}
	return nil
}
