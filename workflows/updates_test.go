package workflows

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/issuemodels/durable-lro/activities"
	"github.com/issuemodels/durable-lro/insights"
)

// updateResult records one update's outcome in the test environment.
type updateResult struct {
	rejected, failed error
	accepted, done   bool
	value            any
}

func (s *workflowSuite) update(name, id string, into any, args ...any) *updateResult {
	r := &updateResult{}
	s.env.UpdateWorkflow(name, id, &testsuite.TestUpdateCallback{
		OnAccept: func() { r.accepted = true },
		OnReject: func(err error) { r.rejected = err },
		OnComplete: func(v any, err error) {
			r.done, r.failed = true, err
			if err == nil && into != nil {
				// The test environment hands over the handler's Go value: copy it through JSON.
				b, _ := json.Marshal(v)
				_ = json.Unmarshal(b, into)
			}
			r.value = v
		},
	}, args...)
	return r
}

// The cancel update returns once CancelOperation was sent, with the server's answer, while the
// run goes on to the outcome like the cancel signal's.
func (s *createSuite) TestCancelUpdateReturnsTheServersAnswer() {
	s.expectCreate()
	s.pollSequence(runningOp(), runningOp(), failedOp(insights.CodeCancelled, "cancelled"))
	s.env.OnActivity(acts.CancelOperation, mock.Anything, testOp).Return(activities.CancelResult{}, nil).Once()
	var answer CancelAnswer
	var r *updateResult
	s.env.RegisterDelayedCallback(func() {
		r = s.update(CancelUpdate, "u1", &answer, CancelRequest{Reason: "wrong filter"})
	}, 45*time.Second)
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(), quietPolicy))

	s.Require().NotNil(r)
	s.True(r.accepted)
	s.True(r.done)
	s.NoError(r.failed)
	s.Equal(CancelAnswer{Operation: testOp, Answer: CancelAccepted, Reason: "wrong filter"}, answer)
	res := s.cancelledResult()
	s.Equal(OutcomeCancelled, res.Outcome)
	s.Equal("wrong filter", res.CancelReason)
}

// UNIMPLEMENTED is an answer; a second cancel after the first was taken returns it at once.
func (s *createSuite) TestCancelUpdateUnimplementedAndRepeated() {
	s.expectCreate()
	s.pollSequence(runningOp(), runningOp(), runningOp(), succeededOp())
	s.env.OnActivity(acts.CancelOperation, mock.Anything, testOp).Return(activities.CancelResult{Unimplemented: true}, nil).Once()
	var first, second CancelAnswer
	s.env.RegisterDelayedCallback(func() { s.update(CancelUpdate, "u1", &first) }, 45*time.Second)
	s.env.RegisterDelayedCallback(func() { s.update(CancelUpdate, "u2", &second, CancelRequest{Reason: "again"}) }, 50*time.Second)
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(), quietPolicy))

	s.Require().NoError(s.env.GetWorkflowError())
	s.Equal(CancelUnimplementedAnswer, first.Answer)
	s.Equal(CancelUnimplementedAnswer, second.Answer)
	s.Equal("cancel requested", second.Reason, "the first request's reason stays")
}

// A cancel while CreateIssueModel has not started anything ends the run with no operation and
// says so.
func (s *createSuite) TestCancelUpdateBeforeAnyOperation() {
	s.env.OnActivity(acts.CreateIssueModel, mock.Anything, mock.Anything).
		Return(activities.StartedOperation{}, insights.FromAPIError("CreateIssueModel", status.Error(codes.ResourceExhausted, "one creation per region")))
	var answer CancelAnswer
	var r *updateResult
	s.env.RegisterDelayedCallback(func() { r = s.update(CancelUpdate, "u1", &answer) }, 2*time.Second)
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(), quietPolicy))

	s.Require().NotNil(r)
	s.True(r.done, "the handler answered before the run closed")
	s.Equal(CancelNothingCreated, answer.Answer)
	s.Equal(OutcomeCancelled, s.cancelledResult().Outcome)
}

