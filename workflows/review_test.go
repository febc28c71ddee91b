package workflows

import (
	"context"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/grpc/codes"

	"github.com/issuemodels/durable-lro/activities"
	"github.com/issuemodels/durable-lro/insights"
)

// Review (promise 3, never a training left running untracked): the create loop's own deadline.
// The region's slot is held by someone else's training for most of the polling timeout; the
// attempt that finally gets through loses its reply (committed). The loop's next step is the
// deadline check, which ends the run with PollTimeout at once: no look-up, no cancel, the
// training the run just started runs on untracked. Once an attempt may have committed, the
// timeout must look (and cancel what it finds) as the poll loop's timeout does.
func (s *createSuite) TestReviewTimeoutAfterAmbiguousCreateLooksAndCancels() {
	start := s.env.Now()
	var cancels int
	attempts := s.createAttempts(func(n int, p activities.CreateIssueModelParams) (activities.StartedOperation, error) {
		switch {
		case p.LookFrom != nil:
			return activities.StartedOperation{Operation: testOp}, nil
		case s.env.Now().Sub(start) < 25*time.Minute:
			return activities.StartedOperation{}, apiError("CreateIssueModel", codes.ResourceExhausted)
		}
		return activities.StartedOperation{}, apiError("CreateIssueModel", codes.DeadlineExceeded) // committed, reply lost
	})
	s.env.OnActivity(acts.CancelOperation, mock.Anything, testOp).Return(
		func(context.Context, string) (activities.CancelResult, error) {
			cancels++
			return activities.CancelResult{}, nil
		}).Maybe()
	s.env.OnActivity(acts.PollOperation, mock.Anything, testOp).Return(asPoll(
		func(context.Context, string) (insights.Operation, error) {
			if cancels > 0 {
				return failedOp(insights.CodeCancelled, "cancelled"), nil
			}
			return runningOp(), nil
		})).Maybe()
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(), `"polling":{"initialInterval":"30s","timeout":"30m","jitter":0}`))
	s.Require().True(s.env.IsWorkflowCompleted())
	s.T().Logf("attempts %d, ended after %s: %v", len(attempts.params), s.env.Now().Sub(start), s.env.GetWorkflowError())
	s.Greater(len(attempts.params), 0)
	s.NotNil(attempts.params[len(attempts.params)-1].LookFrom, "the run ended right after an attempt that may have committed, without looking for its training")
	s.Equal(1, cancels, "the training the timed-out run may have started must be found and cancelled")
	appErr := s.failedWith(insights.ErrPollTimeout)
	s.Contains(appErr.Error(), "ended cancelled")
}

