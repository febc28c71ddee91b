package reliability_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	contactcenterinsights "cloud.google.com/go/contactcenterinsights/apiv1"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	enumspb "go.temporal.io/api/enums/v1"
	failurepb "go.temporal.io/api/failure/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/api/iterator"

	"github.com/issuemodels/durable-lro/insights"
	"github.com/issuemodels/durable-lro/insightstest"
	"github.com/issuemodels/durable-lro/internal/proc"
	"github.com/issuemodels/durable-lro/workflows"
)

// mixedFleetDefaultFrom is the release a rollout starts from when UPGRADE_FROM is not set: the
// main that production runs today. Its input decoder is strict at every depth, so what the
// current tree writes for it (continuations, child inputs) must be something it accepts.
const mixedFleetDefaultFrom = "01814fd"

// Releases of a mixed fleet.
const (
	relPrevious = "previous"
	relCurrent  = "current"
)

// TestMixedFleetRollout is a Kubernetes rolling update without Worker Versioning: workers of the
// previous release (UPGRADE_FROM, default mixedFleetDefaultFrom) and of the current tree poll one
// task queue at once, against one dev server and one emulator, while workers of both releases are
// SIGKILLed and restarted; then the rollout completes (each previous worker replaced by a current
// one, SIGTERM) while the last runs are in flight. Runs continue as new every 3 polls and
// lifecycles hand their children to whichever worker picks them up, so continuations and child
// inputs written by one release are read by the other in both directions. Every run must end as
// it would on one release, with exactly one model created, no run failed by decoding
// (InvalidArgument), and no training left running when its run ended. Nondeterminism workflow task failures are expected in an
// unversioned mixed fleet (a run a current worker advanced past a versioned change, replayed by a
// previous worker): they are counted apart and must heal on the other release, never end a run.
func TestMixedFleetRollout(t *testing.T) {
	t.Parallel()
	from := os.Getenv("UPGRADE_FROM")
	if from == "" {
		from = mixedFleetDefaultFrom
	}
	if err := exec.Command("git", "-C", repoRoot, "cat-file", "-e", from+"^{commit}").Run(); err != nil {
		t.Skipf("SKIPPED LOUDLY: release %s is not in this clone's git history (a shallow clone?); the mixed-fleet rollout needs it", from)
	}
	mixedFleetRollout(t, from)
}

