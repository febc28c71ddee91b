package workflows

import (
	"github.com/stretchr/testify/mock"

	"github.com/issuemodels/durable-lro/activities"
)

// TestStartActivitiesAreNotBoundedByTheQueue: a step's start activity (pipeline steps, deploy,
// undeploy) is retried by Temporal with start-once records in its heartbeats. A schedule-to-close
// bound would count the time each attempt waits in the rate-limited task queue: after an attempt
// that may have committed (a lost reply), retries waiting out the bound in a throttled queue
// would fail the step with the operation, which may be running, neither awaited nor cancelled,
// and a new activity would not know to look for it. So the start activity has no
// schedule-to-close bound: it retries until it starts or adopts the operation, or meets a
// non-retryable error.
func (s *lifecycleSuite) TestStartActivitiesAreNotBoundedByTheQueue() {
	calls := recordCalls(s.env)
	s.env.OnActivity(acts.IngestConversations, mock.Anything, mock.Anything).Return(activities.StartedOperation{Operation: ingestOp}, nil).Once()
	s.awaitChild(ingestOp, failedStepOp(ingestOp))
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, pipelineInput())

	s.requireOperationFailed() // the ingest's own outcome, once awaited
	found := false
	for _, c := range *calls {
		if c.activity == "IngestConversations" {
			found = true
			s.Zero(c.options.ScheduleToCloseTimeout, "the start activity's retries must not be bounded by time spent in the queue")
			s.NotZero(c.options.StartToCloseTimeout)
		}
	}
	s.True(found, "IngestConversations was scheduled")
}
