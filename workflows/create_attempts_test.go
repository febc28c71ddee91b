package workflows

import (
	"context"
	"sync"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/issuemodels/durable-lro/activities"
	"github.com/issuemodels/durable-lro/insights"
)

func apiError(method string, code codes.Code) error {
	return insights.FromAPIError(method, status.Error(code, code.String()))
}

// createReplyLost answers a create attempt as one whose reply was lost (UNAVAILABLE): it may
// have committed.
func createReplyLost() (activities.StartedOperation, error) {
	return activities.StartedOperation{}, apiError("CreateIssueModel", codes.Unavailable)
}

// afterALostReply answers the first create attempt as one whose reply was lost, and the later
// ones (n from 2) with then.
func afterALostReply(then func(n int, p activities.CreateIssueModelParams) (activities.StartedOperation, error)) func(int, activities.CreateIssueModelParams) (activities.StartedOperation, error) {
	return func(n int, p activities.CreateIssueModelParams) (activities.StartedOperation, error) {
		if n == 1 {
			return createReplyLost()
		}
		return then(n, p)
	}
}

// createAttempts answers CreateIssueModel with answer(n, params) for the n-th attempt (from 1)
// and records each attempt's params and time.
type createAttempts struct {
	mu     sync.Mutex
	params []activities.CreateIssueModelParams
	at     []time.Time
}

func (s *createSuite) createAttempts(answer func(n int, p activities.CreateIssueModelParams) (activities.StartedOperation, error)) *createAttempts {
	c := &createAttempts{}
	record := func(_ context.Context, p activities.CreateIssueModelParams) (activities.StartedOperation, error) {
		c.mu.Lock()
		c.params = append(c.params, p)
		c.at = append(c.at, s.env.Now())
		n := len(c.params)
		c.mu.Unlock()
		return answer(n, p)
	}
	// Look-only attempts are FindIssueModelCreation (LookOnly set), the others CreateIssueModel.
	s.env.OnActivity(acts.CreateIssueModel, mock.Anything, mock.Anything).Return(record).Maybe()
	s.env.OnActivity(acts.FindIssueModelCreation, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, p activities.CreateIssueModelParams) (activities.StartedOperation, error) {
			p.LookOnly = true
			return record(ctx, p)
		}).Maybe()
	return c
}

// Finding A: a lost create reply, then the region's one-creation slot refusing the retry (held by
// the very training the lost attempt started). The refusal must not make the next attempt create
// without looking, and an empty look-up must not be trusted while the list may lag.
func (s *createSuite) TestRefusalAfterAnAmbiguousCreateDoesNotForgetIt() {
	attempts := s.createAttempts(afterALostReply(func(n int, p activities.CreateIssueModelParams) (activities.StartedOperation, error) {
		switch {
		case n == 2:
			return activities.StartedOperation{}, apiError("CreateIssueModel", codes.ResourceExhausted)
		case p.LookFrom != nil && n >= 5:
			return activities.StartedOperation{Operation: testOp}, nil // the list caught up
		case p.LookFrom != nil:
			return activities.StartedOperation{AlreadyDone: true}, nil // the list lags
		}
		return activities.StartedOperation{Operation: testParent + "/operations/second-model"}, nil
	}))
	s.pollSequence(succeededOp())
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(), laggingListPolicy))
	res := s.succeeded()
	s.Equal(testOp, res.Operation, "the run adopted its first attempt's training instead of making a second model")
	for i, p := range attempts.params[1:] {
		s.NotNil(p.LookFrom, "attempt %d after an ambiguous one must look first", i+2)
		if attempts.at[i+1].Sub(attempts.at[0]) < time.Minute {
			s.True(p.LookOnly, "attempt %d, within the list's lag of the ambiguous attempt, must only look", i+2)
		}
	}
}

// Finding A, cancel side: a cancel after an ambiguous attempt and a refusal must look before it
// says nothing was created.
func (s *createSuite) TestCancelAfterAmbiguousThenRefusedCreateFindsTheTraining() {
	s.createAttempts(func(n int, p activities.CreateIssueModelParams) (activities.StartedOperation, error) {
		switch {
		case n == 1:
			return activities.StartedOperation{}, apiError("CreateIssueModel", codes.DeadlineExceeded)
		case n == 2 && !p.LookOnly:
			return activities.StartedOperation{}, apiError("CreateIssueModel", codes.ResourceExhausted)
		case p.LookFrom != nil:
			return activities.StartedOperation{Operation: testOp}, nil
		}
		return activities.StartedOperation{AlreadyDone: true}, nil
	})
	res := s.cancelSignalledAt(8*time.Second, quietPolicy)
	s.Equal(testOp, res.Operation, "the training the lost reply started is found and cancelled")
}

