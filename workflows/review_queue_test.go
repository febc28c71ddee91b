package workflows

import (
	"time"

	"github.com/stretchr/testify/mock"

	"github.com/issuemodels/durable-lro/activities"
)

// TestStartActivitiesOutlastTheQueue: a step's start activity (pipeline steps, deploy, undeploy)
// is retried by Temporal with start-once records in its heartbeats. Its schedule-to-close bound
// counts the time each attempt waits in the rate-limited task queue: after an attempt that may
// have committed (a lost reply), retries waiting out a short bound in a throttled queue would fail
// the step with the operation, which may be running, neither awaited nor cancelled, and a new
// activity would not know to look for it. So the bound is an hour: many times the longest wait a
// backlog of polls makes (a poll gives up after 3 minutes in the queue, and starts go first).
func (s *lifecycleSuite) TestStartActivitiesOutlastTheQueue() {
	calls := recordCalls(s.env)
	s.env.OnActivity(acts.IngestConversations, mock.Anything, mock.Anything).Return(activities.StartedOperation{Operation: ingestOp}, nil).Once()
	s.awaitChild(ingestOp, failedStepOp(ingestOp))
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, pipelineInput())

	s.requireOperationFailed() // the ingest's own outcome, once awaited
	found := false
	for _, c := range *calls {
		if c.activity == "IngestConversations" {
			found = true
			s.GreaterOrEqual(c.options.ScheduleToCloseTimeout, 20*3*time.Minute, "the start activity's bound must outlast many queue waits")
			s.Equal(startPriority, c.options.Priority.PriorityKey, "a start goes ahead of the polls")
			s.NotZero(c.options.StartToCloseTimeout)
		}
	}
	s.True(found, "IngestConversations was scheduled")
}
