//go:build unix

package reliability_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/grpc"

	"github.com/issuemodels/durable-lro/insightstest"
	"github.com/issuemodels/durable-lro/insightstest/record"
	"github.com/issuemodels/durable-lro/internal/cluster"
	"github.com/issuemodels/durable-lro/internal/testkit"
	"github.com/issuemodels/durable-lro/workflows"
)

// TestCluster runs the production shape: a Temporal server on PostgreSQL set up by the compose
// stack's own scripts (internal/cluster), three real worker processes, the emulator. First the
// cluster's own faults under load, then the API budget the server holds per project (the faults
// would blur its per-minute counts, so the two run one after the other on the same cluster).
func TestCluster(t *testing.T) {
	t.Parallel()
	c := cluster.Start(t)
	t.Run("faults", func(t *testing.T) { clusterFaults(t, c) })
	t.Run("server-budget", func(t *testing.T) { serverBudget(t, c) })
}

// clusterFaults: a load of runs, each in its own project; while they train, a worker is
// SIGKILLed, the Temporal server process restarts, PostgreSQL restarts (pg_ctl restart) and then
// stops for 30 s. Every run must succeed with exactly one model, no workflow task may fail, no
// timer may fire later than the longest outage allows, and the phase search attribute must
// answer from SQL visibility during the load.
func clusterFaults(t *testing.T, c *cluster.Server) {
	n := size(60, 1000)
	const pgStop = 30 * time.Second
	// 60x clock: trainings of 75–150 emulated minutes take 75–150 s, longer than the faults.
	emu := newEmulator(t, 60, insightstest.Options{TrainingTime: uniform(75*time.Minute, 150*time.Minute, 1)})
	tq, prefix := names(t)
	env := workerEnv(c.HostPort, emu.Addr(), tq, "TASK_QUEUE_ACTIVITIES_PER_SECOND=350", "PROJECT_REQUESTS_PER_SECOND=350")
	f := newFleet(t, 3, env)

	began := time.Now()
	parents, runs := startCreations(t, c.Client, n, tq, prefix, "clu", `{"initialInterval":"2s","multiplier":1.5,"maxInterval":"10s"}`)
	t.Logf("started %d runs in %s", n, time.Since(began).Round(time.Millisecond))

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	sawPolling := waitPhaseCount(ctx, t, c.Client, tq, "polling")
	// The faults, in turn, each once the cluster answers again after the one before.
	time.Sleep(3 * time.Second)
	f.killOne(time.Second)
	time.Sleep(5 * time.Second)
	serverDown := measure(func() { c.Restart(t); mustAnswer(ctx, t, c) })
	time.Sleep(5 * time.Second)
	pgRestart := measure(func() {
		if err := c.PG.Restart(ctx); err != nil {
			t.Fatalf("pg_ctl restart: %v", err)
		}
		mustAnswer(ctx, t, c)
	})
	time.Sleep(5 * time.Second)
	pgOutage := measure(func() {
		if err := c.PG.Stop(ctx); err != nil {
			t.Fatalf("pg_ctl stop: %v", err)
		}
		time.Sleep(pgStop)
		if err := c.PG.Start(ctx); err != nil {
			t.Fatalf("PostgreSQL start after the stop: %v", err)
		}
		mustAnswer(ctx, t, c)
	})
	faultsDone := time.Since(began)
	stillPolling := countPhase(ctx, t, c.Client, tq, "polling")

	outs := awaitAll(runs, 15*time.Minute)
	f.stopAll()
	completed := countSucceeded(t, outs)
	st := emu.Stats()
	duplicates := extraModels(t, st, parents)
	var wfTaskFailed int
	var lateness []time.Duration
	for _, r := range runs {
		evs := history(t, c.Client, r.GetID(), r.GetRunID())
		wfTaskFailed += countEvents(evs, enumspb.EVENT_TYPE_WORKFLOW_TASK_FAILED)
		lateness = append(lateness, timerLateness(evs)...)
	}
	if wfTaskFailed != 0 {
		t.Errorf("%d WorkflowTaskFailed events", wfTaskFailed)
	}
	// A timer due while the server or its database is down fires when they are back: late by
	// the outage, plus the seconds the history service takes to reacquire its shards.
	longest := max(serverDown, pgRestart, pgOutage)
	if late := maxDur(lateness); late > longest+15*time.Second {
		t.Errorf("a timer fired %s late; the longest outage was %s", late, longest)
	}
	if sawPolling == 0 || stillPolling == 0 {
		t.Errorf("InsightsPhase = \"polling\" counted %d runs during the load and %d after the faults, want some", sawPolling, stillPolling)
	}
	if left := countPhase(ctx, t, c.Client, tq, "polling"); left != 0 {
		t.Errorf("InsightsPhase = \"polling\" still counts %d runs after all ended", left)
	}
	t.Logf("FIGURE cluster-faults workflows=%d workers=3 historyShards=%d completed=%d duplicates=%d workerKills=1 serverRestart=%s pgRestart=%s pgStop=%s(outage %s) faultsDoneAfter=%s timerLateP50=%s timerLateP99=%s timerLateMax=%s timers=%d workflowTaskFailed=%d visibilityPolling=%d/%d createRPCs=%d getOperationRPCs=%d",
		n, cluster.HistoryShards, completed, duplicates, serverDown.Round(time.Millisecond), pgRestart.Round(time.Millisecond), pgStop, pgOutage.Round(time.Millisecond),
		faultsDone.Round(time.Second), percentile(lateness, 0.5).Round(time.Millisecond), percentile(lateness, 0.99).Round(time.Millisecond),
		maxDur(lateness).Round(time.Millisecond), len(lateness), wfTaskFailed, sawPolling, stillPolling, st.RPCs["CreateIssueModel"], st.RPCs["GetOperation"])
}