// Review (mixed fleet, promises 2 and 3): a run a new worker started makes an ambiguous attempt
// (reply lost, the training committed), then, inside NotFoundGrace, a LookOnly attempt that the
// lagging list answers with an empty success ({alreadyDone:true}): the new loop reads it as "not
// listed yet". The next workflow task goes to a worker of acf47ed (no Worker Versioning): it skips
// the create-looks-after-ambiguity marker and replays createOperation's old body, whose commands
// match this history (activity, timer, activity: parameters are not compared), and which reads
// an empty success as "a cancel's look-up found nothing": the run ends CANCELLED, "cancelled
// before an operation was created", though nobody asked to cancel, and its training runs on
// untracked.
//
// Phase 1 runs today's code and records what its first two CreateIssueModel activities returned;
// phase 2 hands those recorded results to acf47ed's body (DefaultVersion: legacy.go's
// createForgettingAfterRefusal is acf47ed's createOperation), as an old worker replaying that
// history would. It passes once the new loop records nothing an old worker misreads (e.g. its
// look-only step is an activity type of its own, so an old worker fails the task as
// non-deterministic and a new worker takes it; or "not listed yet" is an ambiguous error).
func (s *createSuite) TestReviewMixedFleetOldWorkerReadsLookOnlyResultAsNothingCreated() {
	type answer struct {
		res activities.StartedOperation
		err error
	}
	var recorded []answer
	e1 := s.NewTestWorkflowEnvironment()
	e1.RegisterActivity(acts)
	RegisterWorkflows(e1)
	n1 := 0
	e1.OnActivity(acts.CreateIssueModel, mock.Anything, mock.Anything).Return(
		func(_ context.Context, p activities.CreateIssueModelParams) (activities.StartedOperation, error) {
			n1++
			a := answer{}
			switch {
			case n1 == 1:
				a.err = apiError("CreateIssueModel", codes.Unavailable) // committed, reply lost
			case p.LookFrom != nil && e1.Now().Sub(*p.LookFrom) >= time.Minute:
				a.res = activities.StartedOperation{Operation: testOp}
			case p.LookOnly:
				a.res = activities.StartedOperation{AlreadyDone: true} // what the activity answers: not listed yet
			default:
				a.res = activities.StartedOperation{Operation: testParent + "/operations/second-model"}
			}
			recorded = append(recorded, a)
			return a.res, a.err
		})
	// The look-only step, its own activity type since the fix: not listed until a minute passed.
	e1.OnActivity(acts.FindIssueModelCreation, mock.Anything, mock.Anything).Return(
		func(_ context.Context, p activities.CreateIssueModelParams) (activities.StartedOperation, error) {
			if e1.Now().Sub(*p.LookFrom) >= time.Minute {
				return activities.StartedOperation{Operation: testOp}, nil
			}
			return activities.StartedOperation{AlreadyDone: true}, nil
		}).Maybe()
	e1.OnActivity(acts.PollOperation, mock.Anything, mock.Anything).Return(asPoll(
		func(context.Context, string) (insights.Operation, error) { return succeededOp(), nil }))
	e1.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(), laggingListPolicy))
	s.Require().NoError(e1.GetWorkflowError())
	if len(recorded) < 2 {
		return // the second step is not a CreateIssueModel activity: an old worker's replay fails the task
	}

	s.env.OnGetVersion(createLooksAfterAmbiguityChange, workflow.DefaultVersion, createLooksAfterAmbiguityVersion).Return(workflow.DefaultVersion)
	s.createAttempts(func(n int, p activities.CreateIssueModelParams) (activities.StartedOperation, error) {
		if n <= 2 {
			return recorded[n-1].res, recorded[n-1].err // as the new worker recorded them
		}
		return activities.StartedOperation{Operation: testOp}, nil
	})
	s.env.OnActivity(acts.PollOperation, mock.Anything, testOp).Return(asPoll(
		func(context.Context, string) (insights.Operation, error) { return succeededOp(), nil })).Maybe()
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(), laggingListPolicy))
	s.Require().True(s.env.IsWorkflowCompleted())
	s.NoError(s.env.GetWorkflowError(), "no one asked to cancel: the old worker must go on to the training, not end 'cancelled before an operation was created'")
}

// Review (history bound, finding J; promise 3 at its limit): after a Temporal cancel the run
// never continues as new (shouldContinueAsNew returns false once temporalCancelled), yet it now
// polls on until the outcome or the timeout's grace. With the default policy (timeout 24h, max
// interval 45s) and a cancel the server cannot honour (UNIMPLEMENTED) or that the training
// outlasts, one run makes ~2,000 polls, ~12,000 events: past README's "no run passes 4,096";
// with maxInterval 10s it passes Temporal's 51,200-event limit, where the server terminates the
// run and its training (and deleteModelIfCancelFails's deletion) is left untracked.
func (s *createSuite) TestReviewTemporalCancelledRunStillBoundsItsHistory() {
	s.expectCreate()
	s.env.OnActivity(acts.CancelOperation, mock.Anything, testOp).Return(activities.CancelResult{Unimplemented: true}, nil)
	polls := 0
	s.env.OnActivity(acts.PollOperation, mock.Anything, testOp).Return(asPoll(
		func(context.Context, string) (insights.Operation, error) { polls++; return runningOp(), nil }))
	s.env.RegisterDelayedCallback(s.env.CancelWorkflow, time.Minute)
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(), `"polling":{"jitter":0}`))
	s.Require().True(s.env.IsWorkflowCompleted())
	s.T().Logf("one run made %d polls, then: %v", polls, s.env.GetWorkflowError())
	s.LessOrEqual(polls, DefaultContinueAsNewAfterPolls+1, "a run continues as new after continueAsNewAfterPolls polls, cancelled or not")
}