func mixedFleetRollout(t *testing.T, from string) {
	creations, lifecycles, cancels := size(10, 60), size(4, 16), size(2, 8)
	const workersPerRelease = 2
	kills := size(6, 12)
	previousBin := buildRelease(t, from)

	// 60x clock: trainings of 15–30 emulated minutes (full: 30–60) take 15–30 s, about 10 polls
	// each at 1–3 s, so 3 or more continue-as-new per run. Lifecycles named "quick" train in 1 s
	// and then deploy for 15 s (an AwaitOperationWorkflow child that continues as new too). The
	// server refuses to cancel a training (UNIMPLEMENTED), so the cancelled runs poll on and then
	// delete their model through a `-delete` child.
	long := uniform(time.Duration(size(15, 30))*time.Minute, time.Duration(size(30, 60))*time.Minute, 2)
	emu := newEmulator(t, 60, insightstest.Options{
		CancelMode: insightstest.CancelUnimplemented, DeployTime: 15 * time.Minute,
		TrainingTimeFor: quickOr(long),
	})
	// A fifth of the creations' replies are lost after the server committed: the retry, on
	// whichever release runs the next task, must adopt the training the other may have started.
	const lostReply = 0.2
	emu.SetFaults("CreateIssueModel", insightstest.Fault{Probability: lostReply, LostReplyAfterCommit: true})
	tq, prefix := names(t)
	f := newMixedFleet(t, workerEnv(devServer.HostPort, emu.Addr(), tq), map[string]string{relPrevious: previousBin, relCurrent: workerBin})
	for range workersPerRelease {
		f.start(relPrevious)
		f.start(relCurrent)
	}

	const polling = `"polling":{"initialInterval":"1s","multiplier":1.5,"maxInterval":"3s","continueAsNewAfterPolls":3}`
	began := time.Now()
	runs := startUpgradeRuns(t, tq, prefix, "mixed", mixedParent, polling, creations, cancels, lifecycles)

	// Kills alternate between the releases, a few seconds apart, while runs poll and continue as
	// new; each victim is replaced by a worker of its own release 0–1.5 s later.
	killsDone := f.killAlternating(kills, 2*time.Second, 3*time.Second)

	// Each run is awaited on its own so that what it left running is read the moment it ended.
	ends := make([]mixedEnd, len(runs))
	var wg sync.WaitGroup
	var finished atomic.Int32
	for i, r := range runs {
		wg.Go(func() {
			ends[i] = awaitMixedRun(t, emu, r, time.Duration(size(6, 15))*time.Minute)
			finished.Add(1)
		})
	}
	unsignalled := signalCancelsOncePolling(t, runs)
	// Then the rollout completes as Kubernetes does it: a current worker starts, a previous one
	// gets SIGTERM (and drains), one at a time, while the last runs are in flight.
	<-killsDone
	inFlightAtRollout, rolloutAt := len(runs)-int(finished.Load()), time.Since(began)
	f.completeRollout()
	wg.Wait()
	took := time.Since(began)

	k := checkMixedRunEnds(t, emu, runs, ends, unsignalled)
	outcomes, decodeFailedRuns, stranded, models, durations, slowest, stats := k.outcomes, k.decodeFailedRuns, k.stranded, k.models, k.durations, k.slowest, k.stats

	h := mixedHistories(t, prefix, f)
	checkMixedHistories(t, h)
	t.Logf("FIGURE mixed-fleet from=%s workers=%d+%d runs=%d creations=%d lifecycles=%d cancels=%d cancelsNotSent=%d outcomes=%v kills=%s rolloutBeganAt=%s inFlightThen=%d executions=%d continuedAsNew=%d children=%d handoffs=%s spannedBothReleases=%d wftCompleted=%s wftFailedNondeterminism=%s nondeterminismExecutions=%d healedOnOtherRelease=%d wftFailedOther=%s decodeFailedRuns=%d decodeFailedExecutions=%d lostReplies=%d adopted=%d strandedTrainings=%d modelsCreated=%d runP50=%s slowest=%s(%s) took=%s",
		from, workersPerRelease, workersPerRelease, len(runs), creations, lifecycles, cancels, len(unsignalled), sortedCounts(outcomes), sortedCounts(f.killCounts()), rolloutAt.Round(time.Second), inFlightAtRollout,
		h.executions, h.continuedAsNew, h.children, sortedCounts(h.handoffs), h.spanned, sortedCounts(h.completed), sortedCounts(h.nondeterminism), h.ndExecutions, h.ndHealed,
		sortedCounts(h.otherFailed), decodeFailedRuns, h.decodeFailed, stats.Faults["CreateIssueModel"], h.adopted, stranded, models, percentile(durations, 0.5).Round(time.Second), runs[slowest].run.GetID(), ends[slowest].took.Round(time.Second), took.Round(time.Second))
	if len(h.ndIDs) > 0 {
		t.Logf("nondeterminism failures (healed %d of %d): %s", h.ndHealed, h.ndExecutions, strings.Join(h.ndIDs, "; "))
	}
	if decodeFailedRuns > 0 || h.decodeFailed > 0 {
		t.Logf("decoding failures: %s", strings.Join(h.decodeMessages, "; "))
	}
}

// signalCancelsOncePolling sends each cancel run its cancel and returns the runs that ended before
// it could be sent.
func signalCancelsOncePolling(t *testing.T, runs []upgradeRun) map[string]bool {
	t.Helper()
	unsignalled := map[string]bool{}
	// The cancels are signalled once the run polls (its operation exists), on whichever worker. A
	// run that ended first (its tasks failed meanwhile, say: a failing task answers no query) is
	// expected to succeed and is counted as a cancel not sent.
	for _, r := range runs {
		if r.kind != "cancel" {
			continue
		}
		waitQuery(t, r.run, "a poll", func(st map[string]any) bool {
			n, _ := st["polls"].(float64)
			return n >= 1 || st["done"] == true
		})
		if err := devServer.Client.SignalWorkflow(context.Background(), r.run.GetID(), "", workflows.CancelSignal, workflows.CancelRequest{Reason: "mixed-fleet test"}); err != nil {
			var done *serviceerror.NotFound
			if !errors.As(err, &done) {
				t.Errorf("%s: the cancel signal: %v", r.run.GetID(), err)
			}
			t.Logf("%s: ended before its cancel could be sent: %v", r.run.GetID(), err)
			unsignalled[r.run.GetID()] = true
		}
	}
	return unsignalled
}

