package activities_test

import (
	"math"
	"math/rand"
	"testing"
	"time"

	"cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/issuemodels/durable-lro/activities"
	"github.com/issuemodels/durable-lro/insightstest"
)

// trainingsLike draws n trainings whose length follows their data: 20 minutes per 5,000
// conversations, lognormal noise sigma 0.3, counts log-uniform over 1,000–20,000.
func trainingsLike(rng *rand.Rand, n int) []insightstest.FinishedTraining {
	out := make([]insightstest.FinishedTraining, n)
	for i := range out {
		count := int64(1000 * math.Pow(20, rng.Float64()))
		out[i] = insightstest.FinishedTraining{
			Request: &contactcenterinsightspb.CreateIssueModelRequest{IssueModel: &contactcenterinsightspb.IssueModel{
				DisplayName:     "weekly",
				InputDataConfig: &contactcenterinsightspb.IssueModel_InputDataConfig{TrainingConversationsCount: count},
			}},
			Duration: lengthFor(rng, count),
			EndedAgo: time.Duration(i+2) * time.Hour, // all older than the peer window

		}
	}
	return out
}

func lengthFor(rng *rand.Rand, count int64) time.Duration {
	return time.Duration(float64(20*time.Minute) * float64(count) / 5000 * math.Exp(0.3*rng.NormFloat64()))
}

func estimateFor(t *testing.T, env *testsuite.TestActivityEnvironment, acts *activities.Activities, p activities.EstimateTrainingParams) activities.TrainingEstimate {
	t.Helper()
	return execute[activities.TrainingEstimate](t, env, acts.EstimateTraining, p)
}

// From a location whose trainings follow their data, the estimate finds the trend and a span
// that holds about 98 % of new trainings of the same size, in a bounded scan.
func TestEstimateTrainingFollowsTheData(t *testing.T) {
	srv, _, acts := setup(t, insightstest.Options{})
	env := activityEnv(acts)
	rng := rand.New(rand.NewSource(3))
	require.NoError(t, srv.SeedFinishedTrainings(parent, trainingsLike(rng, 1200)))
	started := startCreation(t, env, acts)

	const count = 8000
	est := estimateFor(t, env, acts, activities.EstimateTrainingParams{Operation: started.Operation, Conversations: count})
	t.Logf("%+v", est)
	require.Equal(t, 2, est.Calls, "the scan stops after two pages of 500")
	require.Equal(t, 1000, est.Samples, "1,000 of the 1,200 seeded trainings fit the two pages")
	require.True(t, est.ByConversations)
	require.InDelta(t, 1.0, est.Exponent, 0.15)
	require.InDelta(t, 0.3, est.Sigma, 0.05)
	inside := 0
	const draws = 5000
	for range draws {
		if d := lengthFor(rng, count); d >= est.Low && d <= est.High {
			inside++
		}
	}
	require.InDelta(t, 0.98, float64(inside)/draws, 0.015, "share of new trainings inside %s–%s", est.Low, est.High)
}

// Without the run's own count the estimate is the location's plain spread; on thin history it
// is none at all.
func TestEstimateTrainingWithoutCountOrHistory(t *testing.T) {
	srv, _, acts := setup(t, insightstest.Options{})
	env := activityEnv(acts)
	require.NoError(t, srv.SeedFinishedTrainings(parent, trainingsLike(rand.New(rand.NewSource(4)), 10)))
	started := startCreation(t, env, acts)

	thin := estimateFor(t, env, acts, activities.EstimateTrainingParams{Operation: started.Operation, Conversations: 8000})
	require.Equal(t, 10, thin.Samples)
	require.Zero(t, thin.Low)
	require.Contains(t, thin.Why, "history thin")

	require.NoError(t, srv.SeedFinishedTrainings(parent, trainingsLike(rand.New(rand.NewSource(5)), 100)))
	reused := estimateFor(t, env, acts, activities.EstimateTrainingParams{Operation: started.Operation, Conversations: 8000})
	require.Equal(t, 0, reused.Calls, "within ScanReuse the worker reuses its scan of the location")
	require.Equal(t, 10, reused.Samples, "and sees what that scan saw")

	// Another worker (or this one after ScanReuse) scans again and sees the new trainings.
	fresh := &activities.Activities{Client: acts.Client}
	fenv := activityEnv(fresh)
	plain := estimateFor(t, fenv, fresh, activities.EstimateTrainingParams{Operation: started.Operation})
	require.Equal(t, 1, plain.Calls)
	require.False(t, plain.ByConversations)
	require.Greater(t, plain.Sigma, 0.6, "counts over a factor of 20 spread the plain durations")
	require.Less(t, plain.Low, plain.Median)
	require.Greater(t, plain.High, plain.Median)
}

