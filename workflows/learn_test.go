package workflows

import (
	"context"
	"encoding/json"
	"time"

	"cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	"github.com/stretchr/testify/mock"
	sdkpb "go.temporal.io/api/sdk/v1"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/issuemodels/durable-lro/activities"
	"github.com/issuemodels/durable-lro/insights"
)

const learnPolicy = `"polling":{"jitter":0,"learn":true}`

// trainingOp is the operation of a training on conversations, done (succeeded) or not, with the
// metadata the server fills in: the request's trainingConversationsCount.
func trainingOp(conversations int64, done bool) insights.Operation {
	md, _ := anypb.New(&contactcenterinsightspb.CreateIssueModelMetadata{
		CreateTime: timestamppb.New(time.Unix(1700000000, 0)),
		Request: &contactcenterinsightspb.CreateIssueModelRequest{IssueModel: &contactcenterinsightspb.IssueModel{
			InputDataConfig: &contactcenterinsightspb.IssueModel_InputDataConfig{TrainingConversationsCount: conversations},
		}},
	})
	op := succeededOp()
	op.Metadata, op.Done = insights.MarshalREST(md), done
	if !done {
		op.Response = nil
	}
	return op
}

// learnedRun runs a learned training that ends endsAfter after it starts; EstimateTraining
// answers estimates in order (the last repeats). It returns the polls' and estimates' times
// since the start, and the params each estimate got.
func (s *createSuite) learnedRun(policy string, endsAfter time.Duration, estimates ...activities.TrainingEstimate) (polls, scans []time.Duration, params []activities.EstimateTrainingParams) {
	s.expectCreate()
	start := s.env.Now()
	s.env.OnActivity(acts.PollOperation, mock.Anything, testOp).Return(asPoll(
		func(context.Context, string) (insights.Operation, error) {
			at := s.env.Now().Sub(start)
			polls = append(polls, at.Round(time.Second))
			return trainingOp(8000, at >= endsAfter), nil
		}))
	if len(estimates) > 0 {
		s.env.OnActivity(acts.EstimateTraining, mock.Anything, mock.Anything).Return(
			func(_ context.Context, p activities.EstimateTrainingParams) (activities.TrainingEstimate, error) {
				scans = append(scans, s.env.Now().Sub(start).Round(time.Second))
				params = append(params, p)
				return estimates[min(len(scans)-1, len(estimates)-1)], nil
			})
	}
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(), policy))
	s.Require().True(s.env.IsWorkflowCompleted())
	s.Require().NoError(s.env.GetWorkflowError())
	return polls, scans, params
}

// queryAt runs the query at d on the test clock into out.
func (s *createSuite) queryAt(d time.Duration, query string, out any) {
	s.env.RegisterDelayedCallback(func() {
		v, err := s.env.QueryWorkflow(query)
		s.Require().NoError(err)
		s.Require().NoError(v.Get(out))
	}, d)
}

func spanOf(low, high time.Duration) activities.TrainingEstimate {
	return activities.TrainingEstimate{Samples: 300, Median: (low + high) / 2, Low: low, High: high, ByConversations: true,
		Peers: 40, RunningPeers: 30, Calls: 1, Why: "300 finished trainings"}
}

// Alone in its location (no other training running), nothing can contradict the history before
// the run ends: it waits the span out in one timer, with no re-check.
func (s *createSuite) TestLearnedScheduleAloneWaitsTheSpanInOneTimer() {
	alone := spanOf(20*time.Minute, 40*time.Minute)
	alone.Peers, alone.RunningPeers = 0, 0
	polls, scans, _ := s.learnedRun(learnPolicy, 25*time.Minute, alone)
	s.Len(scans, 1, "no re-check")
	s.Equal(20*time.Minute, polls[4])
	s.Len(polls, 4+1+7)
}

// The early polls run as without learning; then one estimate, no polls until the span's low
// (re-checks only), then the policy's cadence until the end.
func (s *createSuite) TestLearnedScheduleSkipsToTheSpansLow() {
	polls, scans, params := s.learnedRun(learnPolicy, 25*time.Minute, spanOf(20*time.Minute, 40*time.Minute))

	early := []time.Duration{10 * time.Second, 25 * time.Second, 48 * time.Second, 81 * time.Second}
	s.Equal(early, polls[:4], "the early polls are the plain policy's")
	s.Equal(81*time.Second, scans[0], "the estimate comes once the backoff reaches maxInterval")
	s.Equal(int64(8000), params[0].Conversations, "conditioned on the metadata's trainingConversationsCount")
	s.Equal(testOp, params[0].Operation)
	s.Equal(20*time.Minute, polls[4], "no poll before the span's low")
	for i := 5; i < len(polls); i++ {
		s.Equal(DefaultMaxInterval, polls[i]-polls[i-1], "then the policy's cadence")
	}
	s.Equal(25*time.Minute+15*time.Second, polls[len(polls)-1], "the end is noticed at the cadence")
	s.Len(polls, 4+1+7)
	s.Greater(len(scans), 1, "the skip re-checks the estimate")
	for i := 1; i < len(scans); i++ {
		s.GreaterOrEqual(scans[i]-scans[i-1], 2*DefaultMaxInterval)
	}
}