// mixedRunEnds is the tally of how the runs of a mixed-fleet rollout ended.
type mixedRunEnds struct {
	outcomes                                    map[string]int
	decodeFailedRuns, stranded, models, slowest int
	durations                                   []time.Duration
	stats                                       insightstest.Stats
}

// checkMixedRunEnds checks each run's outcome and what it left behind, and tallies them.
func checkMixedRunEnds(t *testing.T, emu *insightstest.Server, runs []upgradeRun, ends []mixedEnd, unsignalled map[string]bool) mixedRunEnds {
	t.Helper()
	outcomes := map[string]int{}
	var decodeFailedRuns, stranded, models int
	var durations []time.Duration
	slowest := 0
	stats := emu.Stats()
	for i, r := range runs {
		e := ends[i]
		durations = append(durations, e.took)
		if e.took > ends[slowest].took {
			slowest = i
		}
		outcomes[r.kind+"-"+e.outcome]++
		stranded += e.running
		if e.decodeFailed {
			decodeFailedRuns++
		}
		created := stats.ModelsCreated[r.parent]
		models += int(created)
		want, wantLeft := map[string]string{
			"create": workflows.OutcomeSucceeded, "cancel": workflows.OutcomeDeletedAfterCancel, "lifecycle": workflows.LifecycleDeployed,
		}[r.kind], 1
		switch {
		case r.kind == "cancel" && unsignalled[r.run.GetID()]:
			want = workflows.OutcomeSucceeded
		case r.kind == "cancel":
			wantLeft = 0 // deleted, as the input asked
		}
		left := len(emu.Models(r.parent))
		if e.outcome != want || created != 1 || left != wantLeft || e.running != 0 {
			t.Errorf("%s: outcome %q (want %q; error %v), %d models created (want 1), %d left (want %d), %d operations still running when it ended (want 0)",
				r.run.GetID(), e.outcome, want, e.err, created, left, wantLeft, e.running)
		}
	}
	if decodeFailedRuns != 0 {
		t.Errorf("%d of %d runs failed by decoding (InvalidArgument): a release rejected what the other wrote", decodeFailedRuns, len(runs))
	}
	return mixedRunEnds{outcomes: outcomes, decodeFailedRuns: decodeFailedRuns, stranded: stranded, models: models, slowest: slowest, durations: durations, stats: stats}
}

// checkMixedHistories checks no execution failed by decoding or by a panic, and that the
// releases did hand work to each other.
func checkMixedHistories(t *testing.T, h mixedFigures) {
	t.Helper()
	if h.decodeFailed != 0 {
		t.Errorf("%d executions (continued runs and children included) failed by decoding, e.g. %s", h.decodeFailed, strings.Join(h.decodeMessages, "; "))
	}
	if h.handoffs["can:"+relCurrent+">"+relPrevious]+h.handoffs["child:"+relCurrent+">"+relPrevious] == 0 {
		t.Errorf("no continue-as-new or child written by the current release was first picked up by the previous one: the scenario did not mix the fleet (handoffs %v)", sortedCounts(h.handoffs))
	}
	if n := h.otherFailed[enumspb.WORKFLOW_TASK_FAILED_CAUSE_WORKFLOW_WORKER_UNHANDLED_FAILURE.String()]; n != 0 {
		t.Errorf("%d workflow task failures by a panic (not nondeterminism), e.g. %s", n, h.panicMessage)
	}
}

func mixedParent(i int) string { return fmt.Sprintf("projects/mixed-%d/locations/us-central1", i) }