func TestEstimateTrainingRejectsABadName(t *testing.T) {
	_, _, acts := setup(t, insightstest.Options{})
	env := activityEnv(acts)
	_, err := env.ExecuteActivity(acts.EstimateTraining, activities.EstimateTrainingParams{Operation: "operations/1"})
	require.ErrorContains(t, err, "operation")
}

// Peers (trainings started within the hour) that end before the span the history gives them,
// far more often than the history's 1 %, make the estimate misleading: no span. Peers like the
// history do not.
func TestEstimateTrainingDistrustsHistoryThePeersContradict(t *testing.T) {
	for _, tc := range []struct {
		name       string
		speedup    float64
		misleading bool
	}{{"peers like the history", 1, false}, {"peers twice as fast", 2, true}} {
		t.Run(tc.name, func(t *testing.T) {
			srv, _, acts := setup(t, insightstest.Options{})
			env := activityEnv(acts)
			rng := rand.New(rand.NewSource(6))
			require.NoError(t, srv.SeedFinishedTrainings(parent, trainingsLike(rng, 300)))
			peers := trainingsLike(rng, 60)
			for i := range peers {
				peers[i].Duration = time.Duration(float64(peers[i].Duration) / tc.speedup)
				peers[i].EndedAgo = time.Minute // started well within the hour
				if peers[i].Duration > 50*time.Minute {
					peers[i].Duration = 50 * time.Minute
				}
			}
			require.NoError(t, srv.SeedFinishedTrainings(parent, peers))
			started := startCreation(t, env, acts)

			est := estimateFor(t, env, acts, activities.EstimateTrainingParams{Operation: started.Operation, Conversations: 8000})
			t.Logf("%+v", est)
			require.Equal(t, 300, est.Samples, "the estimate rests on the older trainings")
			require.Equal(t, 60, est.Peers, "the running training itself is not its own peer")
			require.Equal(t, tc.misleading, est.Misleading)
			if tc.misleading {
				require.Zero(t, est.Low)
				require.Contains(t, est.Why, "history misleads")
			} else {
				require.NotZero(t, est.Low)
			}
		})
	}
}

// With APITimeScale (an emulator whose clock runs faster than real time) the estimate's
// durations are in the worker's time: the same history, ten times shorter.
func TestEstimateTrainingAPITimeScale(t *testing.T) {
	srv, _, acts := setup(t, insightstest.Options{})
	env := activityEnv(acts)
	require.NoError(t, srv.SeedFinishedTrainings(parent, trainingsLike(rand.New(rand.NewSource(6)), 200)))
	started := startCreation(t, env, acts)
	p := activities.EstimateTrainingParams{Operation: started.Operation, Conversations: 8000}
	real := estimateFor(t, env, acts, p)
	require.Positive(t, real.Median)

	scaledActs := activities.Activities{Client: acts.Client, APITimeScale: 10}
	senv := activityEnv(&scaledActs)
	scaled := estimateFor(t, senv, &scaledActs, p)
	t.Logf("scale 1: %s %s %s; scale 10: %s %s %s", real.Low, real.Median, real.High, scaled.Low, scaled.Median, scaled.High)
	for _, d := range []struct{ real, scaled time.Duration }{{real.Median, scaled.Median}, {real.Low, scaled.Low}, {real.High, scaled.High}} {
		require.InDelta(t, d.real.Seconds()/10, d.scaled.Seconds(), 0.001, "%s at scale 10", d.real)
	}
	require.Equal(t, real.Samples, scaled.Samples)
	require.Equal(t, real.Sigma, scaled.Sigma, "the spread is a ratio: the scale leaves it alone")

	// 0 and 1 are real time.
	scaledActs.APITimeScale = 1
	one := estimateFor(t, senv, &scaledActs, p)
	require.Equal(t, real.Median, one.Median)
}

