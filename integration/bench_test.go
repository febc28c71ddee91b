package integration_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/issuemodels/durable-lro/insightstest"
	"github.com/issuemodels/durable-lro/workflows"
)

// BenchmarkConcurrentCreations runs b.N creations at once through the real dev server, one worker
// and the emulator (each in its own location: one creation per region), and reports throughput
// and the end-to-end latency of a creation whose training takes 10 emulated minutes (1 s).
//
//	go test -run XXX -bench ConcurrentCreations -benchtime 200x ./integration/
func BenchmarkConcurrentCreations(b *testing.B) {
	e := newEnv(b, insightstest.Options{TrainingTime: trainingTime(10 * time.Minute), RequestsPerMinute: insightstest.Unlimited})
	start := time.Now()
	runs := make([]client.WorkflowRun, b.N)
	for i := range runs {
		input := fmt.Sprintf(`{"parent":"projects/bench-%d/locations/us-central1","issueModel":{"displayName":"bench"},%s}`, i, fastPolling)
		runs[i] = e.start(workflows.CreateIssueModelWorkflowType, input)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var maxLatency time.Duration
	for _, run := range runs {
		wg.Go(func() {
			if _, err := e.result(run); err != nil {
				b.Error(err)
			}
			mu.Lock()
			maxLatency = max(maxLatency, time.Since(start))
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	st := e.emu.Stats()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "workflows/s")
	b.ReportMetric(maxLatency.Seconds(), "max-latency-s")
	b.ReportMetric(float64(st.RPCs["GetOperation"])/float64(b.N), "polls/workflow")
	var created int64
	for _, n := range st.ModelsCreated {
		created += n
	}
	if created != int64(b.N) {
		b.Errorf("models created = %d, want %d", created, b.N)
	}
}
