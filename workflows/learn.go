package workflows

import (
	"fmt"
	"time"

	"cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	"go.temporal.io/sdk/workflow"

	"github.com/issuemodels/durable-lro/activities"
	"github.com/issuemodels/durable-lro/insights"
)

// LearnedSchedule is what the learned polling mode (PollingPolicy.Learn) decided for a run, and
// why; continue-as-new carries it over.
type LearnedSchedule struct {
	// Applied: the run skips polls until SkipUntil; false once the estimate gave no span, the
	// span's low had passed, or a re-check found the history misleading.
	Applied bool `json:"applied"`
	// Estimate is the last EstimateTraining answer (none when the mode was not applied).
	Estimate *activities.TrainingEstimate `json:"estimate,omitempty"`
	// SkipUntil is StartedAt plus the estimate's Low: by the history, the training very likely
	// runs at least until then. Polling resumes at the policy's cadence from there.
	SkipUntil time.Time `json:"skipUntil,omitzero"`
	// Rechecks counts the estimates re-run during the skip (peers that end early stop it);
	// ScanCalls the ListOperations calls all the estimates made.
	Rechecks  int `json:"rechecks,omitempty"`
	ScanCalls int `json:"scanCalls,omitempty"`
	// Conversations is the training's trainingConversationsCount (0: unknown).
	Conversations int64  `json:"conversations,omitempty"`
	Why           string `json:"why"`
}

// learnDecisionDue: the learned mode decides once, after the early polls (when the backoff has
// reached the policy's maximum interval), so that requests that fail fast are noticed as fast as
// without it, and once a poll has shown the operation's metadata.
func (p *poller) learnDecisionDue() bool {
	return p.policy.learn && p.state.Learned == nil && !p.state.CancelRequested && p.progress.metadata != nil &&
		p.policy.interval(p.state.Polls-p.state.BackoffFrom) >= p.policy.max
}

// planLearned decides the run's learned schedule (see LearnedSchedule).
func (p *poller) planLearned() {
	if !p.learnDecisionDue() {
		return
	}
	notApplied := func(why string) { p.state.Learned = &LearnedSchedule{Why: "not applied: " + why} }
	if !p.startedOperation {
		notApplied("this run attached to an operation it did not start, so it cannot tell how long the operation has run")
		return
	}
	md := &contactcenterinsightspb.CreateIssueModelMetadata{}
	if insights.UnmarshalAny(p.progress.metadata, md) != nil {
		notApplied("the operation is not a CreateIssueModel training")
		return
	}
	if workflow.GetVersion(p.ctx, learnedScheduleChange, workflow.DefaultVersion, learnedScheduleVersion) == workflow.DefaultVersion {
		notApplied("this run started before the learned schedule existed")
		return
	}
	l := &LearnedSchedule{Conversations: md.GetRequest().GetIssueModel().GetInputDataConfig().GetTrainingConversationsCount()}
	p.state.Learned = l
	est, err := p.estimateTraining(l)
	if err != nil {
		l.Why = "not applied: the location's history could not be read: " + rootMessage(err)
		return
	}
	l.Estimate = &est
	p.applyEstimate(l, "")
}

// applyEstimate sets l's skip from its estimate; prefix, when set, begins the why (a re-check).
func (p *poller) applyEstimate(l *LearnedSchedule, prefix string) {
	est := l.Estimate
	if est.Low <= 0 {
		l.Applied, l.SkipUntil = false, time.Time{}
		l.Why = prefix + est.Why + "; polling as the plain policy does"
		return
	}
	l.SkipUntil = p.state.StartedAt.Add(est.Low)
	if !l.SkipUntil.After(workflow.Now(p.ctx).Add(p.policy.max)) {
		l.Applied = false
		l.Why = prefix + est.Why + "; the span's low is less than an interval away: polling as the plain policy does"
		return
	}
	l.Applied = true
	l.Why = fmt.Sprintf("%s%s; not polling until %s after the start (%s), then every %s",
		prefix, est.Why, est.Low, l.SkipUntil.UTC().Format("15:04:05 UTC"), p.policy.max)
}

