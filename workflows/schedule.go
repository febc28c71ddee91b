package workflows

import (
	"fmt"
	"hash/fnv"
	"time"
)

// pollWait is one wait of the schedule before a poll.
type pollWait struct {
	// For is how long to wait; zero or less: poll at once.
	For time.Duration
	// PollAt is when the next poll is due, as the status shows it.
	PollAt time.Time
	// Skip: a wait through the learned span (PollingPolicy.Learn). Recheck: it ends before
	// PollAt to re-run the estimate, because other trainings run beside this one and their
	// ending sooner than the history said would stop the skip.
	Skip, Recheck bool
	// interval is the policy's interval before jitter, for the runs paced by their worker.
	interval time.Duration
}

// nextPoll is the poll schedule: how a run whose state is st waits at now for its next poll, no
// later than until (its deadline). While the learned schedule applies, through the learned span;
// otherwise the policy's interval, grown by the polls since the backoff last restarted (and by
// the operation's age, unless a cancellation is being confirmed) and spread by the jitter.
// jitterKey (the workflow ID) makes the jitter differ across runs and repeat on replay.
func nextPoll(policy validPolicy, st *PollState, now, until time.Time, jitterKey string) pollWait {
	if l := st.Learned; l != nil && l.Applied && !st.CancelRequested {
		end := l.SkipUntil
		if end.After(until) {
			end = until
		}
		if end.After(now.Add(policy.max)) {
			w := pollWait{For: end.Sub(now), PollAt: end, Skip: true}
			if l.Estimate.RunningPeers > 0 {
				if r := recheckInterval(policy, st.StartedAt, now); r < w.For {
					w.For, w.Recheck = r, true
				}
			}
			return w
		}
		// The rest of the span is shorter than an interval: the plain policy's wait.
	}
	age := now.Sub(st.StartedAt)
	if st.CancelRequested {
		age = 0 // confirm a cancellation at the backoff's pace, not the age's
	}
	interval := policy.ageInterval(st.Polls-st.BackoffFrom, age)
	wait := min(jitter(interval, policy.jitter, jitterKey, st.Polls), until.Sub(now))
	return pollWait{For: wait, PollAt: now.Add(wait), interval: interval}
}

// jitter spreads d by ±fraction with a fraction derived from key and the poll count:
// deterministic on replay, different across runs.
func jitter(d time.Duration, fraction float64, key string, polls int) time.Duration {
	if fraction == 0 {
		return d
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "%s/%d", key, polls)
	frac := float64(h.Sum64()%10001)/10000*2 - 1 // -1..1
	return time.Duration(float64(d) * (1 + fraction*frac))
}

// recheckInterval: every two maximum intervals early on, every eighth of the operation's age
// later, so that a skip of hours costs tens of re-checks, not hundreds.
func recheckInterval(policy validPolicy, startedAt, now time.Time) time.Duration {
	return max(2*policy.max, now.Sub(startedAt)/8)
}