// poll-now returns the status after the poll it caused; its validator refuses it before the
// operation exists, and both updates are refused once the run ends, writing no history.
func (s *createSuite) TestPollNowUpdateAndValidators() {
	s.env.OnActivity(acts.CreateIssueModel, mock.Anything, mock.Anything).After(10*time.Second).
		Return(activities.StartedOperation{Operation: testOp}, nil).Once()
	s.pollSequence(runningOp(), succeededOp())
	var early *updateResult
	var st PollStatus
	var now *updateResult
	s.env.RegisterDelayedCallback(func() { early = s.update(PollNowUpdate, "p0", nil) }, 5*time.Second)
	s.env.RegisterDelayedCallback(func() { now = s.update(PollNowUpdate, "p1", &st) }, 20*time.Second)
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(), quietPolicy))

	s.Require().NoError(s.env.GetWorkflowError())
	s.Require().NotNil(early)
	s.Error(early.rejected)
	s.Contains(early.rejected.Error(), "no operation to poll yet")
	s.False(early.accepted)
	s.Require().NotNil(now)
	s.True(now.done)
	s.Equal(1, st.Polls, "the status after the poll it caused, at 20s instead of the timer's 40s")
}

// Once the run knows its outcome, both validators refuse (the server refuses updates of a closed
// run itself).
func (s *createSuite) TestValidatorsRefuseOnceTheOutcomeIsKnown() {
	p := &poller{state: &PollState{Operation: testOp}, progress: progress{done: true, outcome: OutcomeSucceeded}}
	s.ErrorContains(p.validateCancel(nil), "nothing to cancel")
	s.ErrorContains(p.validatePollNow(), "no more polls")
	p.progress.done = false
	s.NoError(p.validateCancel(nil))
	s.NoError(p.validatePollNow())
}

// Runs an older release started (no updates marker) serve no update: the SDK refuses it as
// unknown, writing no history, and the run goes on as before.
func (s *createSuite) TestRunsWithoutTheMarkerRefuseUpdates() {
	s.env.OnGetVersion(updatesChange, workflow.DefaultVersion, updatesVersion).Return(workflow.DefaultVersion)
	s.expectCreate()
	s.pollSequence(runningOp(), succeededOp())
	var r *updateResult
	s.env.RegisterDelayedCallback(func() { r = s.update(CancelUpdate, "u1", nil) }, 45*time.Second)
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(), quietPolicy))
	s.Require().NoError(s.env.GetWorkflowError())
	s.Require().NotNil(r)
	s.Error(r.rejected)
	var res CreateIssueModelResult
	s.Require().NoError(s.env.GetWorkflowResult(&res))
	s.Equal(OutcomeSucceeded, res.Outcome)
}

// A cancel the server did not take before the operation finished answers ALREADY_DONE, and the
// run reports the model as it would after the signal.
func (s *createSuite) TestCancelUpdateAlreadyDone() {
	s.expectCreate()
	s.pollSequence(runningOp(), succeededOp())
	s.env.OnActivity(acts.CancelOperation, mock.Anything, testOp).
		Return(activities.CancelResult{}, temporal.NewNonRetryableApplicationError("refused", "Unavailable", nil))
	var answer CancelAnswer
	var r *updateResult
	s.env.RegisterDelayedCallback(func() { r = s.update(CancelUpdate, "u1", &answer) }, 45*time.Second)
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(), quietPolicy))

	s.Require().NoError(s.env.GetWorkflowError())
	s.Require().NotNil(r)
	s.True(r.done)
	s.Equal(CancelAlreadyDone, answer.Answer)
	var res CreateIssueModelResult
	s.Require().NoError(s.env.GetWorkflowResult(&res))
	s.Equal(OutcomeCompletedDespiteCancel, res.Outcome)
}

