package explorer

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	"go.temporal.io/sdk/temporal"

	"google.golang.org/grpc/codes"

	"github.com/issuemodels/durable-lro/insights"
	"github.com/issuemodels/durable-lro/workflows"
)

// Invariants, by name.
const (
	// OneTraining: never two trainings (CreateIssueModel operations) for one run.
	OneTraining = "one-training"
	// NothingCreated: a run never ends "cancelled before an operation was created" while an
	// operation it created exists.
	NothingCreated = "nothing-created-is-true"
	// CancelReaches: a requested cancel reaches the server (a CancelOperation the API served)
	// for every training of the run that was not done when the cancel was requested, unless
	// it ended within CancelGrace of the moment a correct run could have sent it.
	CancelReaches = "cancel-reaches-server"
	// CancelPrompt: after the first cancel request the run makes an API call, or ends, within
	// CancelPromptness.
	CancelPrompt = "cancel-is-prompt"
	// NoStrandedTraining: when a run ends, every training it created is done or was sent a
	// cancel that reached the server (README: the end of a run awaits the outcome).
	NoStrandedTraining = "no-stranded-training"
	// EndsInTime: every run ends within its bound (run.bound).
	EndsInTime = "ends-in-time"
	// DeployedRestored: after a cancelled or failed lifecycle the location's deployed models
	// are those it had before (README: a cancel during retirement keeps the new model
	// deployed and the replaced models not yet undeployed).
	DeployedRestored = "deployed-restored"
	// OutcomeAgrees: the outcome the run reports agrees with the API's final state.
	OutcomeAgrees = "outcome-agrees"
)

// CancelGrace is how long after a cancel could first reach the server (the request, or the
// operation becoming visible, whichever is later) a training may still end on its own without
// the cancel having reached the server: the cancel's own retries and the poll cadence.
const CancelGrace = 2 * time.Minute

// CancelPromptness bounds the silence after a cancel request: the longest activity retry
// interval (1 minute, withChangeActivity) plus slack.
const CancelPromptness = 90 * time.Second

// Violation is one broken invariant.
type Violation struct {
	Invariant string
	Detail    string
	// Open names the open finding the violation is an instance of (OpenFindings), if any.
	Open string
}

// OpenFindings are violations the explorer finds on main that have no fix yet: each is
// recognised narrowly, reported (TestExplore logs them; -explore.strict fails on them) and
// described in docs/RELIABILITY.md. Delete an entry when its fix lands.
var OpenFindings = map[string]string{}

func (v Violation) String() string { return v.Invariant + ": " + v.Detail }

// violationList collects broken invariants.
type violationList []Violation

func (out *violationList) add(inv, format string, args ...any) {
	*out = append(*out, Violation{Invariant: inv, Detail: fmt.Sprintf(format, args...)})
}

func (r *run) check() []Violation {
	var out violationList
	// An operation that vanished from the API while it ran cannot be found, adopted or
	// cancelled by anyone: such schedules only check that the run ends in time.
	if len(r.vanished) > 0 {
		if took := r.end.Sub(r.start); took > r.bound() {
			out.add(EndsInTime, "the run took %s, over its bound %s (%v)", took, r.bound(), r.err)
		}
		return out
	}
	r.checkOneTraining(&out)
	r.checkNothingCreated(&out)
	firstCancel := r.firstCancel()
	if !firstCancel.IsZero() {
		r.checkCancelReaches(&out, firstCancel)
	}
	r.checkNoStrandedTraining(&out)
	if !firstCancel.IsZero() {
		r.checkCancelPrompt(&out, firstCancel)
	}
	terminated := r.terminated()
	if took := r.end.Sub(r.start); took > r.bound() || (timedOut(r.err) && !terminated) {
		out.add(EndsInTime, "the run took %s, over its bound %s (%v)", took, r.bound(), r.err)
	}
	out = append(out, r.checkOutcome()...)
	if r.s.Workflow == Lifecycle && !(terminated && timedOut(r.err)) {
		out = append(out, r.checkDeployed()...)
	}
	for i := range out {
		out[i].Open = r.openFinding(out[i])
	}
	return out
}

// checkOneTraining: OneTraining.
func (r *run) checkOneTraining(out *violationList) {
	if len(r.created) > 1 {
		var names []string
		for _, c := range r.created {
			names = append(names, c.Op)
		}
		out.add(OneTraining, "%d trainings for one run: %v", len(r.created), names)
	}
}

// checkNothingCreated: NothingCreated, on the run and on the lifecycle's create child.
func (r *run) checkNothingCreated(out *violationList) {
	results := []*workflows.CreateIssueModelResult{r.createRes}
	for _, c := range r.childRes {
		results = append(results, c.res)
	}
	for _, res := range results {
		if res != nil && res.Outcome == workflows.OutcomeCancelled && res.Operation == "" && len(r.created) > 0 {
			out.add(NothingCreated, "the run says %q (no operation) but it created %s", res.CancelReason, r.created[0].Op)
		}
	}
}