// serverBudget: the Temporal server holds the Google API budget, per project, for the whole
// fleet. Two projects share the task queue: "flood" runs want ten times its per-project budget,
// "calm" runs want less than theirs. The fleet goes from 3 workers to 1 (two SIGKILLed) and back
// to 3. In no minute may the emulator see more calls (every method) of a project than the
// per-project budget; the emulator, holding each project to Google's quota (a quarter above the
// budget, as 3,000/min is above the default 2,400/min), must refuse none; and the calm project's
// polls must wait in the queue far less than the flood's. How much of the budget each project used is reported
// (docs/PERFORMANCE.md, "Server-held API budget").
func serverBudget(t *testing.T, c *cluster.Server) {
	const perProject = 3.0       // API calls per second per project (the fairness key's limit)
	floodRuns, calmRuns := 30, 2 // each wants 1 poll/s: flood 10x its budget, calm 2/3 of it
	phase := time.Duration(size(30, 180)) * time.Second
	clock := insightstest.RealClock(1)
	rec := record.New(clock)
	emu := newEmulator(t, 1, insightstest.Options{Clock: clock, TrainingTime: fixed(1000 * time.Hour),
		RequestsPerMinute: int(perProject * 60 * 1.25), MaxConcurrentCreates: insightstest.Unlimited, MaxModels: insightstest.Unlimited,
		Interceptors: []grpc.UnaryServerInterceptor{rec.Intercept}})
	tq, prefix := names(t)
	env := workerEnv(c.HostPort, emu.Addr(), tq, fmt.Sprintf("PROJECT_REQUESTS_PER_SECOND=%g", perProject),
		fmt.Sprintf("TASK_QUEUE_ACTIVITIES_PER_SECOND=%g", 2*perProject))
	f := newFleet(t, 3, env)
	const everySecond = `{"initialInterval":"1s","multiplier":1,"maxInterval":"1s","jitter":0}`
	ids := map[string][]string{}
	for project, n := range map[string]int{"flood": floodRuns, "calm": calmRuns} {
		for i := range n {
			ids[project] = append(ids[project], fmt.Sprintf("%s-%s-%d", prefix, project, i))
			startCreate(t, c.Client, ids[project][i], tq,
				createInput(fmt.Sprintf("projects/%s/locations/us-central1", project), fmt.Sprintf("%s-%d", project, i), `"polling":`+everySecond))
		}
	}

	t0 := time.Now()
	time.Sleep(phase)
	t1 := time.Now()
	f.killN(2)
	time.Sleep(phase)
	t2 := time.Now()
	f.startN(2)
	time.Sleep(phase)
	time.Sleep(30 * time.Second) // the joiners' first minute, in full
	t3 := time.Now()

	flood, calm := callsOf(rec, "flood"), callsOf(rec, "calm")
	floodWorst, floodAt := flood.worstMinute(t0, t3)
	calmWorst, _ := calm.worstMinute(t0, t3)
	if floodWorst > int64(perProject*60) {
		t.Errorf("%d calls of project flood in the minute from %s, over its budget of %d", floodWorst, floodAt.Format(time.TimeOnly), int64(perProject*60))
	}
	if floodWorst == 0 {
		t.Errorf("no call of project flood at all; worker logs:\n%s", f.logs())
	}
	var refused int64
	for _, n := range emu.Stats().RateLimited {
		refused += int64(n)
	}
	if refused > 0 {
		t.Errorf("the emulator refused %d calls with RESOURCE_EXHAUSTED: the server let more than the budget through", refused)
	}
	// Calm wants calmRuns polls a second; without a limit per project the flood's runs would
	// take nearly all of the queue's budget and leave it about 2*perProject*calmRuns/(floodRuns+calmRuns).
	// Without a limit per project, first come first served, the calm runs' polls would wait
	// behind the flood's backlog as long as the flood's do.
	calmWait := testkit.MedianActivityWait(t, c.Client, ids["calm"], "PollOperation")
	floodWait := testkit.MedianActivityWait(t, c.Client, ids["flood"], "PollOperation")
	if calmWait*3 > floodWait {
		t.Errorf("project calm's polls waited %s in the queue (median), flood's %s: the flood's backlog held calm back", calmWait, floodWait)
	}
	t.Logf("FIGURE server-budget perProject=%g/s (%d/min) flood=%d runs calm=%d runs phase=%s floodWorstMinute=%d calmWorstMinute=%d "+
		"flood/s: 3 workers %.2f, 1 worker %.2f, 3 again %.2f; calm/s: %.2f, %.2f, %.2f; refused=%d medianPollWait flood=%s calm=%s",
		perProject, int64(perProject*60), floodRuns, calmRuns, phase, floodWorst, calmWorst,
		flood.rate(t0, t1), flood.rate(t1, t2), flood.rate(t2, t3), calm.rate(t0, t1), calm.rate(t1, t2), calm.rate(t2, t3), refused, floodWait, calmWait)
}

