package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	taskqueue "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/issuemodels/durable-lro/insights"
	"github.com/issuemodels/durable-lro/insightstest"
	"github.com/issuemodels/durable-lro/insightstest/record"
	"github.com/issuemodels/durable-lro/internal/cluster"
	"github.com/issuemodels/durable-lro/internal/devserver"
	"github.com/issuemodels/durable-lro/internal/proc"
	"github.com/issuemodels/durable-lro/workflows"
)

// runner holds what every strategy's phase shares.
type runner struct {
	cfg  config
	plan plan
	emu  *insightstest.Server
	rec  *record.Recorder // what the emulator answered, per operation and second
	// dev is the Temporal server the strategies run against: the dev server, or with
	// -temporal cluster the cluster's Temporal server (cluster then holds its PostgreSQL too).
	dev       *devserver.Server
	cluster   *cluster.Server
	tmp       string
	workerBin string
	selfBin   string
	// policies are the polling policies of the workflow strategies (default and variants),
	// every duration divided by the scale.
	policies map[string]workflows.PollingPolicy
	logMu    sync.Mutex
}

func (r *runner) logf(format string, args ...any) {
	if !r.cfg.verbose {
		return
	}
	r.logMu.Lock()
	defer r.logMu.Unlock()
	fmt.Fprintf(os.Stderr, "bench %s: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// phase is the raw outcome of one strategy.
type phase struct {
	strategy   string
	start, end time.Time // wall clock: first start, last completion
	completed  map[int]bool
	failures   map[int]string     // why an operation was not completed
	unfinished map[int]bool       // still waiting when the bench gave up (phase timeout)
	procs      []*os.ProcessState // the strategy's processes (several workers with -workers)
	runs       []runInfo          // Temporal runs (visibility); nil for opwait
	serverCPU  float64            // Temporal server CPU-seconds during the phase; -1 when shared with another phase
	dbCPU      float64            // PostgreSQL's CPU-seconds during the phase (cluster); -1 when shared or none
	// The largest workflow-task backlog of the strategy's task queue seen while waiting, and
	// its age: how far the server and worker fell behind.
	maxBacklog    int64
	maxBacklogAge time.Duration
}

// runInfo is one Temporal run from visibility.
type runInfo struct {
	WorkflowID    string `json:"workflowId"`
	Status        string `json:"status"`
	HistoryLength int64  `json:"historyLength"`
	closeTime     time.Time
}

func runBench(ctx context.Context, cfg config, stdout io.Writer) error {
	began := time.Now()
	policies, err := strategyPolicies(cfg)
	if err != nil {
		return err
	}
	r := &runner{cfg: cfg, policies: policies}
	r.plan = newWorkloadPlan(cfg)
	if r.tmp, err = os.MkdirTemp("", "bench-"); err != nil {
		return err
	}
	if cfg.keepLogs {
		fmt.Fprintf(os.Stderr, "bench: logs in %s\n", r.tmp)
	} else {
		defer os.RemoveAll(r.tmp)
	}
	if err := r.buildBinaries(ctx); err != nil {
		return err
	}
	if err := r.startEmulator(); err != nil {
		return err
	}
	defer r.emu.Close()
	if err := r.startServer(ctx); err != nil {
		return err
	}
	defer r.dev.Close()

	phases, cpu, err := r.runPhases(ctx)
	if err != nil {
		return err
	}
	rep := r.report(phases, cpu, time.Since(began))
	rep.printTable(stdout)
	return writeOutputs(cfg, rep)
}

// strategyPolicies are the polling policies of the workflow strategies (the default and the
// variants), scaled; it also checks the retry strategy's interval.
func strategyPolicies(cfg config) (map[string]workflows.PollingPolicy, error) {
	policies := map[string]workflows.PollingPolicy{}
	for _, s := range cfg.strategies {
		if !isWorkflow(s) {
			continue
		}
		p := workflows.DefaultPollingPolicy()
		if v, ok := variantFor(s, cfg.variants); ok {
			p = v.Policy
		}
		sp, err := scalePolicy(p, cfg.scale)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s, err)
		}
		policies[s] = sp
	}
	if cfg.retryEvery < time.Duration(cfg.scale*float64(time.Second)) {
		return nil, fmt.Errorf("-retry-interval %s divided by -scale %g is under 1s", cfg.retryEvery, cfg.scale)
	}
	return policies, nil
}

