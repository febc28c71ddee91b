package activities

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/api/iterator"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/issuemodels/durable-lro/insights"
)

// StartedOperation names the long-running operation an activity started or found.
type StartedOperation struct {
	Operation string `json:"operation"`
	// AlreadyDone is true when there was nothing to start (the model was already in the wanted
	// state, or a look-only start found nothing); Operation is then empty.
	AlreadyDone bool `json:"alreadyDone,omitempty"`
}

// startRequest is one operation an activity starts through startOnce.
type startRequest struct {
	method string // the API method, for logs and errors
	parent string // the location whose operation list is searched
	// ours says whether a listed operation was started by this request: same method, same
	// request, and (see createdSince) created since the request was first made.
	ours  func(*longrunningpb.Operation) bool
	start func() (string, error) // makes the API call; its error is the client's
	// known is what the caller knows of earlier attempts, beside the activity's own records;
	// state says what it read (for knownRunning's error: "M is DEPLOYING").
	known earlierStart
	state string
	// lookOnly: never start; a look-up that finds nothing answers AlreadyDone.
	lookOnly bool
}

// earlierStart is what a caller of startOnce knows of the earlier attempts of its request.
type earlierStart int

const (
	// knownNothing: only the activity's own attempt records tell (the pipeline's steps).
	knownNothing earlierStart = iota
	// knownMayHaveStarted: an earlier attempt may have started the operation (the create loop's
	// LookFrom): look first.
	knownMayHaveStarted
	// knownRunning: the model's state shows an operation of this request running: look first,
	// and never trust an empty look-up (starting another would be refused).
	knownRunning
	// knownNotRunning: the model's state shows none running, which no list lag can contradict:
	// start without looking.
	knownNotRunning
)

// startOnce starts r's operation at most once. None of these API calls has a request id, so the
// server cannot deduplicate a start retried after a lost reply (UNAVAILABLE or DEADLINE_EXCEEDED
// after it committed, a worker that died mid-call). The rule:
//
//  1. Look before starting, when an earlier attempt may have started the operation: the caller
//     knows it (r.known), or, unless the caller knows none is running, an earlier attempt of
//     this activity failed in a way that may have committed (insights.MayHaveCommitted) or
//     recorded nothing (see earlierAttempts). Once an attempt may have committed, every later
//     one looks: a definite refusal (RESOURCE_EXHAUSTED, ...) proves only that the refused
//     attempt created nothing. After refusals alone nothing is looked for, so an identical
//     operation another run started is never adopted because we were refused. The look-up
//     reads the location's whole list (findOperation) and takes the earliest operation r.ours
//     accepts, created since the request was first made (createdSince).
//  2. Distrust an empty look-up while the list may lag behind a start: until ListLagGrace after
//     the last attempt that may have committed failed, and, when the caller knows it is running,
//     for as long as the list does not show it. Meanwhile the attempt starts nothing and fails
//     with the retryable insights.ErrOperationNotListed, so that Temporal retries it later. (The
//     create loop waits its own grace out in the workflow, running one attempt per activity.)
//  3. Return the operation found, else, unless r.lookOnly, the one started; a look-only start
//     that finds nothing answers AlreadyDone.
//
// The retries are Temporal's, so an attempt knows how earlier ones ended only from what they
// recorded: each failing attempt heartbeats startAttempts just before it returns (the first
// heartbeat of an attempt is sent at once), and Temporal hands the last details to the next
// attempt. Once an attempt may have committed, the record also rides on the error (withAttempts),
// which outlives the activity: the workflow looks for the operation of a start that gave up. The times are the workers' clocks (time.Now), assumed synchronized (NTP) to well
// within ListLagGrace; a skew of s between the worker that recorded a failure and the one that
// reads it shifts the grace by s.
//
// Where this cannot help: two runs sending identical requests within the window while one lost
// a reply (they share one operation), an operation list that lags longer than ListLagGrace, an
// operation that expired from the list.
func (a *Activities) startOnce(ctx context.Context, r startRequest) (StartedOperation, error) {
	logger := activity.GetLogger(ctx)
	attempt := activity.GetInfo(ctx).Attempt
	look, ambiguousEnd := earlierAttempts(ctx, time.Now())
	fail := func(err error, mayHaveCommitted bool) (StartedOperation, error) {
		rec := startAttempts{Attempt: attempt, MayHaveCommitted: look || mayHaveCommitted, AmbiguousEnd: ambiguousEnd}
		if mayHaveCommitted {
			rec.AmbiguousEnd = time.Now()
		}
		activity.RecordHeartbeat(ctx, rec)
		return StartedOperation{}, withAttempts(err, rec)
	}
	// A look-up for a start that gave up knows that start's last ambiguous attempt (FindStartedOperation).
	if l, ok := ctx.Value(lookingKey{}).(looking); ok && l.ambiguousEnd.After(ambiguousEnd) {
		ambiguousEnd = l.ambiguousEnd
	}
	if r.known == knownNotRunning {
		look = false
	}
	if look || r.known == knownMayHaveStarted || r.known == knownRunning {
		name, err := a.findOperation(ctx, r.parent, r.ours)
		if err != nil {
			return fail(err, false)
		}
		if name != "" {
			logger.Info("Adopted the operation an earlier attempt started", "Method", r.method, "Operation", name)
			return StartedOperation{Operation: name}, nil
		}
		if err := a.distrustEmptyList(ctx, r, ambiguousEnd); err != nil {
			return fail(err, false)
		}
	}
	if r.lookOnly {
		return StartedOperation{AlreadyDone: true}, nil
	}
	name, err := r.start()
	if err != nil {
		err = insights.FromAPIError(r.method, err)
		return fail(err, insights.MayHaveCommitted(err))
	}
	logger.Info("Started "+r.method, "Operation", name)
	return StartedOperation{Operation: name}, nil
}