// firstCancel is when the run was first asked to cancel before it ended (zero: never).
func (r *run) firstCancel() time.Time {
	var first time.Time
	for _, t := range r.cancels {
		if !t.After(r.end) && (first.IsZero() || t.Before(first)) {
			first = t
		}
	}
	return first
}

// checkCancelReaches: CancelReaches, for a cancel first requested at firstCancel.
func (r *run) checkCancelReaches(out *violationList, firstCancel time.Time) {
	for _, c := range r.created {
		if msg := r.cancelMissed(c, firstCancel); msg != "" {
			out.add(CancelReaches, "%s", msg)
		}
	}
}

// checkNoStrandedTraining: NoStrandedTraining.
func (r *run) checkNoStrandedTraining(out *violationList) {
	for _, c := range r.created {
		if r.apiSaidGone() && operationLost(r.err) {
			break // the API answered NOT_FOUND for it past notFoundGrace: the run took it for gone (README)
		}
		if op, ok := r.srv.Operation(c.Op); ok && !op.GetDone() && !r.cancelReached(c.Op, r.end) {
			out.add(NoStrandedTraining, "the run ended (%s) at +%s while training %s runs on, never sent a cancel that reached the server",
				r.outcome(), r.end.Sub(base), c.Op)
		}
	}
}

// checkCancelPrompt: CancelPrompt, for a cancel first requested at firstCancel.
func (r *run) checkCancelPrompt(out *violationList, firstCancel time.Time) {
	next := r.end
	for _, c := range r.rpcs {
		if !c.At.Before(firstCancel) {
			next = c.At
			break
		}
	}
	if next.After(r.end) {
		next = r.end
	}
	if d := next.Sub(firstCancel); d > CancelPromptness && !r.pollRetrying(firstCancel) && !r.cancelAlreadyTaken(firstCancel) {
		out.add(CancelPrompt, "cancel requested at +%s; nothing happened for %s (next call or end at +%s)",
			firstCancel.Sub(base), d, next.Sub(base))
	}
}

// terminated: the schedule ends the lifecycle run (TerminateParent).
func (r *run) terminated() bool {
	for _, e := range r.s.Events {
		if e.Kind == TerminateParent {
			return true
		}
	}
	return false
}

// openFinding recognises the open findings (OpenFindings), narrowly: a case per entry. There
// are none open today; A2, P and Q were recognised here until their fixes landed.
func (r *run) openFinding(Violation) string { return "" }

// timedOut: the run hit its run timeout (the explorer's cap, or a TerminateParent event).
func timedOut(err error) bool {
	var t *temporal.TimeoutError
	return errors.As(err, &t)
}

func modelName(issueModel json.RawMessage) string {
	var m struct {
		Name string `json:"name"`
	}
	_ = json.Unmarshal(issueModel, &m)
	return m.Name
}

// pollRetrying: a poll (the PollOperation activity) was failing when the cancel came. The loop
// sends the cancel once the poll returns, and a poll retries for up to its schedule-to-close
// timeout (3 minutes); a fault on GetOperation may last that whole window here.
func (r *run) pollRetrying(tc time.Time) bool {
	for _, x := range r.rpcs {
		if x.Method == "GetOperation" && x.Injected != "" && !x.At.After(tc) && tc.Sub(x.At) < 3*time.Minute {
			return true
		}
	}
	return false
}

// cancelAlreadyTaken: the server had already taken a cancel of every training of the run when
// a cancel was requested (the run's timeout, or its parent's close, had sent it): there is
// nothing left to do at once.
func (r *run) cancelAlreadyTaken(tc time.Time) bool {
	if len(r.created) == 0 {
		return false
	}
	for _, c := range r.created {
		if !r.cancelReached(c.Op, tc) {
			return false
		}
	}
	return true
}

// apiSaidGone: the schedule made GetOperation answer NOT_FOUND, which past notFoundGrace the
// workflows take for an operation that vanished (OperationLost), as README documents.
func (r *run) apiSaidGone() bool {
	for _, x := range r.rpcs {
		if x.Method == "GetOperation" && x.Injected == codes.NotFound.String() {
			return true
		}
	}
	return false
}

// operationLost: the run failed with OperationLost.
func operationLost(err error) bool {
	return insights.IsErrorType(err, insights.ErrOperationLost)
}