// runPhases runs every strategy, one after the other or side by side, and measures the
// server's CPU time (the Temporal server's, and PostgreSQL's on the cluster): in all, and per
// phase where a phase has the server to itself.
func (r *runner) runPhases(ctx context.Context) (map[string]*phase, serverCPU, error) {
	cfg := r.cfg
	phases := map[string]*phase{}
	var mu sync.Mutex
	var errs []error
	runOne := func(s string) {
		p, err := r.runPhase(ctx, s)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s, err))
			return
		}
		phases[s] = p
	}
	serverBefore := r.cpuNow()
	if cfg.sequential {
		for _, s := range cfg.strategies {
			before := r.cpuNow()
			runOne(s)
			if p := phases[s]; p != nil && s != stratOpWait {
				d := r.cpuNow().minus(before)
				p.serverCPU, p.dbCPU = d.Server, d.DB
			}
		}
	} else {
		var wg sync.WaitGroup
		for _, s := range cfg.strategies {
			wg.Go(func() { runOne(s) })
		}
		wg.Wait()
	}
	serverTotal := r.cpuNow().minus(serverBefore)
	if err := errors.Join(errs...); err != nil {
		return nil, serverCPU{}, err
	}
	if !cfg.sequential {
		// Side by side, the dev server's CPU belongs to a phase only when it is the one
		// Temporal strategy (op.Wait does not use the server).
		var temporal []*phase
		for _, s := range cfg.strategies {
			if p := phases[s]; p != nil && s != stratOpWait {
				temporal = append(temporal, p)
			}
		}
		if len(temporal) == 1 {
			temporal[0].serverCPU, temporal[0].dbCPU = serverTotal.Server, serverTotal.DB
		}
	}
	return phases, serverTotal, nil
}

// scaledDefaultPolicy is the workflow's default polling policy with every duration divided by
// scale.
func scaledDefaultPolicy(scale float64) (workflows.PollingPolicy, error) {
	return scalePolicy(workflows.DefaultPollingPolicy(), scale)
}

// scalePolicy divides every duration of p by scale; it fails when a scaled interval would fall
// under the workflow's 1s minimum.
func scalePolicy(p workflows.PollingPolicy, scale float64) (workflows.PollingPolicy, error) {
	for _, f := range []struct {
		name string
		v    *string
	}{{"initialInterval", &p.InitialInterval}, {"maxInterval", &p.MaxInterval}, {"timeout", &p.Timeout}, {"notFoundGrace", &p.NotFoundGrace}} {
		d, err := time.ParseDuration(*f.v)
		if err != nil {
			return p, fmt.Errorf("default policy %s: %w", f.name, err)
		}
		sd := scaled(d, scale).Round(time.Millisecond)
		if f.name != "notFoundGrace" && sd < time.Second {
			return p, fmt.Errorf("the default %s %s divided by -scale %g is %s, under the workflow's 1s minimum: use -scale <= %g",
				f.name, d, scale, sd, d.Seconds())
		}
		*f.v = sd.String()
	}
	return p, nil
}

// budgetShare is the part of -quota the workflow's workers are given. The server's token
// bucket holds the task queue to the rate, but the quota is counted where calls arrive, per
// minute: calls whose latency carries them across a minute's edge land in the next one, so the
// budget keeps 2 % below the quota.
const budgetShare = 0.98

// workerRequestsPerSecond is the workflow workers' PROJECT_REQUESTS_PER_SECOND and
// TASK_QUEUE_ACTIVITIES_PER_SECOND for cfg (real seconds): one project per strategy, so the
// queue's limit and the project's are the same.
func workerRequestsPerSecond(cfg config) float64 {
	return float64(cfg.quota) * budgetShare / 60 * cfg.scale
}

// phaseTimeout bounds one strategy: the longest operation (scaled) half again, the creation
// ramp at the creation budget, two sweeps of polls over every operation at the GetOperation
// budget, and 3 minutes.
func (r *runner) phaseTimeout() time.Duration {
	if r.cfg.phaseTimeout > 0 {
		return r.cfg.phaseTimeout
	}
	perSecond := func(perMinute int) float64 { return float64(perMinute) / 60 * r.cfg.scale }
	ramp := time.Duration(float64(r.cfg.ops) / perSecond(r.cfg.quota) * float64(time.Second))
	sweeps := time.Duration(2 * float64(r.cfg.ops) / perSecond(r.cfg.quota) * float64(time.Second))
	return scaled(r.plan.longest(), r.cfg.scale)*3/2 + ramp + sweeps + 3*time.Minute
}