// A training running beside this one is a running peer (the workflow re-checks its skip only
// while there are some); the training itself is not.
func TestEstimateTrainingCountsRunningPeers(t *testing.T) {
	srv, _, acts := setup(t, insightstest.Options{MaxConcurrentCreates: insightstest.Unlimited})
	env := activityEnv(acts)
	require.NoError(t, srv.SeedFinishedTrainings(parent, trainingsLike(rand.New(rand.NewSource(8)), 100)))
	first := startCreation(t, env, acts)
	alone := estimateFor(t, env, acts, activities.EstimateTrainingParams{Operation: first.Operation, Conversations: 8000})
	require.Zero(t, alone.RunningPeers)

	second := startCreation(t, env, acts)
	fresh := &activities.Activities{Client: acts.Client}
	fenv := activityEnv(fresh)
	est := estimateFor(t, fenv, fresh, activities.EstimateTrainingParams{Operation: second.Operation, Conversations: 8000})
	require.Equal(t, 1, est.RunningPeers)
	require.Equal(t, 1, est.Peers)
	require.Positive(t, est.Low)
}

// When the scan does not hold the run's own operation — the worker reuses a scan made before the
// operation existed, or the operation is beyond the scan's bound — the createTime the workflow
// passes still tells peers from history, so peers that contradict the history are noticed.
// (Without it the check was skipped and the run skipped polls on a misleading history.)
func TestEstimateTrainingKnowsItsCreateTimeWithoutItsOperationInTheScan(t *testing.T) {
	srv, _, acts := setup(t, insightstest.Options{MaxConcurrentCreates: insightstest.Unlimited})
	env := activityEnv(acts)
	rng := rand.New(rand.NewSource(6))
	require.NoError(t, srv.SeedFinishedTrainings(parent, trainingsLike(rng, 300)))
	peers := trainingsLike(rng, 60)
	for i := range peers {
		peers[i].Duration = min(peers[i].Duration/2, 50*time.Minute) // twice as fast as the history
		peers[i].EndedAgo = time.Minute
	}
	require.NoError(t, srv.SeedFinishedTrainings(parent, peers))
	// Another run's estimate fills the worker's scan; this run's training starts just after.
	other := startCreation(t, env, acts)
	_ = estimateFor(t, env, acts, activities.EstimateTrainingParams{Operation: other.Operation, Conversations: 8000})
	own := startCreation(t, env, acts)
	op, ok := srv.Operation(own.Operation)
	require.True(t, ok)
	md := &contactcenterinsightspb.CreateIssueModelMetadata{}
	require.NoError(t, op.GetMetadata().UnmarshalTo(md))

	est := estimateFor(t, env, acts, activities.EstimateTrainingParams{Operation: own.Operation, Conversations: 8000,
		Created: md.GetCreateTime().AsTime()})
	require.Zero(t, est.Calls, "the estimate reused the worker's scan, which predates the operation")
	require.True(t, est.Misleading, "peers twice as fast went unnoticed: %+v", est)
	require.Zero(t, est.Low)

	// The same from the workflow's start time alone, against an API on the worker's clock.
	est = estimateFor(t, env, acts, activities.EstimateTrainingParams{Operation: own.Operation, Conversations: 8000,
		StartedAt: md.GetCreateTime().AsTime()})
	require.True(t, est.Misleading, "%+v", est)
}