// mixedEnd is how one run ended and what it left running.
type mixedEnd struct {
	outcome      string
	err          error
	decodeFailed bool // the run's failure has an InvalidArgument in its chain
	running      int  // operations of its location not done when the run ended
	took         time.Duration
}

// awaitMixedRun waits for the run (following continue-as-new) and then, at once, counts the
// operations of its location that are still running: a run must not end while its training goes on.
func awaitMixedRun(t *testing.T, emu *insightstest.Server, r upgradeRun, timeout time.Duration) mixedEnd {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var res struct {
		Outcome string `json:"outcome"`
	}
	var e mixedEnd
	began := time.Now()
	e.err = r.run.Get(ctx, &res)
	e.took = time.Since(began)
	if e.err != nil {
		e.outcome = "error"
		var app *temporal.ApplicationError
		for err := e.err; errors.As(err, &app); err = app.Unwrap() {
			if app.Type() == insights.ErrInvalidArgument {
				e.decodeFailed = true
				break
			}
		}
	} else {
		e.outcome = res.Outcome
	}
	e.running = runningOperations(t, emu, r.parent)
	return e
}

// runningOperations lists the location's operations through the real client and counts those
// not done.
func runningOperations(t *testing.T, emu *insightstest.Server, parent string) int {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	gc, err := contactcenterinsights.NewClient(ctx, emu.ClientOptions()...)
	if err != nil {
		t.Error(err)
		return 0
	}
	defer gc.Close()
	n := 0
	it := gc.ListOperations(ctx, &longrunningpb.ListOperationsRequest{Name: parent, PageSize: 1000})
	for {
		op, err := it.Next()
		if err == iterator.Done {
			return n
		}
		if err != nil {
			t.Errorf("ListOperations %s: %v", parent, err)
			return n
		}
		if !op.GetDone() {
			n++
		}
	}
}

// ---- the fleet ----

// mixedFleet keeps workers of two builds on one task queue; a worker's release is known by its
// pid, which starts the identity the SDK records on every workflow task it completes.
type mixedFleet struct {
	t    *testing.T
	dir  string
	env  []string
	bins map[string]string // release -> worker binary
	mu   sync.Mutex
	live map[string][]*workerProc
	pids map[int]string
	kill map[string]int
	// started: when each worker started; a rollout stops none younger than a few seconds (one
	// still connecting exits 1 on SIGTERM, which is not what this test is about).
	started map[*workerProc]time.Time
}

func newMixedFleet(t *testing.T, env []string, bins map[string]string) *mixedFleet {
	return &mixedFleet{t: t, dir: t.TempDir(), env: env, bins: bins, live: map[string][]*workerProc{}, pids: map[int]string{}, kill: map[string]int{}, started: map[*workerProc]time.Time{}}
}

func (f *mixedFleet) start(rel string) {
	f.t.Helper()
	log, err := os.CreateTemp(f.dir, "worker-"+rel+"-*.log")
	if err != nil {
		f.t.Error(err)
		return
	}
	log.Close()
	w, err := proc.Start(proc.Options{Name: "worker " + rel, Path: f.bins[rel], Env: f.env, Log: log.Name(), Grace: 20 * time.Second})
	if err != nil {
		f.t.Error(err)
		return
	}
	f.t.Cleanup(w.Kill)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.live[rel] = append(f.live[rel], w)
	f.pids[w.Pid()] = rel
	f.started[w] = time.Now()
}

// killAlternating SIGKILLs a random worker of each release in turn, kills times, each after
// minGap plus a random part of spread, and starts its replacement 0–1.5 s later; the channel
// closes after the last replacement started.
func (f *mixedFleet) killAlternating(kills int, minGap, spread time.Duration) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		rng := rand.New(rand.NewSource(time.Now().UnixNano()))
		for i := range kills {
			time.Sleep(minGap + time.Duration(rng.Int63n(int64(spread))))
			rel := []string{relCurrent, relPrevious}[i%2]
			f.mu.Lock()
			ws := f.live[rel]
			j := rng.Intn(len(ws))
			victim := ws[j]
			f.live[rel] = append(ws[:j:j], ws[j+1:]...)
			f.kill[rel]++
			f.mu.Unlock()
			victim.Kill()
			time.Sleep(time.Duration(rng.Intn(1500)) * time.Millisecond)
			f.start(rel)
		}
	}()
	return done
}

