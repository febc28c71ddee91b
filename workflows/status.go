package workflows

import (
	"encoding/json"
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"
)

// PollStatus is the answer of the status query of CreateIssueModelWorkflow and
// AwaitOperationWorkflow. It is built from the run's state at each query, never kept in sync
// by hand.
type PollStatus struct {
	Operation       string     `json:"operation,omitempty"`
	Phase           string     `json:"phase"`
	Step            string     `json:"step,omitempty"` // lifecycle workflow only
	Done            bool       `json:"done"`
	Polls           int        `json:"polls"`
	LastPolledAt    *time.Time `json:"lastPolledAt,omitempty"`
	NextPollAt      *time.Time `json:"nextPollAt,omitempty"`
	LastError       string     `json:"lastError,omitempty"`
	CancelRequested bool       `json:"cancelRequested"`
	CancelReason    string     `json:"cancelReason,omitempty"`
	// CancelUnimplemented: the server answered UNIMPLEMENTED to CancelOperation.
	CancelUnimplemented bool            `json:"cancelUnimplemented,omitempty"`
	Metadata            json.RawMessage `json:"metadata,omitempty"`
	Outcome             string          `json:"outcome,omitempty"`
	ContinuedAsNew      int             `json:"continuedAsNew"`
	// RateLimitDelay ("1m30s") is how much longer than the policy says the run waits before its
	// next poll to share the worker's poll budget (POLLS_PER_SECOND); only runs that began
	// before the server's limits held the polls are slowed so.
	RateLimitDelay string `json:"rateLimitDelay,omitempty"`
	// Learned is the learned schedule (polling.learn): the estimate, the skip and why.
	Learned *LearnedStatus `json:"learned,omitempty"`
}

// progress is what the status query shows besides the PollState that continue-as-new carries.
type progress struct {
	phase        string
	done         bool
	outcome      string
	lastPolledAt *time.Time
	nextPollAt   *time.Time
	metadata     json.RawMessage
	// rateLimitDelay is the extra wait before the next poll, when at least a second.
	rateLimitDelay time.Duration
}

// status builds the status query's answer from the run's state.
func (p *poller) status() *PollStatus {
	s, g := p.state, p.progress
	st := &PollStatus{
		Operation: s.Operation, Phase: g.phase, Done: g.done, Polls: s.Polls,
		LastPolledAt: g.lastPolledAt, NextPollAt: g.nextPollAt, LastError: s.LastError,
		CancelRequested: s.CancelRequested, CancelReason: s.CancelReason, CancelUnimplemented: s.CancelUnimplemented,
		Metadata: g.metadata, Outcome: g.outcome, ContinuedAsNew: s.ContinuedAsNew,
		Learned: s.Learned.status(),
	}
	if g.rateLimitDelay > 0 {
		st.RateLimitDelay = g.rateLimitDelay.String()
	}
	return st
}

// finish marks the run done, with the error that ended it if any.
func (p *poller) finish(err error) {
	p.progress.phase, p.progress.done, p.progress.nextPollAt = PhaseDone, true, nil
	if err != nil {
		p.state.LastError = rootMessage(err)
	}
}

// rejectInput ends a run whose input is invalid: the status says why; nothing else happens.
func (p *poller) rejectInput(err error) error {
	p.finish(err)
	workflow.GetMetricsHandler(p.ctx).WithTags(map[string]string{"outcome": errorType(err)}).Counter(MetricOutcomes).Inc(1)
	return err
}

// publish shows a one-line summary of the status as the run's "current details" in the Web UI
// (and `temporal workflow describe`; not part of the history), and keeps the search attributes
// (operation, phase) up to date.
func (p *poller) publish() {
	st := p.status()
	p.vis.set(p.ctx, st.Operation, st.Phase)
	line := fmt.Sprintf("**%s** `%s` · %d polls", st.Phase, st.Operation, st.Polls)
	if st.NextPollAt != nil {
		line += " · next poll " + st.NextPollAt.UTC().Format("2006-01-02 15:04:05 UTC")
	}
	if st.Outcome != "" {
		line += " · outcome " + st.Outcome
	}
	if st.RateLimitDelay != "" {
		line += " · slowed by the worker's poll rate limit: +" + st.RateLimitDelay
	}
	line += p.state.Learned.summary()
	if st.CancelRequested {
		line += " · cancel requested: " + st.CancelReason
		if st.CancelUnimplemented {
			line += " (the server cannot cancel it)"
		}
	}
	if st.Learned != nil {
		line += "\n\nlearned schedule: " + st.Learned.Why
	}
	if st.LastError != "" {
		line += "\n\nlast error: " + st.LastError
	}
	workflow.SetCurrentDetails(p.root, line)
}