// Finding A with a lagging list: a cancel right after a lost create reply must not trust a
// look-up made before the operation list could show the new operation.
func (s *createSuite) TestCancelAfterLostCreateReplyLooksAgainUntilTheListCaughtUp() {
	s.createAttempts(afterALostReply(func(n int, p activities.CreateIssueModelParams) (activities.StartedOperation, error) {
		switch {
		case p.LookFrom != nil && s.env.Now().Sub(*p.LookFrom) >= time.Minute:
			return activities.StartedOperation{Operation: testOp}, nil
		}
		return activities.StartedOperation{AlreadyDone: true}, nil // not listed yet
	}))
	res := s.cancelSignalledAt(time.Second, laggingListPolicy)
	s.Equal(testOp, res.Operation)
}

// Finding D: a Temporal cancel during the create retry backoff ends the wait at once.
func (s *createSuite) TestTemporalCancelDuringCreateBackoffIsNoticedAtOnce() {
	s.createAttempts(func(int, activities.CreateIssueModelParams) (activities.StartedOperation, error) {
		return activities.StartedOperation{}, apiError("CreateIssueModel", codes.ResourceExhausted)
	})
	start := s.env.Now()
	// Backoffs 5, 10, 20, 40, 80, 160 s: at 190 s the run is 35 s into a 160 s wait.
	s.env.RegisterDelayedCallback(s.env.CancelWorkflow, 190*time.Second)
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(), quietPolicy))
	res := s.cancelledResult()
	s.Empty(res.Operation)
	s.Less(s.env.Now().Sub(start), 200*time.Second, "the cancel ended the backoff when it came")
}

// Runs recorded before createLooksAfterAmbiguityChange keep their commands: a refusal clears the
// look-up.
func (s *createSuite) TestCreateOfARecordedRunForgetsAfterARefusal() {
	s.env.OnGetVersion(createLooksAfterAmbiguityChange, workflow.DefaultVersion, createLooksAfterAmbiguityVersion).Return(workflow.DefaultVersion)
	attempts := s.createAttempts(afterALostReply(func(n int, p activities.CreateIssueModelParams) (activities.StartedOperation, error) {
		switch n {
		case 2:
			return activities.StartedOperation{}, apiError("CreateIssueModel", codes.ResourceExhausted)
		}
		return activities.StartedOperation{Operation: testOp}, nil
	}))
	s.pollSequence(succeededOp())
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(), quietPolicy))
	s.Require().NoError(s.env.GetWorkflowError())
	s.Require().Len(attempts.params, 3)
	s.NotNil(attempts.params[1].LookFrom)
	s.Nil(attempts.params[2].LookFrom, "the recorded behaviour")
}

// Found by the explorer (A2): a later attempt that may have committed restarts the list's lag
// window, so a cancel does not trust an empty look-up made before that training is listed.
func (s *createSuite) TestCancelAfterASecondLostCreateReplyWaitsForTheListAgain() {
	var secondCommit time.Time
	s.createAttempts(afterALostReply(func(n int, p activities.CreateIssueModelParams) (activities.StartedOperation, error) {
		switch {
		case !p.LookOnly:
			secondCommit = s.env.Now() // committed, reply lost
			return createReplyLost()
		case !secondCommit.IsZero() && s.env.Now().Sub(secondCommit) >= time.Minute:
			return activities.StartedOperation{Operation: testOp}, nil
		}
		return activities.StartedOperation{AlreadyDone: true}, nil // nothing listed yet
	}))
	// Attempts at 0, 5, 15, 35 s only look (the first failed at 0 s); the one at 75 s creates.
	res := s.cancelSignalledAt(80*time.Second, laggingListPolicy)
	s.Equal(testOp, res.Operation, "the training of the second lost reply is found and cancelled")
}