// completeRollout replaces every previous worker with a current one: start the new, then stop the
// old with SIGTERM (it drains its tasks within its grace period), one at a time.
func (f *mixedFleet) completeRollout() {
	f.mu.Lock()
	olds := f.live[relPrevious]
	f.live[relPrevious] = nil
	f.mu.Unlock()
	for _, w := range olds {
		f.start(relCurrent)
		f.mu.Lock()
		age := time.Since(f.started[w])
		f.mu.Unlock()
		time.Sleep(5*time.Second - age)
		if err := w.Stop(); err != nil {
			f.t.Errorf("stopping a previous worker: %v; its log ends:\n%s", err, proc.Tail(w.LogPath, 10))
		}
	}
}

func (f *mixedFleet) killCounts() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]int{}
	for k, v := range f.kill {
		out[k] = v
	}
	return out
}

// releaseOf is the release of the worker whose identity this is ("?" if none of ours).
func (f *mixedFleet) releaseOf(identity string) string {
	pid, err := strconv.Atoi(strings.SplitN(identity, "@", 2)[0])
	f.mu.Lock()
	defer f.mu.Unlock()
	if rel, ok := f.pids[pid]; ok && err == nil {
		return rel
	}
	return "?"
}

// ---- what the histories say ----

// mixedFigures are read from every execution of the test: continued runs and children included.
type mixedFigures struct {
	executions, continuedAsNew, children, spanned int
	adopted                                       int // CreateIssueModel results that adopted an earlier attempt's operation
	// handoffs counts continue-as-new ("can:") and child ("child:") starts by "writer>reader":
	// the release that completed the workflow task that wrote the input, and the one that
	// completed the first workflow task of the execution that read it.
	handoffs map[string]int
	// completed counts workflow tasks completed per release; nondeterminism counts the
	// nondeterminism failures per release that failed; otherFailed the rest per cause.
	completed, nondeterminism, otherFailed map[string]int
	// ndExecutions had a nondeterminism failure; ndHealed then completed a workflow task on the
	// release that had not failed it.
	ndExecutions, ndHealed int
	decodeFailed           int // executions that failed with InvalidArgument
	decodeMessages         []string
	panicMessage           string // of a workflow task that failed by a panic
	ndIDs                  []string
}

func mixedHistories(t *testing.T, prefix string, f *mixedFleet) mixedFigures {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	fig := mixedFigures{handoffs: map[string]int{}, completed: map[string]int{}, nondeterminism: map[string]int{}, otherFailed: map[string]int{}}
	// An execution is keyed by workflow id and run id, or run id "" for a child's first run (its
	// parent's history names the child's id only). writtenBy: "can:" or "child:" and the release
	// that started it; firstReader: the release that completed its first workflow task.
	writtenBy, firstReader := map[executionKey]string{}, map[executionKey]string{}
	var token []byte
	for {
		resp, err := devServer.Client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: "default", Query: fmt.Sprintf("WorkflowId STARTS_WITH %q", prefix), PageSize: 1000, NextPageToken: token,
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range resp.GetExecutions() {
			fig.readExecution(t, f, e.GetExecution().GetWorkflowId(), e.GetExecution().GetRunId(), writtenBy, firstReader)
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			break
		}
	}
	for k, writer := range writtenBy {
		if reader, ok := firstReader[k]; ok && reader != "" {
			fig.handoffs[writer+">"+reader]++
		}
	}
	return fig
}

// executionKey names an execution by workflow id and run id, or run id "" for a child's first run
// (its parent's history names the child's id only).
type executionKey struct{ id, runID string }

