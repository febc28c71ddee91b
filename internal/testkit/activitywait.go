package testkit

import (
	"context"
	"slices"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
)

// MedianActivityWait is the median time the activities of activityType that the workflows
// (ids, their current runs) scheduled waited in the task queue: scheduled to started. A task
// queue's rate limit shows here, where a slow machine barely does.
func MedianActivityWait(t testing.TB, c client.Client, ids []string, activityType string) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var waits []time.Duration
	for _, id := range ids {
		scheduled := map[int64]time.Time{}
		it := c.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				t.Fatalf("%s: history: %v", id, err)
			}
			if ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName() == activityType {
				scheduled[ev.GetEventId()] = ev.GetEventTime().AsTime()
			}
			if at, ok := scheduled[ev.GetActivityTaskStartedEventAttributes().GetScheduledEventId()]; ok && ev.GetEventType() == enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED {
				waits = append(waits, ev.GetEventTime().AsTime().Sub(at))
			}
		}
	}
	if len(waits) == 0 {
		t.Fatalf("no %s activity started", activityType)
	}
	slices.Sort(waits)
	return waits[len(waits)/2].Round(time.Millisecond)
}