// distrustEmptyList is rule 2 of startOnce: the retryable ErrOperationNotListed while an empty
// look-up cannot be trusted yet, else nil.
func (a *Activities) distrustEmptyList(ctx context.Context, r startRequest, ambiguousEnd time.Time) error {
	if r.known == knownRunning {
		// Starting another would be refused FAILED_PRECONDITION and fail the step while the
		// change goes through: retry until the list shows the operation to adopt.
		return temporal.NewApplicationError(fmt.Sprintf(
			"%s, but its operation is not listed yet; retrying until it can be adopted", r.state),
			insights.ErrOperationNotListed)
	}
	trusted := ambiguousEnd.Add(a.listLag())
	if ambiguousEnd.IsZero() || !time.Now().Before(trusted) {
		if !ambiguousEnd.IsZero() {
			activity.GetLogger(ctx).Info("No earlier attempt's operation is listed after the grace for the list's lag",
				"Method", r.method, "AmbiguousEnd", ambiguousEnd, "Grace", a.listLag())
		}
		return nil
	}
	activity.GetLogger(ctx).Info("An earlier attempt may have started the operation, which the list does not show yet; looking again later",
		"Method", r.method, "LookOnlyUntil", trusted)
	return temporal.NewApplicationError(fmt.Sprintf(
		"%s: an earlier attempt may have started the operation (its outcome is unknown), but the operation list does not show it yet; "+
			"retrying, looking only, until %s (%s after that attempt failed), then starting one if none is listed",
		r.method, trusted.UTC().Format(time.RFC3339), a.listLag()), insights.ErrOperationNotListed)
}

// createdSince says whether an operation created at created counts as made by a request first
// made at since: not before since-CreateSkew. A zero since is the time Temporal first scheduled
// the activity (its clock, which CreateSkew absorbs too), so that an identical operation from
// an earlier run is never taken for ours. A look-up for a start that gave up
// (FindStartedOperation), which may run hours later, also requires it not after that start's
// last ambiguous attempt ended, plus lateCommitMargin: an identical operation created later is
// another run's. Against an emulator whose clock runs faster (APITimeScale above 1) the API's times run
// ahead of the worker's without bound, so there only the lower bound holds.
func (a *Activities) createdSince(ctx context.Context, since time.Time) func(created *timestamppb.Timestamp) bool {
	if since.IsZero() {
		since = activity.GetInfo(ctx).ScheduledTime
	}
	from := since.Add(-CreateSkew)
	var to time.Time
	if l, ok := ctx.Value(lookingKey{}).(looking); ok && !l.ambiguousEnd.IsZero() && a.APITimeScale <= 1 {
		to = l.ambiguousEnd.Add(lateCommitMargin)
	}
	return func(created *timestamppb.Timestamp) bool {
		return created != nil && !created.AsTime().Before(from) && (to.IsZero() || !created.AsTime().After(to))
	}
}

// lateCommitMargin is how long after a start's last ambiguous attempt ended (the worker's
// clock) its operation may still be created (Google's clock): a request whose client gave up
// on its deadline or a reset may commit later, and a worker's clock may lag Google's. Wider
// than CreateSkew, since missing our own operation leaves it untracked, while an identical
// request of another run comes, if ever, far later (the look-up follows an hour of refusals).
const lateCommitMargin = 15 * time.Minute

// ListLagGrace is how long after an attempt that may have committed failed the operation list
// may still not show that attempt's operation (eventual consistency): startOnce trusts an empty
// look-up only after it. It is the workflows' default NotFoundGrace (workflows.
// DefaultNotFoundGrace, the grace the create loop waits out in the same case), which this
// package cannot import. The lag is the API's, so against an emulator whose clock runs faster
// (APITimeScale above 1) the grace is ListLagGrace/APITimeScale of the worker's time.
const ListLagGrace = 2 * time.Minute

// listLag is the grace for the operation list's lag in the worker's time (see ListLagGrace).
func (a *Activities) listLag() time.Duration {
	g := ListLagGrace
	if a.listLagGrace != 0 {
		g = a.listLagGrace // tests
	}
	if a.APITimeScale > 1 {
		g = time.Duration(float64(g) / a.APITimeScale)
	}
	return g
}

