package workflows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/issuemodels/durable-lro/activities"
)

// TestNextPoll: the schedule as a table of (policy, state, now) and the wait it gives.
func TestNextPoll(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	quiet := mustPolicy(t, quietPolicy)
	aged := mustPolicy(t, `"polling":{"initialInterval":"30s","multiplier":2,"maxInterval":"2m","jitter":0,"ageFraction":0.1}`)
	jittery := mustPolicy(t, `"polling":{"initialInterval":"30s","multiplier":2,"maxInterval":"2m","jitter":0.1}`)
	never := now.Add(48 * time.Hour)
	learned := func(skipFor time.Duration, peers int) *LearnedSchedule {
		return &LearnedSchedule{Applied: true, SkipUntil: now.Add(skipFor), Estimate: &activities.TrainingEstimate{RunningPeers: peers}}
	}
	for _, c := range []struct {
		name    string
		policy  validPolicy
		state   PollState
		until   time.Time
		want    time.Duration
		skip    bool
		recheck bool
		pollAt  time.Time // zero: now + want
	}{
		{name: "first poll after the initial interval", policy: quiet, state: PollState{StartedAt: now}, until: never, want: 30 * time.Second},
		{name: "grows by the multiplier", policy: quiet, state: PollState{StartedAt: now, Polls: 1}, until: never, want: time.Minute},
		{name: "capped at the maximum", policy: quiet, state: PollState{StartedAt: now, Polls: 9}, until: never, want: 2 * time.Minute},
		{name: "a cancel restarts the backoff", policy: quiet, state: PollState{StartedAt: now, Polls: 9, BackoffFrom: 9}, until: never, want: 30 * time.Second},
		{name: "never past the deadline", policy: quiet, state: PollState{StartedAt: now, Polls: 9}, until: now.Add(10 * time.Second), want: 10 * time.Second},
		{name: "at once once the deadline passed", policy: quiet, state: PollState{StartedAt: now}, until: now.Add(-time.Second), want: -time.Second},
		{name: "the age fraction stretches it", policy: aged, state: PollState{StartedAt: now.Add(-time.Hour), Polls: 9}, until: never, want: 6 * time.Minute},
		{name: "not while confirming a cancel", policy: aged, state: PollState{StartedAt: now.Add(-time.Hour), Polls: 9, CancelRequested: true}, until: never, want: 2 * time.Minute},
		{name: "jitter spreads it, the same on replay", policy: jittery, state: PollState{StartedAt: now}, until: never, want: jitter(30*time.Second, 0.1, "wf", 0)},
		{name: "learned: no poll until the span's low", policy: quiet, state: PollState{StartedAt: now, Learned: learned(time.Hour, 0)}, until: never,
			want: time.Hour, skip: true},
		{name: "learned: re-checks while peers run", policy: quiet, state: PollState{StartedAt: now.Add(-10 * time.Minute), Learned: learned(time.Hour, 2)}, until: never,
			want: 4 * time.Minute, skip: true, recheck: true, pollAt: now.Add(time.Hour)},
		{name: "learned: late re-checks every eighth of the age", policy: quiet, state: PollState{StartedAt: now.Add(-2 * time.Hour), Learned: learned(time.Hour, 2)}, until: never,
			want: 15 * time.Minute, skip: true, recheck: true, pollAt: now.Add(time.Hour)},
		{name: "learned: never past the deadline", policy: quiet, state: PollState{StartedAt: now, Learned: learned(time.Hour, 0)}, until: now.Add(30 * time.Minute),
			want: 30 * time.Minute, skip: true},
		{name: "learned: the span's end is less than an interval away", policy: quiet, state: PollState{StartedAt: now, Polls: 9, Learned: learned(time.Minute, 0)}, until: never,
			want: 2 * time.Minute},
		{name: "learned: not while confirming a cancel", policy: quiet, state: PollState{StartedAt: now, CancelRequested: true, Learned: learned(time.Hour, 0)}, until: never,
			want: 30 * time.Second},
		{name: "learned: not applied", policy: quiet, state: PollState{StartedAt: now, Learned: &LearnedSchedule{}}, until: never, want: 30 * time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := nextPoll(c.policy, &c.state, now, c.until, "wf")
			pollAt := c.pollAt
			if pollAt.IsZero() {
				pollAt = now.Add(c.want)
			}
			require.Equal(t, c.want, w.For)
			require.Equal(t, pollAt, w.PollAt)
			require.Equal(t, c.skip, w.Skip)
			require.Equal(t, c.recheck, w.Recheck)
		})
	}
	require.InDelta(t, float64(30*time.Second), float64(jitter(30*time.Second, 0.1, "wf", 0)), float64(3*time.Second))
	require.NotEqual(t, jitter(30*time.Second, 0.1, "wf", 0), jitter(30*time.Second, 0.1, "wf", 1), "each poll's jitter differs")
}

func mustPolicy(t *testing.T, polling string) validPolicy {
	t.Helper()
	in := sampleInput(t, polling)
	p, err := in.Polling.parse("polling")
	require.NoError(t, err)
	return p
}
