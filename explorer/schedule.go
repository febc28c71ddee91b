// Package explorer is a deterministic fault-schedule explorer for the workflows: it runs the real
// workflows (CreateIssueModelWorkflow, and the lifecycle with its real children) with the real
// activities on go.temporal.io/sdk/testsuite's mocked clock, against the project's emulator
// (insightstest) whose clock is that mocked clock, under a Schedule of faults and events drawn
// from a seed, and checks invariants after each run. A violation is shrunk to a short schedule
// and printed as a ready-to-paste Go test. See docs/RELIABILITY.md, "Fault-schedule explorer".
package explorer

import (
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/issuemodels/durable-lro/workflows"
)

// Workflow selects the workflow a schedule runs.
type Workflow string

const (
	// Create runs CreateIssueModelWorkflow (continue-as-new restarts it with the returned input).
	Create Workflow = "create"
	// Lifecycle runs IssueModelLifecycleWorkflow with its real children.
	Lifecycle Workflow = "lifecycle"
)

// FaultKind is what happens to one call.
type FaultKind string

const (
	// Refuse: the API answers Code without doing anything.
	Refuse FaultKind = "refuse"
	// LostReply: the API does the call (commits), then the reply is lost: the caller sees Code.
	LostReply FaultKind = "lost-reply"
	// DieBefore: the worker dies before the call reaches the API: the activity times out.
	DieBefore FaultKind = "die-before"
	// DieAfter: the worker dies after the API committed the call: the activity times out.
	DieAfter FaultKind = "die-after"
)

// Fault is the outcome of the N-th call (1-based, counting every attempt) of Call: an RPC
// method for Refuse and LostReply, an activity type for DieBefore and DieAfter.
type Fault struct {
	Call string
	N    int
	Kind FaultKind
	Code codes.Code
}

// EventKind is something that happens at a point in workflow time.
type EventKind string

const (
	// CancelSignal sends the `cancel` signal to the run.
	CancelSignal EventKind = "cancel-signal"
	// TemporalCancel cancels the run the way `temporal workflow cancel` does.
	TemporalCancel EventKind = "temporal-cancel"
	// PollNow sends the `poll-now` signal.
	PollNow EventKind = "poll-now"
	// SlotTaken: another creator starts a training of Hold in the location (taking its one
	// creation slot, if free).
	SlotTaken EventKind = "slot-taken"
	// Vanish: the run's latest training operation vanishes from the API (it keeps running).
	Vanish EventKind = "vanish"
	// ExternalCancel: someone else cancels the run's latest training operation.
	ExternalCancel EventKind = "external-cancel"
	// TerminateParent ends the lifecycle run (its run timeout: children with the TERMINATE
	// parent-close policy are terminated).
	TerminateParent EventKind = "terminate-parent"
)

// Event happens At after the run starts (plus a small per-event offset, see fireAt).
type Event struct {
	At   time.Duration
	Kind EventKind
	Hold time.Duration // SlotTaken: the other training's duration
}

// Schedule is one run: the API's behaviour, the faults and the events.
type Schedule struct {
	Workflow Workflow
	// CancelMode is the emulator's: honor, ignore or unimplemented.
	CancelMode string
	// VisibilityDelay: a new operation is not listed or readable for this long.
	VisibilityDelay time.Duration
	// NotFoundGrace is polling.notFoundGrace (0: the default, 2m); schedules keep the lag
	// within it.
	NotFoundGrace time.Duration
	// OperationTTL: done operations vanish this long after they end (0: never).
	OperationTTL time.Duration
	// TrainingTime of the run's trainings; TrainingFails makes them end FAILED_PRECONDITION.
	TrainingTime  time.Duration
	TrainingFails bool
	// Timeout is polling.timeout; ContinueAsNewAfterPolls polling.continueAsNewAfterPolls
	// (0: default).
	Timeout                  time.Duration
	ContinueAsNewAfterPolls  int
	DeleteModelIfCancelFails bool
	// MaxInterval is polling.maxInterval (0: the default, 45s).
	MaxInterval time.Duration
	// Lifecycle: deployed models of the pipeline's display name (replaced by the new one) and
	// of other names, before the run.
	Replaced, OtherDeployed int
	Faults                  []Fault
	Events                  []Event
}

