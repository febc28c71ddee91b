package main

import (
	"context"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.uber.org/zap"

	"github.com/issuemodels/durable-lro/internal/devserver"
)

// TestProjectRateLimitOnTheTaskQueue: a worker sets the task queue's per-project limit on a real
// dev server when none is set, a later worker with another value replaces it, and an operator's
// limit (set with another reason, as `temporal task-queue config set` does) is kept.
func TestProjectRateLimitOnTheTaskQueue(t *testing.T) {
	srv := devserver.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn := temporalConn{client: srv.Client, namespace: srv.Namespace, identity: "test-worker"}
	svc := srv.Client.WorkflowService()
	const queue = "rate-limit-test"
	current := func() (float32, string) {
		t.Helper()
		d, err := svc.DescribeTaskQueue(ctx, &workflowservice.DescribeTaskQueueRequest{Namespace: srv.Namespace,
			TaskQueue:     &taskqueuepb.TaskQueue{Name: queue, Kind: enumspb.TASK_QUEUE_KIND_NORMAL},
			TaskQueueType: enumspb.TASK_QUEUE_TYPE_ACTIVITY, ReportConfig: true})
		if err != nil {
			t.Fatal(err)
		}
		l := d.GetConfig().GetFairnessKeysRateLimitDefault()
		return l.GetRateLimit().GetRequestsPerSecond(), l.GetMetadata().GetReason()
	}
	set := func(rps float64) {
		t.Helper()
		cfg, err := parseFlags([]string{"-task-queue", queue, "-project-requests-per-second", formatFloat(rps)}, func(string) string { return "" })
		if err != nil {
			t.Fatal(err)
		}
		if err := setProjectRateLimit(ctx, conn, cfg, zap.NewNop()); err != nil {
			t.Fatal(err)
		}
	}

	set(40)
	if rps, reason := current(); rps != 40 || reason != workerReason {
		t.Fatalf("after the first worker: %v/s (%q), want 40/s set by the worker", rps, reason)
	}
	set(25)
	if rps, _ := current(); rps != 25 {
		t.Fatalf("after a worker with 25/s: %v/s, want 25", rps)
	}
	_, err := svc.UpdateTaskQueueConfig(ctx, &workflowservice.UpdateTaskQueueConfigRequest{Namespace: srv.Namespace,
		Identity: "operator", TaskQueue: queue, TaskQueueType: enumspb.TASK_QUEUE_TYPE_ACTIVITY,
		UpdateFairnessKeyRateLimitDefault: &workflowservice.UpdateTaskQueueConfigRequest_RateLimitUpdate{
			RateLimit: &taskqueuepb.RateLimit{RequestsPerSecond: 10}, Reason: "quota lowered for the migration"}})
	if err != nil {
		t.Fatal(err)
	}
	set(40)
	if rps, reason := current(); rps != 10 || reason != "quota lowered for the migration" {
		t.Fatalf("a worker replaced the operator's limit: %v/s (%q), want 10/s kept", rps, reason)
	}
}

func formatFloat(f float64) string { p := positive(f); return p.String() }
