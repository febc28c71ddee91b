package integration_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"golang.org/x/time/rate"
	"google.golang.org/grpc"

	"github.com/issuemodels/durable-lro/insightstest"
	"github.com/issuemodels/durable-lro/insightstest/record"
	"github.com/issuemodels/durable-lro/workflows"
)

// TestPollRateLimitHoldsAndRunsBackOff: 30 runs that each want a poll per second share a worker
// allowed 2 GetOperation calls per second. The emulator never sees more than the limit allows in
// any second, every run completes with one model, and the runs report that they slowed down
// (rateLimitDelay) instead of queueing in the worker, so a poll attempt costs no more history
// than a poll does.
func TestPollRateLimitHoldsAndRunsBackOff(t *testing.T) {
	t.Parallel()
	const runs, pollsPerSecond = 30, 2
	// 6 emulated hours = 36 s: long enough for every run to hit the limit several times.
	clock := insightstest.RealClock(timeScale)
	rec := record.New(clock)
	e := newEnv(t, insightstest.Options{Clock: clock, Interceptors: []grpc.UnaryServerInterceptor{rec.Intercept},
		TrainingTime: trainingTime(6 * time.Hour), MaxConcurrentCreates: insightstest.Unlimited, MaxModels: insightstest.Unlimited})
	e.worker.Stop()
	e.worker = e.startWorkerWith(rate.NewLimiter(pollsPerSecond, 1))

	var started []client.WorkflowRun
	for i := range runs {
		started = append(started, e.start(createType, createInput(fmt.Sprintf("rate-limit-%d", i),
			`"polling":{"initialInterval":"1s","maxInterval":"1s","jitter":0}`)))
	}
	slowed, polls, events := 0, 0, int64(0)
	for _, run := range started {
		// Throttled runs take longer than waitTimeout in all.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		var res createResult
		err := run.Get(ctx, &res)
		cancel()
		if err != nil {
			t.Fatalf("%s: %v", run.GetID(), err)
		}
		polls += res.Polls
		if d, err := e.c.DescribeWorkflow(e.ctx(), run.GetID(), ""); err == nil {
			events += d.RawResponse.GetWorkflowExecutionInfo().GetHistoryLength()
		}
		if res.Outcome != workflows.OutcomeSucceeded {
			t.Errorf("%s: outcome %q", run.GetID(), res.Outcome)
		}
		// The status query answers on a closed run too (the worker replays it).
		if st, err := e.status(run); err != nil {
			t.Errorf("%s: status: %v", run.GetID(), err)
		} else if st.RateLimitDelay != "" {
			slowed++
		}
	}
	if got := e.models(); len(got) != runs {
		t.Errorf("%d models, want %d", len(got), runs)
	}
	peak := int64(0)
	for _, s := range rec.CallsPerSecond("GetOperation", "") {
		peak = max(peak, s.Calls)
	}
	// Every poll attempt, refused or not, is one local-activity marker. Version markers and the
	// SideEffect that fences older workers out after some of them are a cost per run (one per
	// versioned change it passes), not per attempt: left out.
	attempts, versionMarkers := 0, 0
	for _, run := range started {
		it := e.c.GetWorkflowHistory(e.ctx(), run.GetID(), "", false, 0)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				t.Fatalf("%s: history: %v", run.GetID(), err)
			}
			switch ev.GetMarkerRecordedEventAttributes().GetMarkerName() {
			case "LocalActivity":
				attempts++
			case "Version", "SideEffect":
				versionMarkers++
			}
		}
	}
	if perAttempt := float64(events-int64(versionMarkers)) / float64(attempts); perAttempt > 11 {
		// An unthrottled run of this size costs ~11 events per poll (its creation included); a
		// refused attempt costs what a poll does, and queueing in the worker would add a
		// workflow task every few seconds of waiting.
		t.Errorf("%.1f history events per poll attempt", perAttempt)
	}
	t.Logf("FIGURE poll-rate-limit runs=%d limit=%d/s peakGetOperationPerSecond=%d runsSlowedAtEnd=%d polls=%d refused=%d historyEventsPerPoll=%.1f perAttempt=%.1f versionMarkers=%d",
		runs, pollsPerSecond, peak, slowed, polls, attempts-polls, float64(events)/float64(polls), float64(events)/float64(attempts), versionMarkers)
	// A token bucket of 2/s with a burst of 1 can serve 3 calls within one calendar second.
	if peak > pollsPerSecond+1 {
		t.Errorf("peak %d GetOperation calls in one second, limit %d/s", peak, pollsPerSecond)
	}
	if slowed == 0 {
		t.Error("no run reports a rateLimitDelay: the back-pressure did not engage")
	}
}