// projectCalls is one project's calls (every method) per second of real time.
type projectCalls map[int64]int64

func callsOf(rec *record.Recorder, project string) projectCalls {
	calls := projectCalls{}
	for _, c := range rec.AllCallsPerSecond(project) {
		calls[c.Second] = c.Calls
	}
	return calls
}

func (c projectCalls) sum(from, to time.Time) (n int64) {
	for s := from.Unix(); s < to.Unix(); s++ {
		n += c[s]
	}
	return n
}

// rate is the calls per second from from to to.
func (c projectCalls) rate(from, to time.Time) float64 {
	return float64(c.sum(from, to)) / float64(max(to.Unix()-from.Unix(), 1))
}

// worstMinute is the most calls in any 60 s from from to to, and when that minute began.
func (c projectCalls) worstMinute(from, to time.Time) (n int64, at time.Time) {
	for s := from.Unix(); s+60 <= to.Unix(); s++ {
		if m := c.sum(time.Unix(s, 0), time.Unix(s+60, 0)); m > n {
			n, at = m, time.Unix(s, 0)
		}
	}
	return n, at
}

// measure returns how long fn took.
func measure(fn func()) time.Duration {
	start := time.Now()
	fn()
	return time.Since(start)
}

func mustAnswer(ctx context.Context, t *testing.T, c *cluster.Server) {
	t.Helper()
	if err := cluster.WaitAnswers(ctx, c.Client, c.Namespace); err != nil {
		t.Fatalf("the cluster does not answer: %v", err)
	}
}

// countPhase counts the task queue's runs in phase by SQL visibility (InsightsPhase).
func countPhase(ctx context.Context, t *testing.T, c client.Client, taskQueue, phase string) int64 {
	t.Helper()
	for {
		r, err := c.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{
			Query: fmt.Sprintf(`%s = %q AND TaskQueue = %q AND ExecutionStatus = "Running"`, workflows.PhaseSearchAttribute, phase, taskQueue)})
		if err == nil {
			return r.GetCount()
		}
		if ctx.Err() != nil {
			t.Fatalf("count %s: %v", phase, err)
		}
		time.Sleep(time.Second)
	}
}

// waitPhaseCount waits (up to a minute) until visibility counts some run in phase.
func waitPhaseCount(ctx context.Context, t *testing.T, c client.Client, taskQueue, phase string) int64 {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		if n := countPhase(ctx, t, c, taskQueue, phase); n > 0 || time.Now().After(deadline) {
			return n
		}
		time.Sleep(time.Second)
	}
}

// timerLateness returns, for every timer that fired, how much later than due it fired.
func timerLateness(evs []*historyEvent) []time.Duration {
	due := map[int64]time.Time{}
	var late []time.Duration
	for _, e := range evs {
		switch e.GetEventType() {
		case enumspb.EVENT_TYPE_TIMER_STARTED:
			a := e.GetTimerStartedEventAttributes()
			due[e.GetEventId()] = e.GetEventTime().AsTime().Add(a.GetStartToFireTimeout().AsDuration())
		case enumspb.EVENT_TYPE_TIMER_FIRED:
			if d, ok := due[e.GetTimerFiredEventAttributes().GetStartedEventId()]; ok {
				late = append(late, max(0, e.GetEventTime().AsTime().Sub(d)))
			}
		}
	}
	return late
}