// fireAt is when event i fires: At plus an offset that keeps events off the grid of the
// workflows' own timers (multiples of 1/4 s after a start or a wake-up: at least 50 ms away) and
// apart from each other (20 ms), so that no event falls due while an activity runs (the test
// environment would then fire it after that much wall-clock time, racing the activity).
func fireAt(i int, e Event) time.Duration {
	return e.At + 60*time.Millisecond + time.Duration(i%8)*20*time.Millisecond
}

var (
	retryableCodes = []codes.Code{codes.Unavailable, codes.DeadlineExceeded, codes.Internal,
		codes.ResourceExhausted, codes.Aborted, codes.Unknown}
	nonRetryableCodes = []codes.Code{codes.NotFound, codes.PermissionDenied, codes.FailedPrecondition,
		codes.InvalidArgument}
	lostReplyCodes = []codes.Code{codes.Unavailable, codes.DeadlineExceeded}
)

// rpcs and activities that faults target, by workflow.
var (
	createRPCs       = []string{"CreateIssueModel", "ListOperations", "GetOperation", "CancelOperation", "DeleteIssueModel"}
	createActivities = []string{"CreateIssueModel", "CancelOperation", "DeleteIssueModel"}
	lifecycleRPCs    = append(slices.Clone(createRPCs), "ListIssueModels", "DeployIssueModel", "UndeployIssueModel")
	lifecycleActs    = append(slices.Clone(createActivities), "ListIssueModels", "DeployIssueModel", "UndeployIssueModel")
)

func pick[T any](r *rand.Rand, xs ...T) T { return xs[r.Intn(len(xs))] }

// Generate draws schedule number i of the budget seeded with seed.
func Generate(seed int64, i int) Schedule {
	r := rand.New(rand.NewSource(seed*1_000_003 + int64(i)))
	s := drawBehaviour(r)
	rpcs, acts := createRPCs, createActivities
	if s.Workflow == Lifecycle {
		rpcs, acts = lifecycleRPCs, lifecycleActs
	}
	for n := r.Intn(6); n > 0; n-- {
		s.Faults = append(s.Faults, drawFault(r, rpcs, acts))
	}
	s.Events = drawEvents(r, s)
	return s
}

// drawBehaviour draws the workflow, the API's behaviour and the run's policy.
func drawBehaviour(r *rand.Rand) Schedule {
	s := Schedule{Workflow: Create}
	if r.Intn(4) == 0 {
		s.Workflow = Lifecycle
	}
	s.CancelMode = pick(r, "honor", "honor", "ignore", "unimplemented")
	s.VisibilityDelay = pick(r, 0, 0, 10*time.Second, time.Minute, 100*time.Second, 3*time.Minute)
	if s.VisibilityDelay > workflows.DefaultNotFoundGrace-15*time.Second {
		// A lag past notFoundGrace is a misconfigured policy (README: notFoundGrace is the
		// allowance for it), so the schedule raises it.
		s.NotFoundGrace = s.VisibilityDelay + 2*time.Minute
	}
	if r.Intn(8) == 0 {
		s.OperationTTL = pick(r, 10*time.Minute, time.Hour)
	}
	s.TrainingTime = pick(r, 3*time.Minute, 20*time.Minute, time.Hour, 2*time.Hour)
	// Most of a run's cost is its polls: longer caps keep the budget fast.
	s.MaxInterval = pick(r, 0, 2*time.Minute, 5*time.Minute)
	if s.TrainingTime >= time.Hour && s.MaxInterval == 0 {
		s.MaxInterval = pick(r, 2*time.Minute, 5*time.Minute)
	}
	s.TrainingFails = r.Intn(8) == 0
	s.Timeout = pick(r, 2*time.Hour, 2*time.Hour, 6*time.Hour, 30*time.Minute)
	s.ContinueAsNewAfterPolls = pick(r, 0, 2, 3, 5, 10)
	s.DeleteModelIfCancelFails = r.Intn(3) == 0
	if s.Workflow == Lifecycle {
		// The test environment re-runs a child that continues as new without marking it
		// continued (ContinuedExecutionRunID), which the workflows rely on: lifecycle
		// schedules keep the default, which no child here reaches.
		s.ContinueAsNewAfterPolls = 0
		s.Replaced = r.Intn(3)
		s.OtherDeployed = pick(r, 0, 2, 5-s.Replaced)
	}
	return s
}

