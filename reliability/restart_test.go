package reliability_test

import (
	"context"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/issuemodels/durable-lro/insightstest"
	"github.com/issuemodels/durable-lro/internal/devserver"
)

// TestServerRestart stops the dev server (SQLite file) in the middle of many pollings and starts
// it again on the same port and file. Every workflow completes; every durable timer fires on
// time, and those that fell due during the outage fire promptly once the server is back.
func TestServerRestart(t *testing.T) {
	t.Parallel()
	n := size(10, 50)
	outage := time.Duration(size(5, 15)) * time.Second
	srv := devserver.Start(t, devserver.WithPersistence())
	// 60x clock: trainings of 20–30 emulated minutes take 20–30 s, spanning the outage.
	emu := newEmulator(t, 60, insightstest.Options{TrainingTime: uniform(20*time.Minute, 30*time.Minute, 0)})
	tq, prefix := names(t)
	f := newFleet(t, 2, workerEnv(srv.HostPort, emu.Addr(), tq))

	parents, runs := startCreations(t, srv.Client, n, tq, prefix, "restart", `{"initialInterval":"1s","multiplier":1.5,"maxInterval":"4s"}`)
	time.Sleep(6 * time.Second)
	stopAt, backAt := restartAfterOutage(t, srv, outage)

	outs := awaitAll(runs, 8*time.Minute)
	f.stopAll()
	completed := countSucceeded(t, outs)
	st := emu.Stats()
	duplicates := extraModels(t, st, parents)

	// Timers: lateness = TimerFired time - (TimerStarted time + duration). A timer that fell due
	// while the server was down can only fire once it is back: its lateness is counted from then.
	const tolerance = 2 * time.Second
	const afterRestartTolerance = 10 * time.Second
	var normal, overOutage []time.Duration
	early := 0
	wfTaskFailed := 0
	for _, r := range runs {
		evs := history(t, srv.Client, r.GetID(), r.GetRunID())
		wfTaskFailed += countEvents(evs, enumspb.EVENT_TYPE_WORKFLOW_TASK_FAILED)
		due := map[int64]time.Time{}
		for _, ev := range evs {
			if a := ev.GetTimerStartedEventAttributes(); a != nil {
				due[ev.GetEventId()] = ev.GetEventTime().AsTime().Add(a.GetStartToFireTimeout().AsDuration())
			}
			if a := ev.GetTimerFiredEventAttributes(); a != nil {
				d, ok := due[a.GetStartedEventId()]
				if !ok {
					t.Errorf("%s: TimerFired without TimerStarted", r.GetID())
					continue
				}
				fired := ev.GetEventTime().AsTime()
				late := fired.Sub(d)
				if late < -50*time.Millisecond {
					early++
					t.Errorf("%s: timer %s fired %s early", r.GetID(), a.GetTimerId(), -late)
				}
				if !d.Before(stopAt.Add(-time.Second)) && d.Before(backAt) {
					overOutage = append(overOutage, fired.Sub(backAt))
				} else {
					normal = append(normal, late)
				}
			}
		}
	}
	if m := maxDur(normal); m > tolerance {
		t.Errorf("a timer fired %s late (tolerance %s)", m, tolerance)
	}
	if m := maxDur(overOutage); m > afterRestartTolerance {
		t.Errorf("a timer due during the outage fired %s after the server was back (tolerance %s)", m, afterRestartTolerance)
	}
	if len(overOutage) == 0 {
		t.Errorf("no timer fell due during the outage: the test did not exercise what it claims")
	}
	if wfTaskFailed != 0 {
		t.Errorf("%d WorkflowTaskFailed events", wfTaskFailed)
	}
	t.Logf("FIGURE server-restart workflows=%d outage=%s completed=%d duplicates=%d timers=%d timersDueInOutage=%d maxLateness=%s p99Lateness=%s maxLatenessAfterRestart=%s early=%d workflowTaskFailed=%d",
		n, backAt.Sub(stopAt).Round(100*time.Millisecond), completed, duplicates, len(normal)+len(overOutage), len(overOutage),
		maxDur(normal).Round(time.Millisecond), percentile(normal, 0.99).Round(time.Millisecond),
		maxDur(overOutage).Round(time.Millisecond), early, wfTaskFailed)
}

// restartAfterOutage stops the dev server, waits for the outage and starts it again on the same
// port and file; it returns when the server went down and when it was back.
func restartAfterOutage(t *testing.T, srv *devserver.Server, outage time.Duration) (stopAt, backAt time.Time) {
	t.Helper()
	stopAt = time.Now()
	if err := srv.Stop(); err != nil {
		t.Fatalf("stop the dev server: %v", err)
	}
	time.Sleep(outage)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	err := srv.StartAgain(ctx)
	cancel()
	if err != nil {
		t.Fatalf("start the dev server again: %v", err)
	}
	backAt = time.Now()
	t.Logf("dev server down from %s to %s (%s, including the stop and the start)", stopAt.Format(time.TimeOnly), backAt.Format(time.TimeOnly), backAt.Sub(stopAt).Round(time.Millisecond))
	return stopAt, backAt
}