func (r *runner) runPhase(ctx context.Context, s string) (*phase, error) {
	r.logf("%s: %d operations", s, r.cfg.ops)
	var p *phase
	var err error
	switch {
	case s == stratOpWait:
		p, err = r.runOpWait(ctx)
	case isWorkflow(s):
		p, err = r.runTemporal(ctx, s, workflows.CreateIssueModelWorkflowType)
	case s == stratRetry:
		p, err = r.runTemporal(ctx, s, retryWorkflowType)
	}
	if p != nil {
		p.strategy = s
		r.logf("%s: %d/%d completed in %s", s, len(p.completed), r.cfg.ops, p.end.Sub(p.start).Round(time.Second))
	}
	return p, err
}

// runTemporal runs a Temporal-based strategy: its worker processes, one workflow per
// operation, and the runs' history lengths from visibility.
func (r *runner) runTemporal(ctx context.Context, s, workflowType string) (*phase, error) {
	taskQueue := "bench-" + s
	workers, err := r.startStrategyWorkers(s, taskQueue)
	defer func() {
		for _, c := range workers {
			_ = c.Stop()
		}
	}()
	if err != nil {
		return nil, err
	}

	p := &phase{completed: map[int]bool{}, failures: map[int]string{}, unfinished: map[int]bool{}, serverCPU: -1, dbCPU: -1}
	p.start = time.Now()
	idPrefix := "bench-" + s + "-"
	if err := r.startWorkflows(ctx, s, workflowType, taskQueue, idPrefix); err != nil {
		return nil, err
	}
	r.logf("%s: %d workflows started in %s", s, r.cfg.ops, time.Since(p.start).Round(time.Millisecond))
	if err := r.waitUntilNoneRunning(ctx, p, s, taskQueue, p.start.Add(r.phaseTimeout())); err != nil {
		return nil, err
	}
	var stopErrs []error
	for _, c := range workers {
		if err := c.Stop(); err != nil {
			stopErrs = append(stopErrs, fmt.Errorf("%s: %v\n%s", c.Name, err, proc.Tail(c.LogPath, 40)))
		}
		p.procs = append(p.procs, c.State())
	}
	if err := errors.Join(stopErrs...); err != nil {
		return nil, err
	}

	runs, err := r.listRuns(ctx, taskQueue)
	if err != nil {
		return nil, err
	}
	p.runs = runs
	p.end = p.start
	for _, run := range runs {
		if i, ok := indexFromID(run.WorkflowID, idPrefix); ok {
			p.record(i, run)
		}
	}
	return p, nil
}

// startStrategyWorkers starts the worker processes of a Temporal strategy: the real worker for
// the workflow strategies (-workers of them, each with its own client identity, the SDK's
// pid@host), this binary as -role retryworker for the retry pattern. On an error it returns
// the processes it started, to be stopped.
func (r *runner) startStrategyWorkers(s, taskQueue string) ([]*proc.Process, error) {
	if s == stratRetry {
		c, err := r.startChild("retryworker", r.selfBin, []string{"-role", "retryworker",
			"-temporal-address", r.dev.HostPort, "-task-queue", taskQueue},
			[]string{"INSIGHTS_EMULATOR_HOST=" + r.emu.Addr()}, nil)
		if err != nil {
			return nil, err
		}
		return []*proc.Process{c}, nil
	}
	var workers []*proc.Process
	for k := 1; k <= r.cfg.workers; k++ {
		name := s + "-worker"
		if r.cfg.workers > 1 {
			name = fmt.Sprintf("%s-worker-%d", s, k)
		}
		c, err := r.startChild(name, r.workerBin, nil, workerEnv(r.cfg, r.dev.HostPort, r.dev.Namespace, taskQueue, r.emu.Addr()), nil)
		if err != nil {
			return workers, err
		}
		workers = append(workers, c)
	}
	return workers, nil
}