// Found by the explorer (Q): after an attempt that may have committed, a refused look-up does not
// end the run while that training may run on untracked.
func (s *createSuite) TestRefusedLookUpAfterALostCreateReplyIsOutlasted() {
	s.createAttempts(afterALostReply(func(n int, p activities.CreateIssueModelParams) (activities.StartedOperation, error) {
		switch {
		case n < 5:
			return activities.StartedOperation{}, apiError("ListOperations", codes.PermissionDenied)
		}
		return activities.StartedOperation{Operation: testOp}, nil
	}))
	s.pollSequence(succeededOp())
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(), quietPolicy))
	res := s.succeeded()
	s.Equal(testOp, res.Operation)
}

// errCreationSlotTaken is the region's one creation slot refusing a create.
var errCreationSlotTaken = insights.FromAPIError("CreateIssueModel", status.Error(codes.ResourceExhausted, "one creation per region"))

func createParams(lookFrom, lookOnly bool) any {
	return mock.MatchedBy(func(p activities.CreateIssueModelParams) bool {
		return (p.LookFrom != nil) == lookFrom && p.LookOnly == lookOnly
	})
}

func (s *createSuite) TestCreateAfterAmbiguousFailureLooksForTheEarlierAttempt() {
	s.env.OnActivity(acts.CreateIssueModel, mock.Anything, createParams(false, false)).
		Return(activities.StartedOperation{}, insights.FromAPIError("CreateIssueModel", status.Error(codes.Unavailable, "reply lost"))).Once()
	s.env.OnActivity(acts.CreateIssueModel, mock.Anything, createParams(true, false)).
		Return(activities.StartedOperation{Operation: testOp}, nil).Once()
	s.pollSequence(succeededOp())
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(), quietPolicy))
	s.Require().NoError(s.env.GetWorkflowError())
}

func (s *createSuite) TestCreateAfterRefusalDoesNotLookForOthersOperations() {
	s.env.OnActivity(acts.CreateIssueModel, mock.Anything, createParams(false, false)).
		Return(activities.StartedOperation{}, errCreationSlotTaken).Twice()
	s.env.OnActivity(acts.CreateIssueModel, mock.Anything, createParams(false, false)).
		Return(activities.StartedOperation{Operation: testOp}, nil).Once()
	s.pollSequence(succeededOp())
	start := s.env.Now()
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(), quietPolicy))
	s.Require().NoError(s.env.GetWorkflowError())
	// Two backoffs (5s, 10s) then the first poll interval (30s).
	s.Equal(45*time.Second, s.env.Now().Sub(start).Round(time.Second))
}

func (s *createSuite) TestQuotaWaitIsBoundedByTheTimeout() {
	s.env.OnActivity(acts.CreateIssueModel, mock.Anything, mock.Anything).
		Return(activities.StartedOperation{}, errCreationSlotTaken)
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(), `"polling":{"timeout":"30m"}`))
	appErr := s.failedWith(insights.ErrPollTimeout)
	s.Contains(appErr.Error(), "one creation per region")
}

func (s *createSuite) TestCancelWhileWaitingForQuotaCreatesNothing() {
	s.env.OnActivity(acts.CreateIssueModel, mock.Anything, createParams(false, false)).
		Return(activities.StartedOperation{}, errCreationSlotTaken)
	s.env.RegisterDelayedCallback(func() { s.env.SignalWorkflow(CancelSignal, CancelRequest{Reason: "not now"}) }, 2*time.Minute)
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(), quietPolicy))
	res := s.cancelledResult()
	s.Equal(OutcomeCancelled, res.Outcome)
	s.Empty(res.Operation)
}

func (s *createSuite) TestCancelAfterAmbiguousCreateOnlyLooksUp() {
	s.env.OnActivity(acts.CreateIssueModel, mock.Anything, createParams(false, false)).
		Return(activities.StartedOperation{}, insights.FromAPIError("CreateIssueModel", status.Error(codes.DeadlineExceeded, "deadline"))).Once()
	s.env.OnActivity(acts.FindIssueModelCreation, mock.Anything, createParams(true, true)).
		Return(activities.StartedOperation{Operation: testOp}, nil).Once()
	res := s.cancelSignalledAt(time.Second, quietPolicy)
	s.Equal(testOp, res.Operation)
}