// estimateTraining runs EstimateTraining for the run's operation: one bounded scan, recorded in
// history, so replay sees the same estimate.
func (p *poller) estimateTraining(l *LearnedSchedule) (activities.TrainingEstimate, error) {
	var est activities.TrainingEstimate
	// The operation's createTime goes along: the scan may not hold the operation (beyond its
	// bound, or a worker's scan from before the operation existed), and without it the estimate
	// cannot tell peers from history.
	params := activities.EstimateTrainingParams{Operation: p.state.Operation, Conversations: l.Conversations,
		Created: p.operationCreateTime(), StartedAt: p.state.StartedAt}
	var err error
	if p.serverLimits {
		err = workflow.ExecuteActivity(withShortActivity(p.ctx, p.state.Operation), acts.EstimateTraining, params).Get(p.ctx, &est)
	} else {
		err = workflow.ExecuteLocalActivity(withLocalPollActivity(p.ctx), acts.EstimateTraining, params).Get(p.ctx, &est)
	}
	l.ScanCalls += est.Calls
	return est, err
}

// operationCreateTime is the createTime in the metadata of the last poll (the API's time); zero
// when no poll of this run has shown it (e.g. just after continue-as-new).
func (p *poller) operationCreateTime() time.Time {
	if t := (insights.Operation{Metadata: p.progress.metadata}).Times().CreateTime; t != nil {
		return *t
	}
	return time.Time{}
}

// recheckLearned re-runs the estimate during a skip; a misleading history, or one that now says
// nothing, ends the skip, and a changed span moves it.
func (p *poller) recheckLearned(l *LearnedSchedule) {
	l.Rechecks++
	est, err := p.estimateTraining(l)
	if err != nil {
		return // keep the last estimate; the next re-check tries again
	}
	l.Estimate = &est
	p.applyEstimate(l, fmt.Sprintf("re-check %d at %s: ", l.Rechecks, workflow.Now(p.ctx).UTC().Format("15:04:05 UTC")))
}

// LearnedStatus is the learned schedule in the status query's answer.
type LearnedStatus struct {
	Applied bool `json:"applied"`
	// Samples is how many finished trainings the estimate rests on; Median, Low and High
	// ("41m30s") are the history's prediction for this training, counted from its start.
	Samples         int        `json:"samples,omitempty"`
	Median          string     `json:"median,omitempty"`
	Low             string     `json:"low,omitempty"`
	High            string     `json:"high,omitempty"`
	ByConversations bool       `json:"byConversations,omitempty"`
	Misleading      bool       `json:"misleading,omitempty"`
	SkipUntil       *time.Time `json:"skipUntil,omitempty"`
	Rechecks        int        `json:"rechecks,omitempty"`
	// ScanCalls is the ListOperations calls the estimates made (0: they reused the worker's
	// scan of the location).
	ScanCalls int    `json:"scanCalls,omitempty"`
	Why       string `json:"why"`
}

func (l *LearnedSchedule) status() *LearnedStatus {
	if l == nil {
		return nil
	}
	st := &LearnedStatus{Applied: l.Applied, Rechecks: l.Rechecks, ScanCalls: l.ScanCalls, Why: l.Why}
	if !l.SkipUntil.IsZero() {
		t := l.SkipUntil
		st.SkipUntil = &t
	}
	if e := l.Estimate; e != nil {
		st.Samples, st.ByConversations, st.Misleading = e.Samples, e.ByConversations, e.Misleading
		if e.Median > 0 {
			st.Median, st.Low, st.High = e.Median.String(), e.Low.String(), e.High.String()
		}
	}
	return st
}

// summary is the learned schedule in the Web UI's one-line summary; the status has the why.
func (l *LearnedSchedule) summary() string {
	switch {
	case l == nil:
		return ""
	case l.Applied:
		return " · learned: no polls until " + l.SkipUntil.UTC().Format("15:04:05 UTC")
	case l.Estimate == nil:
		return " · learned: not applied"
	case l.Estimate.Misleading:
		return " · learned: history misleads, plain polling"
	default:
		return " · learned: plain polling"
	}
}