// AwaitOperationWorkflow serves the same updates.
func TestAwaitOperationCancelUpdate(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterActivity(acts)
	RegisterWorkflows(env)
	n := 0
	env.OnActivity(acts.PollOperation, mock.Anything, testOp).Return(asPoll(func(context.Context, string) (insights.Operation, error) {
		n++
		if n >= 3 {
			return failedOp(insights.CodeCancelled, "cancelled"), nil
		}
		return runningOp(), nil
	}))
	env.OnActivity(acts.CancelOperation, mock.Anything, testOp).Return(activities.CancelResult{}, nil).Once()
	var answer CancelAnswer
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(CancelUpdate, "u1", &testsuite.TestUpdateCallback{
			OnAccept: func() {}, OnReject: func(err error) { t.Errorf("rejected: %v", err) },
			OnComplete: func(v any, err error) {
				if err != nil {
					t.Errorf("update: %v", err)
				}
				answer, _ = v.(CancelAnswer)
			},
		}, CancelRequest{Reason: "not needed"})
	}, 45*time.Second)
	env.ExecuteWorkflow(AwaitOperationWorkflow, AwaitOperationInput{Operation: testOp,
		Polling: &PollingPolicy{InitialInterval: "30s", MaxInterval: "1m"}})
	if answer.Answer != CancelAccepted || answer.Reason != "not needed" {
		t.Errorf("answer %+v, want ACCEPTED for \"not needed\"", answer)
	}
	if !env.IsWorkflowCompleted() {
		t.Error("the run did not end")
	}
}

// A poll-now update that arrives while a poll is running gets the poll right after it, not
// the one after the next timer.
func (s *createSuite) TestPollNowUpdateDuringAPoll() {
	s.expectCreate()
	n := 0
	s.env.OnActivity(acts.PollOperation, mock.Anything, testOp).After(5 * time.Second).Return(asPoll(
		func(context.Context, string) (insights.Operation, error) {
			n++
			if n >= 4 {
				return succeededOp(), nil
			}
			return runningOp(), nil
		}))
	var answeredAt time.Time
	var st PollStatus
	s.env.RegisterDelayedCallback(func() {
		s.env.UpdateWorkflow(PollNowUpdate, "p1", &testsuite.TestUpdateCallback{
			OnAccept: func() {}, OnReject: func(err error) { s.Fail("rejected", "%v", err) },
			OnComplete: func(v any, err error) {
				s.NoError(err)
				answeredAt = s.env.Now()
				if p, ok := v.(*PollStatus); ok {
					st = *p
				}
			},
		})
	}, 32*time.Second) // the first poll runs from 30 s to 35 s
	start := s.env.Now()
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(), quietPolicy))
	s.Require().NoError(s.env.GetWorkflowError())
	s.Equal(2, st.Polls)
	s.Less(answeredAt.Sub(start), 50*time.Second, "answered after the poll that followed, not after the next 1m timer")
}

// Temporal's cancel arriving while the cancel update waits for CancelOperation does not cut the
// update short: it answers with the server's answer.
func (s *createSuite) TestCancelUpdateOutlivesTemporalCancel() {
	s.expectCreate()
	s.pollSequence(runningOp(), runningOp(), failedOp(insights.CodeCancelled, "cancelled"))
	s.env.OnActivity(acts.CancelOperation, mock.Anything, testOp).After(10*time.Second).Return(activities.CancelResult{}, nil).Once()
	var answer CancelAnswer
	var r *updateResult
	s.env.RegisterDelayedCallback(func() { r = s.update(CancelUpdate, "u1", &answer, CancelRequest{Reason: "stop"}) }, 45*time.Second)
	s.env.RegisterDelayedCallback(func() { s.env.CancelWorkflow() }, 50*time.Second)
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(), quietPolicy))

	s.Require().NotNil(r)
	s.NoError(r.failed)
	s.Equal(CancelAccepted, answer.Answer)
	s.Equal(OutcomeCancelled, s.cancelledResult().Outcome)
}