// drawFault draws one fault on one of rpcs (Refuse, LostReply) or acts (DieBefore, DieAfter).
func drawFault(r *rand.Rand, rpcs, acts []string) Fault {
	f := Fault{N: 1 + r.Intn(4)}
	if r.Intn(3) == 0 {
		f.N = 1 // the first call is where most of the interest is
	}
	switch k := r.Intn(10); {
	case k < 4:
		f.Kind, f.Call, f.Code = Refuse, pick(r, "CancelOperation", pick(r, rpcs...)), pick(r, retryableCodes...)
	case k < 5:
		f.Kind, f.Call, f.Code = Refuse, pick(r, rpcs...), pick(r, nonRetryableCodes...)
	case k < 8:
		f.Kind, f.Call, f.Code = LostReply, pick(r, "CreateIssueModel", pick(r, rpcs...)), pick(r, lostReplyCodes...)
	default:
		f.Kind, f.Call = pick(r, DieBefore, DieAfter), pick(r, acts...)
	}
	return f
}

// drawEvents draws the events of schedule s (whose workflow and training time are drawn).
func drawEvents(r *rand.Rand, s Schedule) []Event {
	horizon := s.TrainingTime + 10*time.Minute
	kinds := []EventKind{CancelSignal, CancelSignal, TemporalCancel, TemporalCancel, PollNow, SlotTaken, SlotTaken, Vanish, ExternalCancel}
	if s.Workflow == Lifecycle {
		kinds = append(kinds, TerminateParent)
	}
	var events []Event
	if r.Intn(6) == 0 {
		events = drawSlotHeldFromStart(r)
	}
	for n := r.Intn(5); n > 0; n-- {
		e := Event{Kind: pick(r, kinds...), At: drawEventTime(r, horizon)}
		if len(events) > 0 && (r.Intn(3) == 0 || events[len(events)-1].Kind == CancelSignal && r.Intn(2) == 0) {
			// Close on the heels of the previous event: races between them (a `cancel` signal
			// then `temporal workflow cancel`, say).
			prev := events[len(events)-1]
			e.At = prev.At + pick(r, 0, 0, time.Second, 2*time.Second)
			if prev.Kind == CancelSignal && r.Intn(2) == 0 {
				e.Kind = TemporalCancel
			}
		}
		if e.Kind == SlotTaken {
			e.Hold = pick(r, 2*time.Minute, 15*time.Minute, time.Hour)
		}
		if e.Kind == Vanish || e.Kind == ExternalCancel {
			// Rare: these are other parties' doing, and most findings need none.
			if r.Intn(2) == 0 {
				continue
			}
		}
		events = append(events, e)
	}
	return events
}

// drawSlotHeldFromStart: another creator holds the location's creation slot from the start, so
// the run's creates are refused for a long while (the create loop's backoff); maybe with a
// cancel during that wait.
func drawSlotHeldFromStart(r *rand.Rand) []Event {
	hold := pick(r, 15*time.Minute, time.Hour)
	events := []Event{{Kind: SlotTaken, Hold: hold}}
	if r.Intn(2) == 0 {
		// A cancel during that wait, when the create loop's backoff has grown to minutes.
		at := 3*time.Minute + time.Duration(r.Int63n(int64((hold-3*time.Minute)/time.Second)))*time.Second
		events = append(events, Event{Kind: pick(r, TemporalCancel, CancelSignal), At: at})
	}
	return events
}

// drawEventTime draws when an event happens: mostly early in the run, else before horizon.
func drawEventTime(r *rand.Rand, horizon time.Duration) time.Duration {
	switch r.Intn(4) {
	case 0:
		return time.Duration(r.Intn(15)) * time.Second
	case 1:
		return time.Duration(r.Intn(180)) * time.Second
	case 2:
		return time.Duration(r.Intn(30*60)) * time.Second
	}
	return time.Duration(r.Int63n(int64(horizon/time.Second))) * time.Second
}

