package main

import (
	"context"
	"fmt"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.uber.org/zap"
)

// workerReason marks the per-project limit a worker set, so that the next worker may replace it
// (a redeploy with another -project-requests-per-second) while an operator's limit, set with
// another reason, stays.
const workerReason = "worker default (-project-requests-per-second)"

// setProjectRateLimit makes the task queue's per-fairness-key activity rate limit (one key per
// Google project) -project-requests-per-second, unless an operator has set it. The Temporal
// server then holds each project to it across all workers; the worker counts nothing itself.
func setProjectRateLimit(ctx context.Context, conn temporalConn, cfg config, logger *zap.Logger) error {
	svc := conn.client.WorkflowService()
	desc, err := svc.DescribeTaskQueue(ctx, &workflowservice.DescribeTaskQueueRequest{
		Namespace:     conn.namespace,
		TaskQueue:     &taskqueuepb.TaskQueue{Name: cfg.taskQueue, Kind: enumspb.TASK_QUEUE_KIND_NORMAL},
		TaskQueueType: enumspb.TASK_QUEUE_TYPE_ACTIVITY,
		ReportConfig:  true,
	})
	if err != nil {
		return fmt.Errorf("reading the task queue's rate limits: %w", err)
	}
	want := float32(cfg.projectRequestsPerSecond)
	if current := desc.GetConfig().GetFairnessKeysRateLimitDefault(); current != nil {
		rps := current.GetRateLimit().GetRequestsPerSecond()
		if !strings.HasPrefix(current.GetMetadata().GetReason(), workerReason) {
			logger.Info("per-project API rate limit set by an operator: kept",
				zap.Float32("project_requests_per_second", rps), zap.String("reason", current.GetMetadata().GetReason()))
			return nil
		}
		if rps == want {
			return nil
		}
	}
	_, err = svc.UpdateTaskQueueConfig(ctx, &workflowservice.UpdateTaskQueueConfigRequest{
		Namespace:     conn.namespace,
		Identity:      conn.identity,
		TaskQueue:     cfg.taskQueue,
		TaskQueueType: enumspb.TASK_QUEUE_TYPE_ACTIVITY,
		UpdateFairnessKeyRateLimitDefault: &workflowservice.UpdateTaskQueueConfigRequest_RateLimitUpdate{
			RateLimit: &taskqueuepb.RateLimit{RequestsPerSecond: want},
			Reason:    workerReason,
		},
	})
	if err != nil {
		return fmt.Errorf("setting the task queue's per-project API rate limit (-project-requests-per-second): %w", err)
	}
	logger.Info("per-project API rate limit set on the task queue", zap.Float32("project_requests_per_second", want))
	return nil
}
