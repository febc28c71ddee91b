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
	"github.com/issuemodels/durable-lro/workflows"
)

// TestCluster runs the production shape: a Temporal server on PostgreSQL set up by the compose
// stack's own scripts (internal/cluster), three real worker processes, the emulator. First the
// cluster's own faults under load, then the fleet's shared poll budget (the faults would blur
// its per-minute counts, so the two run one after the other on the same cluster).
func TestCluster(t *testing.T) {
	t.Parallel()
	c := cluster.Start(t)
	t.Run("faults", func(t *testing.T) { clusterFaults(t, c) })
	t.Run("fleet-budget", func(t *testing.T) { fleetBudget(t, c) })
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
	env := workerEnv(c.HostPort, emu.Addr(), tq, "TASK_QUEUE_ACTIVITIES_PER_SECOND=200", "FLEET_POLLS_PER_SECOND=150")
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

// fleetBudget: runs that each want a poll every second, far more than the fleet budget, while
// the fleet goes from 3 workers to 1 (two SIGKILLed) and back to 3. In no minute may the
// emulator see more GetOperation calls than the budget. How much of the budget the fleet used
// in each stretch is reported (docs/RELIABILITY.md), not asserted: see "Fleet budget" there.
func fleetBudget(t *testing.T, c *cluster.Server) {
	const budget = 6.0 // GetOperation calls per second, for the whole fleet
	runsWanted := 60   // each wants 1 poll/s: 10x the budget
	phase := time.Duration(size(30, 180)) * time.Second
	// The survivors count a dead worker until its last poll is 75 s old; the full size waits
	// that out to measure one worker using the whole budget.
	leaveSettle := time.Duration(size(0, 85)) * time.Second
	clock := insightstest.RealClock(1)
	rec := record.New(clock)
	emu := newEmulator(t, 1, insightstest.Options{Clock: clock, TrainingTime: fixed(1000 * time.Hour),
		Interceptors: []grpc.UnaryServerInterceptor{rec.Intercept}})
	tq, prefix := names(t)
	env := workerEnv(c.HostPort, emu.Addr(), tq, fmt.Sprintf("FLEET_POLLS_PER_SECOND=%g", budget))
	f := newFleet(t, 3, env)
	startCreations(t, c.Client, runsWanted, tq, prefix, "budget", `{"initialInterval":"1s","multiplier":1,"maxInterval":"1s","jitter":0}`)

	t0 := time.Now()
	time.Sleep(phase)
	t1 := time.Now()
	f.killN(2)
	time.Sleep(leaveSettle + phase)
	t2 := time.Now()
	f.startN(2)
	time.Sleep(phase)
	time.Sleep(30 * time.Second) // the joiners' first minute, in full
	t3 := time.Now()

	calls := map[int64]int64{}
	for _, s := range rec.CallsPerSecond("GetOperation", "") {
		calls[s.Second] += s.Calls
	}
	sum := func(from, to time.Time) (n int64) {
		for s := from.Unix(); s < to.Unix(); s++ {
			n += calls[s]
		}
		return n
	}
	var worstMinute int64
	var worstAt time.Time
	for s := t0.Unix(); s+60 <= t3.Unix(); s++ {
		if n := sum(time.Unix(s, 0), time.Unix(s+60, 0)); n > worstMinute {
			worstMinute, worstAt = n, time.Unix(s, 0)
		}
	}
	if worstMinute > int64(budget*60) {
		t.Errorf("%d GetOperation calls in the minute from %s, over the fleet budget of %d", worstMinute, worstAt.Format(time.TimeOnly), int64(budget*60))
	}
	if worstMinute == 0 {
		t.Errorf("no GetOperation call at all: the fleet never took its budget; worker logs:\n%s", f.logs())
	}
	use := func(from, to time.Time) float64 {
		return float64(sum(from, to)) / (budget * float64(max(to.Unix()-from.Unix(), 1)))
	}
	t.Logf("FIGURE fleet-budget budget=%g/s (%d/min) runs=%d phase=%s worstMinute=%d use3=%.0f%% use1=%.0f%% use1settled=%.0f%% use3again=%.0f%% getOperationRPCs=%d",
		budget, int64(budget*60), runsWanted, phase, worstMinute, 100*use(t0, t1), 100*use(t1, t2), 100*use(t1.Add(leaveSettle), t2),
		100*use(t2, t3), emu.Stats().RPCs["GetOperation"])
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