// GoString renders the schedule as a Go composite literal of package explorer's types.
func (s Schedule) GoString() string {
	var b strings.Builder
	b.WriteString("explorer.Schedule{\n")
	fmt.Fprintf(&b, "\t\tWorkflow: explorer.%s, CancelMode: %q,\n", map[Workflow]string{Create: "Create", Lifecycle: "Lifecycle"}[s.Workflow], s.CancelMode)
	var opts []string
	add := func(name string, v string) { opts = append(opts, name+": "+v) }
	if s.VisibilityDelay != 0 {
		add("VisibilityDelay", goDur(s.VisibilityDelay))
	}
	if s.NotFoundGrace != 0 {
		add("NotFoundGrace", goDur(s.NotFoundGrace))
	}
	if s.OperationTTL != 0 {
		add("OperationTTL", goDur(s.OperationTTL))
	}
	add("TrainingTime", goDur(s.TrainingTime))
	if s.TrainingFails {
		add("TrainingFails", "true")
	}
	add("Timeout", goDur(s.Timeout))
	if s.MaxInterval != 0 {
		add("MaxInterval", goDur(s.MaxInterval))
	}
	if s.ContinueAsNewAfterPolls != 0 {
		add("ContinueAsNewAfterPolls", fmt.Sprint(s.ContinueAsNewAfterPolls))
	}
	if s.DeleteModelIfCancelFails {
		add("DeleteModelIfCancelFails", "true")
	}
	if s.Replaced != 0 {
		add("Replaced", fmt.Sprint(s.Replaced))
	}
	if s.OtherDeployed != 0 {
		add("OtherDeployed", fmt.Sprint(s.OtherDeployed))
	}
	fmt.Fprintf(&b, "\t\t%s,\n", strings.Join(opts, ", "))
	if len(s.Faults) > 0 {
		b.WriteString("\t\tFaults: []explorer.Fault{\n")
		for _, f := range s.Faults {
			kind := map[FaultKind]string{Refuse: "Refuse", LostReply: "LostReply", DieBefore: "DieBefore", DieAfter: "DieAfter"}[f.Kind]
			code := ""
			if f.Kind == Refuse || f.Kind == LostReply {
				code = ", Code: codes." + f.Code.String()
			}
			fmt.Fprintf(&b, "\t\t\t{Call: %q, N: %d, Kind: explorer.%s%s},\n", f.Call, f.N, kind, code)
		}
		b.WriteString("\t\t},\n")
	}
	if len(s.Events) > 0 {
		b.WriteString("\t\tEvents: []explorer.Event{\n")
		for _, e := range s.Events {
			hold := ""
			if e.Hold != 0 {
				hold = ", Hold: " + goDur(e.Hold)
			}
			fmt.Fprintf(&b, "\t\t\t{At: %s, Kind: explorer.%s%s},\n", goDur(e.At), eventConst[e.Kind], hold)
		}
		b.WriteString("\t\t},\n")
	}
	b.WriteString("\t}")
	return b.String()
}

var eventConst = map[EventKind]string{CancelSignal: "CancelSignal", TemporalCancel: "TemporalCancel", PollNow: "PollNow",
	SlotTaken: "SlotTaken", Vanish: "Vanish", ExternalCancel: "ExternalCancel", TerminateParent: "TerminateParent"}

// goDur spells d as Go source: 90 * time.Second, 3 * time.Minute, ...
func goDur(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{time.Hour, "time.Hour"}, {time.Minute, "time.Minute"}, {time.Second, "time.Second"}, {time.Millisecond, "time.Millisecond"}} {
		if d%u.d == 0 {
			if d == u.d {
				return u.name
			}
			return fmt.Sprintf("%d * %s", d/u.d, u.name)
		}
	}
	return fmt.Sprintf("time.Duration(%d)", int64(d))
}

// String is a one-line summary for logs.
func (s Schedule) String() string {
	var parts []string
	parts = append(parts, fmt.Sprintf("%s cancel=%s vis=%s train=%s", s.Workflow, s.CancelMode, s.VisibilityDelay, s.TrainingTime))
	for _, f := range s.Faults {
		parts = append(parts, fmt.Sprintf("%s#%d:%s:%s", f.Call, f.N, f.Kind, f.Code))
	}
	for _, e := range s.Events {
		parts = append(parts, fmt.Sprintf("%s@%s", e.Kind, e.At))
	}
	return strings.Join(parts, " ")
}