// A re-check that finds the history misleading ends the skip: the run polls at the policy's
// cadence from then on and the status says why.
func (s *createSuite) TestLearnedScheduleStopsWhenPeersContradictTheHistory() {
	misleading := activities.TrainingEstimate{Samples: 300, Peers: 60, EarlyPeers: 30, Misleading: true, Why: "history misleads: 30 of 60 ..."}
	var status PollStatus
	s.queryAt(10*time.Minute, StatusQuery, &status)
	polls, scans, _ := s.learnedRun(learnPolicy, 12*time.Minute, spanOf(30*time.Minute, time.Hour), misleading)

	s.Equal(2, len(scans), "one estimate, one re-check that stops the skip")
	s.Equal(81*time.Second+2*DefaultMaxInterval, scans[1])
	s.Equal(scans[1]+DefaultMaxInterval, polls[4], "polling resumes one interval after the re-check")
	s.Equal(12*time.Minute+36*time.Second, polls[len(polls)-1])
	s.Require().NotNil(status.Learned)
	s.False(status.Learned.Applied)
	s.True(status.Learned.Misleading)
	s.Equal(1, status.Learned.Rechecks)
	s.Contains(status.Learned.Why, "re-check 1 at ")
	s.Contains(status.Learned.Why, "history misleads")
}

// Thin history (no span) leaves the plain policy: the same polls as a run without learning.
func (s *createSuite) TestLearnedScheduleOnThinHistoryPollsAsThePlainPolicy() {
	thin := activities.TrainingEstimate{Samples: 3, Calls: 1, Why: "history thin: 3 finished trainings in the location, 20 needed"}
	learned, scans, _ := s.learnedRun(learnPolicy, 10*time.Minute, thin)
	s.Len(scans, 1)

	s.SetupTest()
	plain, _, _ := s.learnedRun(`"polling":{"jitter":0}`, 10*time.Minute)
	s.Equal(plain, learned)
}

// A training that fails within its first minute is noticed at the same poll as without
// learning, before any estimate.
func (s *createSuite) TestLearnedScheduleNoticesFastFailuresAsFastAsToday() {
	s.expectCreate()
	s.pollSequence(trainingOp(8000, false), failedOp(3, "the filter matches no conversations"))
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(), learnPolicy))
	s.True(insights.IsErrorType(s.env.GetWorkflowError(), insights.ErrOperationFailed))
	s.env.AssertNotCalled(s.T(), "EstimateTraining", mock.Anything, mock.Anything)
}

// A cancel during the skip is sent at once, and the cancellation is confirmed at the backoff's
// pace, not the skip's.
func (s *createSuite) TestLearnedScheduleCancelDuringTheSkip() {
	cancelled := false
	s.env.OnActivity(acts.CancelOperation, mock.Anything, testOp).Return(func(context.Context, string) (activities.CancelResult, error) {
		cancelled = true
		return activities.CancelResult{}, nil
	}).Once()
	s.env.RegisterDelayedCallback(func() { s.env.SignalWorkflow(CancelSignal, CancelRequest{Reason: "wrong filter"}) }, 5*time.Minute)
	s.expectCreate()
	start := s.env.Now()
	var polls []time.Duration
	s.env.OnActivity(acts.PollOperation, mock.Anything, testOp).Return(asPoll(
		func(context.Context, string) (insights.Operation, error) {
			polls = append(polls, s.env.Now().Sub(start).Round(time.Second))
			if cancelled {
				return failedOp(1, "cancelled"), nil
			}
			return trainingOp(8000, false), nil
		}))
	s.env.OnActivity(acts.EstimateTraining, mock.Anything, mock.Anything).Return(spanOf(time.Hour, 2*time.Hour), nil)
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(), learnPolicy))
	res := s.cancelledResult()
	s.Equal(OutcomeCancelled, res.Outcome)
	s.Equal(5*time.Minute, polls[len(polls)-1], "the cancel wakes the skip: sent, and confirmed by a poll at once")
	s.Len(polls, 5)
}

