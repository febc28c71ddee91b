package activities_test

import (
	"context"
	"testing"
	"time"

	"github.com/issuemodels/durable-lro/activities"
	"github.com/issuemodels/durable-lro/insightstest"
)

// BenchmarkGetOperation measures one poll: the activity, the real Google client, gRPC over
// loopback and the emulator, from parallel callers.
func BenchmarkGetOperation(b *testing.B) {
	srv, _, acts := setup(&testing.T{}, insightstest.Options{RequestsPerMinute: insightstest.Unlimited})
	defer srv.Close()
	env := activityEnv(acts)
	v, err := env.ExecuteActivity(acts.CreateIssueModel, activities.CreateIssueModelParams{Parent: parent, IssueModel: spec})
	if err != nil {
		b.Fatal(err)
	}
	var started activities.StartedOperation
	if err := v.Get(&started); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := acts.GetOperation(context.Background(), started.Operation); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkCreateIssueModelFirstAttempt measures starting a creation (no duplicate lookup).
func BenchmarkCreateIssueModelFirstAttempt(b *testing.B) {
	srv, clock, acts := setup(&testing.T{}, insightstest.Options{RequestsPerMinute: insightstest.Unlimited, MaxConcurrentCreates: insightstest.Unlimited, MaxModels: insightstest.Unlimited})
	defer srv.Close()
	env := activityEnv(acts)
	p := activities.CreateIssueModelParams{Parent: parent, IssueModel: spec}
	b.ResetTimer()
	for b.Loop() {
		if _, err := env.ExecuteActivity(acts.CreateIssueModel, p); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	clock.Advance(time.Hour)
}
