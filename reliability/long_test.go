package reliability_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/issuemodels/durable-lro/insightstest"
	"github.com/issuemodels/durable-lro/workflows"
)

// TestLongOperation awaits a 30-day training. The Temporal server's clock cannot be sped up, so
// the emulator's clock runs fast and the polling policy is scaled by the same factor: one real
// second between polls stands for maxInterval "6h" (full size: 21,600x, 120 s) or "24h" (CI size:
// 86,400x, 30 s). continueAsNewAfterPolls keeps every run's history small.
func TestLongOperation(t *testing.T) {
	t.Parallel()
	scale := float64(size(86400, 21600))
	canAfter := size(5, 10)
	const training = 30 * 24 * time.Hour
	emu := newEmulator(t, scale, insightstest.Options{TrainingTime: fixed(training)})
	tq, prefix := names(t)
	f := newFleet(t, 1, workerEnv(devServer.HostPort, emu.Addr(), tq))
	defer f.stopAll()
	run := startCreate(t, devServer.Client, prefix+"-1", tq, createInput("projects/long/locations/us-central1", "thirty-days",
		fmt.Sprintf(`"polling":{"initialInterval":"1s","multiplier":1,"maxInterval":"1s","jitter":0,"continueAsNewAfterPolls":%d}`, canAfter)))
	firstRunID := run.GetRunID() // Get follows continue-as-new and moves GetRunID to the last run
	start := time.Now()
	var res createResult
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	err := run.Get(ctx, &res)
	cancel()
	if err != nil || res.Outcome != workflows.OutcomeSucceeded {
		t.Fatalf("outcome %q, error %v", res.Outcome, err)
	}
	took := time.Since(start)
	runs := chain(t, devServer.Client, run.GetID(), firstRunID)
	maxLen := 0
	for _, evs := range runs {
		maxLen = max(maxLen, len(evs))
	}
	if len(runs) < 2 {
		t.Errorf("%d runs: the workflow never continued as new", len(runs))
	}
	if maxLen > 200 {
		t.Errorf("a run has %d events: history is not bounded", maxLen)
	}
	perPoll := time.Duration(scale) * time.Second
	t.Logf("FIGURE long-operation training=30d scale=%.0fx pollEvery=1s(=%s emulated) continueAsNewAfterPolls=%d completed=1 polls=%d runs=%d continueAsNew=%d maxHistoryEvents=%d wall=%s",
		scale, perPoll, canAfter, res.Polls, len(runs), len(runs)-1, maxLen, took.Round(time.Second))
}