// The status and the Web UI summary show the estimate, the skip and why.
func (s *createSuite) TestLearnedScheduleInStatusAndSummary() {
	var status PollStatus
	var md sdkpb.WorkflowMetadata
	s.queryAt(5*time.Minute, StatusQuery, &status)
	s.queryAt(5*time.Minute, "__temporal_workflow_metadata", &md)
	s.learnedRun(learnPolicy, 25*time.Minute, spanOf(20*time.Minute, 40*time.Minute))

	l := status.Learned
	s.Require().NotNil(l)
	s.True(l.Applied)
	s.Equal(300, l.Samples)
	s.Equal("20m0s", l.Low)
	s.Equal("40m0s", l.High)
	s.Equal("30m0s", l.Median)
	s.True(l.ByConversations)
	s.Require().NotNil(l.SkipUntil)
	s.Equal(*l.SkipUntil, *status.NextPollAt, "next poll is the skip's end")
	s.Equal(2, l.Rechecks, "re-checks at 3m51s and 5m21s")
	s.Equal(3, l.ScanCalls)
	s.Contains(l.Why, "not polling until 20m0s after the start")
	s.Contains(md.GetCurrentDetails(), "· learned: no polls until "+l.SkipUntil.UTC().Format("15:04:05 UTC"))
	s.Contains(md.GetCurrentDetails(), "learned schedule: re-check 2 at ")
	s.Contains(md.GetCurrentDetails(), "300 finished trainings; not polling until 20m0s after the start")
}

// A run that attached to an operation does not know how long it has run: the mode says so and
// polls as the plain policy.
func (s *createSuite) TestLearnedScheduleNotAppliedWhenAttached() {
	n := 0
	s.env.OnActivity(acts.PollOperation, mock.Anything, testOp).Return(asPoll(
		func(context.Context, string) (insights.Operation, error) {
			n++
			return trainingOp(8000, n == 8), nil
		}))
	var status PollStatus
	s.queryAt(2*time.Minute, StatusQuery, &status)
	s.env.ExecuteWorkflow(AwaitOperationWorkflow, AwaitOperationInput{Operation: testOp, Polling: &PollingPolicy{Learn: true}})
	s.Require().NoError(s.env.GetWorkflowError())
	s.env.AssertNotCalled(s.T(), "EstimateTraining", mock.Anything, mock.Anything)
	s.Require().NotNil(status.Learned)
	s.False(status.Learned.Applied)
	s.Contains(status.Learned.Why, "not applied: this run attached")
}

// Every estimate gets the operation's createTime (the metadata's) and the run's start, so that
// one whose scan does not hold the operation still tells peers from history.
func (s *createSuite) TestLearnedSchedulePassesTheOperationsCreateTime() {
	_, scans, params := s.learnedRun(learnPolicy, 25*time.Minute, spanOf(20*time.Minute, 40*time.Minute))
	s.Require().Greater(len(scans), 1)
	for i, p := range params {
		s.Equal(time.Unix(1700000000, 0).UTC(), p.Created.UTC(), "estimate %d", i)
		s.False(p.StartedAt.IsZero(), "estimate %d", i)
	}
}

// The metadata the plan reads was recorded (a poll's result in history) by whichever release and
// protobuf library ran then: a field this build does not know must not change the plan (and
// so the commands replay emits).
func (s *createSuite) TestLearnedScheduleReadsMetadataWithFieldsItDoesNotKnow() {
	s.expectCreate()
	start := s.env.Now()
	s.env.OnActivity(acts.PollOperation, mock.Anything, testOp).Return(asPoll(
		func(context.Context, string) (insights.Operation, error) {
			op := trainingOp(8000, s.env.Now().Sub(start) >= 25*time.Minute)
			var md map[string]any
			s.Require().NoError(json.Unmarshal(op.Metadata, &md))
			md["fieldOfANewerAPI"] = map[string]any{"x": 1}
			op.Metadata, _ = json.Marshal(md)
			return op, nil
		}))
	scans := 0
	s.env.OnActivity(acts.EstimateTraining, mock.Anything, mock.Anything).Return(
		func(context.Context, activities.EstimateTrainingParams) (activities.TrainingEstimate, error) {
			scans++
			return spanOf(20*time.Minute, 40*time.Minute), nil
		})
	s.env.ExecuteWorkflow(CreateIssueModelWorkflow, sampleInput(s.T(), learnPolicy))
	s.Require().True(s.env.IsWorkflowCompleted())
	s.Require().NoError(s.env.GetWorkflowError())
	s.Positive(scans, "the plan ran on metadata with a field this build does not know")
}
