package workflows

import (
	"context"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"

	"github.com/issuemodels/durable-lro/activities"
	"github.com/issuemodels/durable-lro/insights"
)

// TestDeletionAfterCancelOutlastsItsStartToClose: the DeleteIssueModel of a model a cancel could
// not stop sets a StartToClose of a minute and no schedule-to-close bound. The SDK copies
// StartToClose into an unset ScheduleToClose only for local activities; for a regular one the
// server (and the testsuite, which copies its validation) sets the run's timeout, none here, so
// Temporal retries the deletion until it starts, not for a minute. An outage of several minutes
// must not fail the deletion.
func (s *createSuite) TestDeletionAfterCancelOutlastsItsStartToClose() {
	s.cancelIgnored()
	var tries []time.Time
	unavailable := temporal.NewApplicationError("unavailable", "Unavailable")
	s.env.OnActivity(acts.DeleteIssueModel, mock.Anything, testModel).Return(func(context.Context, string) (activities.StartedOperation, error) {
		tries = append(tries, s.env.Now())
		if len(tries) < 7 {
			return activities.StartedOperation{}, unavailable
		}
		return activities.StartedOperation{Operation: testDeleteOp}, nil
	})
	s.env.OnActivity(acts.PollOperation, mock.Anything, testDeleteOp).Return(activities.PollResult{Operation: insights.Operation{Name: testDeleteOp, Done: true}}, nil)
	s.cancelDeletingTheModel()

	s.Equal(testDeleteOp, s.deletedAfterCancel().DeleteOperation)
	s.Require().Len(tries, 7)
	s.Greater(tries[6].Sub(tries[0]), 2*time.Minute, "the deletion was retried well past its StartToClose")
}