// workerEnv is the environment of a workflow strategy's worker: the budget the server holds
// for all its workers (PROJECT_REQUESTS_PER_SECOND, TASK_QUEUE_ACTIVITIES_PER_SECOND), and
// INSIGHTS_API_TIME_SCALE, the emulator's time scale.
func workerEnv(cfg config, hostPort, namespace, taskQueue, emulator string) []string {
	return []string{
		"TEMPORAL_ADDRESS=" + hostPort, "TEMPORAL_NAMESPACE=" + namespace,
		"TEMPORAL_TASK_QUEUE=" + taskQueue, "INSIGHTS_EMULATOR_HOST=" + emulator,
		"LOG_LEVEL=warn", "LOG_FORMAT=json",
		fmt.Sprintf("PROJECT_REQUESTS_PER_SECOND=%g", workerRequestsPerSecond(cfg)),
		fmt.Sprintf("TASK_QUEUE_ACTIVITIES_PER_SECOND=%g", workerRequestsPerSecond(cfg)),
		// The emulator's clock runs cfg.scale times faster: what the worker reads off its
		// timestamps (the learned polling's estimate) is divided by it.
		fmt.Sprintf("INSIGHTS_API_TIME_SCALE=%g", cfg.scale)}
}

// startWorkflows starts one workflow per operation, -concurrency at a time.
func (r *runner) startWorkflows(ctx context.Context, s, workflowType, taskQueue, idPrefix string) error {
	timeout := r.phaseTimeout()
	deadline := time.Now().Add(timeout)
	sem := make(chan struct{}, r.cfg.concurrency)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var startErr error
	for i := 0; i < r.cfg.ops && ctx.Err() == nil; i++ {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			err := startRetrying(ctx, deadline, func(ctx context.Context) error {
				_, err := r.dev.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
					ID: fmt.Sprintf("%s%05d", idPrefix, i), TaskQueue: taskQueue,
					WorkflowExecutionTimeout: timeout,
					// A retry after a lost reply must not start a second run of an
					// operation whose first run already closed.
					WorkflowIDReusePolicy: enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
				}, workflowType, r.workflowInput(s, i))
				return err
			})
			if err != nil {
				mu.Lock()
				startErr = errors.Join(startErr, fmt.Errorf("start %s: %w", displayName(i), err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return startErr
}

// startRetrying calls start until it succeeds, the workflow turns out to be started already
// (an earlier attempt's reply was lost), or the deadline passes: a loaded server answers a
// start past the client's deadline, and one slow start must not end the whole bench.
func startRetrying(ctx context.Context, deadline time.Time, start func(context.Context) error) error {
	backoff := time.Second
	for {
		err := start(ctx)
		var started *serviceerror.WorkflowExecutionAlreadyStarted
		switch {
		case err == nil, errors.As(err, &started):
			return nil
		case ctx.Err() != nil, time.Now().Add(backoff).After(deadline), !retryableStart(err):
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// retryableStart says whether a failed start may succeed if tried again: the server was slow
// or busy, not refusing the request itself.
func retryableStart(err error) bool {
	var busy *serviceerror.ResourceExhausted
	var unavailable *serviceerror.Unavailable
	var deadline *serviceerror.DeadlineExceeded
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &busy) ||
		errors.As(err, &unavailable) || errors.As(err, &deadline) ||
		status.Code(err) == codes.DeadlineExceeded || status.Code(err) == codes.Unavailable
}

// workflowInput is the input of operation i's workflow in strategy s.
func (r *runner) workflowInput(s string, i int) any {
	if !isWorkflow(s) {
		return RetryInput{Parent: parentFor(s), DisplayName: displayName(i), Filter: r.plan.filter(i), Interval: scaled(r.cfg.retryEvery, r.cfg.scale)}
	}
	pol := r.policies[s]
	return workflows.CreateIssueModelInput{
		Parent: parentFor(s),
		IssueModel: insights.IssueModelSpec{DisplayName: displayName(i),
			InputDataConfig: insights.InputDataConfig{Medium: "CHAT", Filter: r.plan.filter(i)}},
		Polling: &pol,
	}
}

// waitUntilNoneRunning waits until no run of the task queue is running (the chains that
// continued as new included), terminating what still runs at the deadline, and notes the
// largest backlog on the way.
func (r *runner) waitUntilNoneRunning(ctx context.Context, p *phase, s, taskQueue string, deadline time.Time) error {
	running := fmt.Sprintf("TaskQueue = '%s' AND ExecutionStatus = 'Running'", taskQueue)
	lastLog := time.Now()
	for {
		n, err := count(ctx, r.dev.Client, running)
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			r.logf("%s: %d runs still running at the deadline; terminating them", s, n)
			r.terminateRunning(ctx, running)
			return nil
		}
		if time.Since(lastLog) > 10*time.Second {
			backlog, age := r.backlog(ctx, taskQueue)
			p.maxBacklog, p.maxBacklogAge = max(p.maxBacklog, backlog), max(p.maxBacklogAge, age)
			r.logf("%s: %d running; workflow task backlog %d, oldest %s", s, n, backlog, age.Round(time.Second))
			lastLog = time.Now()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// record counts how operation i's run ended.
func (p *phase) record(i int, run runInfo) {
	switch run.Status {
	case "ContinuedAsNew":
	case "Completed":
		p.completed[i] = true
		if run.closeTime.After(p.end) {
			p.end = run.closeTime
		}
	case "TimedOut", "Terminated":
		// Stopped by the bench's deadline (WorkflowExecutionTimeout or terminate).
		p.failures[i] = run.Status + " (still waiting at the bench's deadline)"
		p.unfinished[i] = true
	default:
		p.failures[i] = run.Status
	}
}

// backlog is the approximate workflow-task backlog of a task queue and its age (0 if unknown).
func (r *runner) backlog(ctx context.Context, taskQueue string) (int64, time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := r.dev.Client.WorkflowService().DescribeTaskQueue(ctx, &workflowservice.DescribeTaskQueueRequest{
		Namespace:     r.dev.Namespace,
		TaskQueue:     &taskqueue.TaskQueue{Name: taskQueue, Kind: enums.TASK_QUEUE_KIND_NORMAL},
		TaskQueueType: enums.TASK_QUEUE_TYPE_WORKFLOW,
		ReportStats:   true,
	})
	if err != nil {
		return 0, 0
	}
	st := resp.GetStats()
	return st.GetApproximateBacklogCount(), st.GetApproximateBacklogAge().AsDuration()
}

func indexFromID(id, prefix string) (int, bool) {
	var i int
	rest, ok := strings.CutPrefix(id, prefix)
	if !ok {
		return 0, false
	}
	_, err := fmt.Sscanf(rest, "%d", &i)
	return i, err == nil
}

func count(ctx context.Context, tc client.Client, query string) (int64, error) {
	resp, err := tc.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Query: query})
	if err != nil {
		return 0, fmt.Errorf("count %q: %w", query, err)
	}
	return resp.GetCount(), nil
}

func (r *runner) terminateRunning(ctx context.Context, query string) {
	var token []byte
	for {
		resp, err := r.dev.Client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: query, PageSize: 1000, NextPageToken: token})
		if err != nil {
			return
		}
		for _, e := range resp.GetExecutions() {
			_ = r.dev.Client.TerminateWorkflow(ctx, e.GetExecution().GetWorkflowId(), "", "bench deadline")
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return
		}
	}
}

// listRuns reads every run of a task queue from visibility, waiting (up to a minute) until
// every chain has a closed final run there.
func (r *runner) listRuns(ctx context.Context, taskQueue string) ([]runInfo, error) {
	query := fmt.Sprintf("TaskQueue = '%s'", taskQueue)
	deadline := time.Now().Add(time.Minute)
	for {
		var runs []runInfo
		var token []byte
		for {
			resp, err := r.dev.Client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: query, PageSize: 1000, NextPageToken: token})
			if err != nil {
				return nil, fmt.Errorf("list %q: %w", query, err)
			}
			for _, e := range resp.GetExecutions() {
				runs = append(runs, runInfo{
					WorkflowID:    e.GetExecution().GetWorkflowId(),
					Status:        e.GetStatus().String(),
					HistoryLength: e.GetHistoryLength(),
					closeTime:     e.GetCloseTime().AsTime(),
				})
			}
			if token = resp.GetNextPageToken(); len(token) == 0 {
				break
			}
		}
		finals, pending := 0, 0
		for _, run := range runs {
			switch {
			case run.Status == "Running" || run.HistoryLength == 0:
				pending++
			case run.Status != "ContinuedAsNew":
				finals++
			}
		}
		if (finals >= r.cfg.ops && pending == 0) || time.Now().After(deadline) {
			return runs, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}