// cancelMissed says why training c should have received the cancel requested at tc, or "".
func (r *run) cancelMissed(c rpc, tc time.Time) string {
	if _, gone := r.vanished[c.Op]; gone || r.extCancel[c.Op] {
		return ""
	}
	if r.cancelReached(c.Op, c.At.Add(r.s.TrainingTime)) {
		return ""
	}
	naturalEnd := c.At.Add(r.s.TrainingTime)
	reachable := tc
	if v := c.At.Add(r.s.VisibilityDelay); v.After(reachable) {
		reachable = v
	}
	if !naturalEnd.After(reachable.Add(CancelGrace)) {
		return ""
	}
	if r.end.Before(reachable) {
		return ""
	}
	return fmt.Sprintf("cancel requested at +%s; training %s (created at +%s, visible from +%s) ran to its end at +%s and no CancelOperation for it reached the server",
		tc.Sub(base), c.Op, c.At.Sub(base), c.At.Add(r.s.VisibilityDelay).Sub(base), naturalEnd.Sub(base))
}

// cancelReached: a CancelOperation for op was served by the API by time t (UNIMPLEMENTED
// counts: the server has the request and cannot act on it).
func (r *run) cancelReached(op string, t time.Time) bool {
	for _, x := range r.rpcs {
		if x.Method == "CancelOperation" && x.Name == op && x.Served && !x.At.After(t) && (x.Code == 0 || x.Code == 12) {
			return true
		}
	}
	return false
}

// outcome names how the run ended.
func (r *run) outcome() string {
	switch {
	case r.createRes != nil:
		return r.createRes.Outcome
	case r.lifeRes != nil:
		return r.lifeRes.Outcome
	}
	var appErr *temporal.ApplicationError
	if errors.As(r.err, &appErr) {
		return appErr.Type()
	}
	return fmt.Sprint(r.err)
}

// checkOutcome compares what the run reports with the API's final state.
func (r *run) checkOutcome() []Violation {
	var out []Violation
	add := func(format string, args ...any) {
		out = append(out, Violation{Invariant: OutcomeAgrees, Detail: fmt.Sprintf(format, args...)})
	}
	models := map[string]*contactcenterinsightspb.IssueModel{}
	for _, m := range r.srv.Models(parent) {
		models[m.GetName()] = m
	}
	if res := r.createRes; res != nil && r.s.Workflow == Create {
		model := modelName(res.IssueModel)
		switch res.Outcome {
		case workflows.OutcomeSucceeded, workflows.OutcomeCompletedDespiteCancel:
			if models[model] == nil {
				add("outcome %s names model %q, which does not exist", res.Outcome, model)
			}
			if res.Outcome == workflows.OutcomeCompletedDespiteCancel && len(r.cancels) == 0 {
				add("outcome %s without a cancel request", res.Outcome)
			}
			if op, ok := r.srv.Operation(res.Operation); ok && (!op.GetDone() || op.GetError() != nil) {
				add("outcome %s but operation %s is done=%v error=%v", res.Outcome, res.Operation, op.GetDone(), op.GetError())
			}
		case workflows.OutcomeDeletedAfterCancel:
			if models[model] != nil {
				add("outcome %s but model %q exists", res.Outcome, model)
			}
		case workflows.OutcomeCancelled:
			if res.Operation == "" {
				break // nothing-created-is-true checks this
			}
			if op, ok := r.srv.Operation(res.Operation); ok && (!op.GetDone() || op.GetError().GetCode() != 1) {
				add("outcome CANCELLED but operation %s is done=%v error=%v", res.Operation, op.GetDone(), op.GetError())
			}
		}
	}
	if res := r.lifeRes; res != nil && res.Outcome == workflows.LifecycleDeployed {
		if m := models[res.Model]; m == nil || m.GetState() != contactcenterinsightspb.IssueModel_DEPLOYED {
			add("lifecycle DEPLOYED but model %q is %v", res.Model, m.GetState())
		}
	}
	return out
}

// checkDeployed settles every operation (a day later) and compares the deployed models with
// those before a lifecycle that did not deploy.
func (r *run) checkDeployed() []Violation {
	if r.lifeRes != nil && r.lifeRes.Outcome == workflows.LifecycleDeployed {
		return nil
	}
	want := slices.Clone(r.deployedBefore)
	if r.lifeRes != nil && r.lifeRes.State == "DEPLOYED" {
		// Cancelled during retirement: documented to keep the new model deployed.
		want = slices.DeleteFunc(want, func(n string) bool { return slices.Contains(r.lifeRes.Undeployed, n) })
		want = append(want, r.lifeRes.Model)
	}
	r.clock.freeze(r.end.Add(24 * time.Hour))
	var got []string
	for _, m := range r.srv.Models(parent) {
		if s := m.GetState(); s == contactcenterinsightspb.IssueModel_DEPLOYED || s == contactcenterinsightspb.IssueModel_DEPLOYING {
			got = append(got, m.GetName())
		}
	}
	r.clock.freeze(r.end)
	sort.Strings(want)
	sort.Strings(got)
	if !slices.Equal(want, got) {
		return []Violation{{Invariant: DeployedRestored, Detail: fmt.Sprintf("lifecycle ended %v; deployed before %v, after %v", r.outcome(), want, got)}}
	}
	return nil
}