// Review (promise 3, finding M's outlast not reaching the lifecycle's children): the deploy
// step's child AwaitOperationWorkflow awaits an operation its parent just started, but counts it
// "known" only after a successful poll (known = startedOperation || ContinuedAsNew > 0). A
// non-retryable poll error on its first poll (PERMISSION_DENIED while IAM changes, for a minute)
// fails the child at once; the rollback's "-deploy-outcome" child polls again at once and fails
// the same way; the run then ends failed while the deployment goes on and makes the new model
// DEPLOYED after the run ended. A child that awaits its parent's operation (ParentWorkflowExecution
// set) should treat it as known and outlast the refusal, like the create run does.
func (s *lifecycleSuite) TestReviewDeployChildOutlastsAPermissionDeniedOnItsFirstPolls() {
	s.models()
	s.env.OnWorkflow(CreateIssueModelWorkflowType, mock.Anything, mock.Anything).Return(ptr(trainedResult(900, 12)), nil).Once()
	s.env.OnActivity(acts.DeployIssueModel, mock.Anything, testModel).Return(activities.StartedOperation{Operation: deployOp}, nil).Once()
	start := s.env.Now()
	s.env.OnActivity(acts.PollOperation, mock.Anything, deployOp).Return(asPoll(
		func(context.Context, string) (insights.Operation, error) {
			if s.env.Now().Sub(start) < time.Minute {
				return insights.Operation{}, apiError("GetOperation", codes.PermissionDenied)
			}
			return *doneOp(deployOp), nil
		}))
	s.env.OnActivity(acts.UndeployIssueModel, mock.Anything, testModel).Return(activities.StartedOperation{AlreadyDone: true}, nil).Maybe()
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, lifecycleInput(QualityGate{}))
	s.Require().True(s.env.IsWorkflowCompleted())
	s.Require().NoError(s.env.GetWorkflowError(), "the run ended while its deployment went on")
	var res LifecycleResult
	s.Require().NoError(s.env.GetWorkflowResult(&res))
	s.Equal("DEPLOYED", res.State)
}

// Review (history bound, on the updates of 6c3bfbc): a cancel update waits until the server has
// taken the cancel (CancelSent) or the outcome is known, and shouldContinueAsNew refuses to
// continue as new while any handler runs. A cancel the server keeps refusing (PERMISSION_DENIED
// while IAM is changed, NOT_FOUND from a list that lags, ...: tryCancel retries it before every
// poll) therefore stops continue-as-new for the rest of the run: with the default policy ~2,000
// polls in one run, past the 4,096-event bound. The handler could answer "not taken yet" when
// the run continues as new (the next run keeps retrying), instead of pinning the run.
func (s *createSuite) TestReviewPendingCancelUpdateStillBoundsTheHistory() {
	s.expectCreate()
	s.env.OnActivity(acts.CancelOperation, mock.Anything, testOp).Return(activities.CancelResult{}, apiError("CancelOperation", codes.PermissionDenied))
	polls := 0
	s.env.OnActivity(acts.PollOperation, mock.Anything, testOp).Return(asPoll(
		func(context.Context, string) (insights.Operation, error) { polls++; return runningOp(), nil }))
	s.env.RegisterDelayedCallback(func() {
		s.env.UpdateWorkflow(CancelUpdate, "u1", &testsuite.TestUpdateCallback{
			OnAccept: func() {}, OnReject: func(error) {}, OnComplete: func(any, error) {},
		}, CancelRequest{Reason: "stop"})
	}, time.Minute)
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(), `"polling":{"jitter":0}`))
	s.Require().True(s.env.IsWorkflowCompleted())
	s.T().Logf("one run made %d polls, then: %v", polls, s.env.GetWorkflowError())
	s.LessOrEqual(polls, DefaultContinueAsNewAfterPolls+1, "a run continues as new after continueAsNewAfterPolls polls")
}