// startAttempts is what a failed attempt of a start records (as activity heartbeat details) for
// the next one. Releases hand it across in both directions: fields are only ever added, and a
// reader treats a missing one the safe way (see earlierAttempts).
type startAttempts struct {
	// Attempt is the attempt that recorded this.
	Attempt int32 `json:"attempt"`
	// MayHaveCommitted: this attempt or an earlier one may have started an operation.
	MayHaveCommitted bool `json:"mayHaveCommitted"`
	// AmbiguousEnd is when the last attempt that may have started an operation failed (its
	// worker's clock); zero when MayHaveCommitted is false, or in a record that does not say.
	AmbiguousEnd time.Time `json:"ambiguousEnd,omitzero"`
}

// earlierAttempts says whether an attempt before this one may have started the operation, and
// when the last such attempt failed (see startOnce): no on the first attempt; yes unless the
// previous attempt recorded that neither it nor any before it may have. A time the records do
// not give (an attempt that recorded nothing: its worker died, it timed out, the heartbeat was
// lost; a record without AmbiguousEnd) is now, this attempt's start: the latest the attempt can
// have failed, so the grace is never cut short. Later attempts carry that time on.
func earlierAttempts(ctx context.Context, now time.Time) (mayHaveCommitted bool, ambiguousEnd time.Time) {
	var rec *startAttempts
	if activity.HasHeartbeatDetails(ctx) {
		var r startAttempts
		if activity.GetHeartbeatDetails(ctx, &r) == nil {
			rec = &r
		}
	}
	return readAttempts(activity.GetInfo(ctx).Attempt, rec, now)
}

// readAttempts is earlierAttempts on attempt's record of the previous attempts (nil: none, or
// unreadable).
func readAttempts(attempt int32, rec *startAttempts, now time.Time) (mayHaveCommitted bool, ambiguousEnd time.Time) {
	switch {
	case attempt <= 1:
		return false, time.Time{}
	case rec == nil || rec.Attempt != attempt-1:
		return true, now // an attempt that recorded nothing
	case !rec.MayHaveCommitted:
		return false, time.Time{}
	case rec.AmbiguousEnd.IsZero():
		return true, now // a record that does not say when
	}
	return true, rec.AmbiguousEnd
}

// lookupPageSize is the page size of the duplicate look-up's ListOperations calls (the API's
// largest).
const lookupPageSize = 1000

// maxLookupOperations is a safety bound on the duplicate look-up (findOperation): a million
// operations, 1,000 pages of 1,000. The look-up reads a location's whole operation list,
// because neither the order of ListOperations (the emulator lists the oldest first) nor its
// filter (undocumented for this service) lets it stop early: a bound counted from the head of
// the list missed, in a busy location, the very operation it looked for. The list is finite (a
// location keeps its operations for days, then they expire), so a real location stays far below
// this bound; one that reaches it fails the look-up with the non-retryable
// insights.ErrLookupTooLarge rather than report "not found" and let a retry start a second
// operation. (A server that answered empty pages with ever new page tokens would be cut off
// only by the activity's StartToCloseTimeout.) Every look-up logs what it read ("Looked up
// operations": pages, operations, duration).
const maxLookupOperations = 1_000_000

// findOperation returns the name of the earliest operation (by metadata.createTime) in parent
// that match accepts, or "" if there is none. It reads every page of the location's operation
// list (see maxLookupOperations): the matchers bound the look-up by time (createdSince) or by
// state (a running operation of the model), never by position in the list.
func (a *Activities) findOperation(ctx context.Context, parent string, match func(*longrunningpb.Operation) bool) (string, error) {
	c, err := a.clientFor("parent", parent)
	if err != nil {
		return "", err
	}
	began := time.Now()
	it := c.ListOperations(ctx, &longrunningpb.ListOperationsRequest{Name: parent, PageSize: lookupPageSize}, noRetry)
	pager := iterator.NewPager(it, lookupPageSize, "")
	var found *longrunningpb.Operation
	limit := maxLookupOperations
	if a.lookupLimit != 0 {
		limit = a.lookupLimit
	}
	pages, scanned := 0, 0
	for {
		var ops []*longrunningpb.Operation
		token, err := pager.NextPage(&ops) // up to lookupPageSize operations, in one call or more
		if err != nil {
			return "", insights.FromAPIError("ListOperations", err)
		}
		pages++
		scanned += len(ops)
		for _, op := range ops {
			if match(op) && (found == nil || insights.CreateTimeOf(op).Before(insights.CreateTimeOf(found))) {
				found = op
			}
		}
		if token == "" {
			break
		}
		if scanned >= limit {
			return "", temporal.NewNonRetryableApplicationError(fmt.Sprintf(
				"ListOperations: %s lists more than %d operations (%d pages read, the list goes on): the look-up for an earlier attempt's operation cannot tell whether it exists",
				parent, scanned, pages), insights.ErrLookupTooLarge, nil)
		}
	}
	activity.GetLogger(ctx).Info("Looked up operations", "Parent", parent, "Pages", pages, "Operations", scanned,
		"Found", found.GetName(), "Duration", time.Since(began))
	return found.GetName(), nil
}

func opName(op interface{ Name() string }, err error) (string, error) {
	if err != nil {
		return "", err
	}
	return op.Name(), nil
}