// readExecution adds one execution's history to the figures, and records which release wrote
// the executions it started (writtenBy) and which first read this one (firstReader).
func (fig *mixedFigures) readExecution(t *testing.T, f *mixedFleet, id, runID string, writtenBy, firstReader map[executionKey]string) {
	t.Helper()
	evs := history(t, devServer.Client, id, runID)
	fig.executions++
	fig.adopted += adoptedCreates(evs)
	byID := map[int64]*historypb.HistoryEvent{}
	releases := map[string]bool{}
	first, ndFailedOn := "", ""
	for _, ev := range evs {
		byID[ev.GetEventId()] = ev
		switch {
		case ev.GetWorkflowTaskCompletedEventAttributes() != nil:
			rel := f.releaseOf(ev.GetWorkflowTaskCompletedEventAttributes().GetIdentity())
			fig.completed[rel]++
			releases[rel] = true
			if first == "" {
				first = rel
			}
			if ndFailedOn != "" && rel != ndFailedOn {
				fig.ndHealed++
				ndFailedOn = ""
			}
		case ev.GetWorkflowTaskFailedEventAttributes() != nil:
			a := ev.GetWorkflowTaskFailedEventAttributes()
			rel := f.releaseOf(a.GetIdentity())
			if a.GetCause() == enumspb.WORKFLOW_TASK_FAILED_CAUSE_NON_DETERMINISTIC_ERROR || strings.Contains(strings.ToLower(a.GetFailure().GetMessage()), "nondetermin") {
				fig.nondeterminism[rel]++
				if ndFailedOn == "" {
					fig.ndExecutions++
					fig.ndIDs = append(fig.ndIDs, id+" at "+ev.GetEventTime().AsTime().Format(time.TimeOnly)+": "+truncate(a.GetFailure().GetMessage(), 300))
				}
				ndFailedOn = rel
			} else {
				fig.otherFailed[a.GetCause().String()]++
				if a.GetCause() == enumspb.WORKFLOW_TASK_FAILED_CAUSE_WORKFLOW_WORKER_UNHANDLED_FAILURE && fig.panicMessage == "" {
					fig.panicMessage = id + " on the " + rel + " release: " + a.GetFailure().GetMessage()
				}
			}
		case ev.GetStartChildWorkflowExecutionInitiatedEventAttributes() != nil:
			a := ev.GetStartChildWorkflowExecutionInitiatedEventAttributes()
			fig.children++
			writtenBy[executionKey{a.GetWorkflowId(), ""}] = "child:" + f.releaseOf(byID[a.GetWorkflowTaskCompletedEventId()].GetWorkflowTaskCompletedEventAttributes().GetIdentity())
		case ev.GetWorkflowExecutionContinuedAsNewEventAttributes() != nil:
			a := ev.GetWorkflowExecutionContinuedAsNewEventAttributes()
			fig.continuedAsNew++
			writtenBy[executionKey{id, a.GetNewExecutionRunId()}] = "can:" + f.releaseOf(byID[a.GetWorkflowTaskCompletedEventId()].GetWorkflowTaskCompletedEventAttributes().GetIdentity())
		case ev.GetWorkflowExecutionFailedEventAttributes() != nil:
			if fl := ev.GetWorkflowExecutionFailedEventAttributes().GetFailure(); isInvalidArgument(fl) {
				fig.decodeFailed++
				if len(fig.decodeMessages) < 5 {
					fig.decodeMessages = append(fig.decodeMessages, id+": "+fl.GetMessage())
				}
			}
		}
	}
	if len(releases) > 1 {
		fig.spanned++
	}
	firstReader[executionKey{id, runID}] = first
	if len(evs) > 0 && evs[0].GetWorkflowExecutionStartedEventAttributes().GetParentWorkflowExecution() != nil &&
		evs[0].GetWorkflowExecutionStartedEventAttributes().GetContinuedExecutionRunId() == "" {
		firstReader[executionKey{id, ""}] = first // a child's first run
	}
}

// isInvalidArgument reports whether the failure is (directly, not through a child's failure) an
// ApplicationError of type InvalidArgument: the run itself refused its input.
func isInvalidArgument(fl *failurepb.Failure) bool {
	for ; fl != nil; fl = fl.GetCause() {
		if fl.GetApplicationFailureInfo().GetType() == insights.ErrInvalidArgument {
			return true
		}
		if fl.GetChildWorkflowExecutionFailureInfo() != nil {
			return false
		}
	}
	return false
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
