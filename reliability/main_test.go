// Package reliability_test proves durability and safety end to end: a real Temporal dev server
// (the pinned CLI in ./bin), REAL worker processes built from ./worker, the real Google client
// inside them, and the in-process Contact Center Insights emulator (so its Stats and Models can be
// read). See docs/RELIABILITY.md.
//
// Size: the default (CI) size runs in a few minutes; RELIABILITY_FULL=1 selects the full size.
// Every test logs its figures as one greppable line starting with "FIGURE".
package reliability_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/issuemodels/durable-lro/insightstest"
	"github.com/issuemodels/durable-lro/internal/devserver"
	"github.com/issuemodels/durable-lro/internal/proc"
	"github.com/issuemodels/durable-lro/workflows"
)

// full selects the full size (RELIABILITY_FULL=1).
var full = os.Getenv("RELIABILITY_FULL") == "1"

// size picks the CI or the full figure.
func size(ci, fullSize int) int {
	if full {
		return fullSize
	}
	return ci
}

var (
	devServer *devserver.Server // shared by every test except the restart test
	workerBin string            // the ./worker binary built by TestMain
	repoRoot  string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

// run builds the worker, then runs the tests against a shared dev server.
func run(m *testing.M) int {
	var err error
	if repoRoot, err = proc.RepoRoot(); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	tmp, err := os.MkdirTemp("", "reliability-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	workerBin = filepath.Join(tmp, "worker")
	if err := proc.Build(context.Background(), repoRoot, "./worker", workerBin); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: %v\n", err)
		return 1
	}
	return devserver.RunTests(m, 8, "the reliability suite", func(s *devserver.Server) {
		devServer = s
		mode := "CI size"
		if full {
			mode = "FULL size (RELIABILITY_FULL=1)"
		}
		fmt.Fprintf(os.Stderr, "reliability: %s; dev server %s; worker %s\n", mode, s.HostPort, workerBin)
	})
}

// ---- emulator ----

// newEmulator starts an in-process emulator on a RealClock(scale); it is closed at cleanup.
func newEmulator(t *testing.T, scale float64, opts insightstest.Options) *insightstest.Server {
	t.Helper()
	if opts.Clock == nil {
		opts.Clock = insightstest.RealClock(scale)
	}
	emu, err := insightstest.NewServer(opts)
	if err != nil {
		t.Fatalf("emulator: %v", err)
	}
	t.Cleanup(emu.Close)
	return emu
}

func fixed(d time.Duration) func() time.Duration { return func() time.Duration { return d } }

// uniform returns training times uniformly in [lo, hi] (emulated time).
func uniform(lo, hi time.Duration, seed int64) func() time.Duration {
	f, err := insightstest.ParseTrainingTime(fmt.Sprintf("uniform:%s-%s", lo, hi), seed)
	if err != nil {
		panic(err)
	}
	return f
}

// ---- worker processes ----

// workerProc is one real worker process.
type workerProc = proc.Process

// workerEnv is what a worker process is given on top of the test's own environment (which
// internal/proc scrubs of Temporal, emulator and codec settings).
func workerEnv(hostPort, emuAddr, taskQueue string, extra ...string) []string {
	env := []string{
		"TEMPORAL_ADDRESS=" + hostPort, "TEMPORAL_NAMESPACE=default",
		"INSIGHTS_EMULATOR_HOST=" + emuAddr, "TEMPORAL_TASK_QUEUE=" + taskQueue,
		"LOG_LEVEL=warn"}
	return append(env, extra...)
}

// startWorker starts a worker process whose output goes to a file in dir; it is killed at
// cleanup if still running. Stop gives it 20 s to drain.
func startWorker(t *testing.T, dir string, env []string) *workerProc {
	t.Helper()
	f, err := os.CreateTemp(dir, "worker-*.log")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	w, err := proc.Start(proc.Options{Name: "worker", Path: workerBin, Env: env, Log: f.Name(), Grace: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Kill)
	return w
}

func workerLog(w *workerProc) string {
	b, _ := os.ReadFile(w.LogPath)
	return string(b)
}

// ---- starting and awaiting workflows ----

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// names returns a task queue and a workflow-id prefix unique to the test.
func names(t *testing.T) (taskQueue, idPrefix string) {
	n := unsafeChars.ReplaceAllString(t.Name(), "-")
	s := fmt.Sprintf("%d", time.Now().UnixNano())
	return "rel-" + n + "-" + s, "rel-" + n + "-" + s
}

// createInput is a CreateIssueModelWorkflow input in the REST shape; extra is spliced into the
// top-level object.
func createInput(parent, displayName string, extra ...string) string {
	fields := []string{
		fmt.Sprintf(`"parent":%q`, parent),
		fmt.Sprintf(`"issueModel":{"displayName":%q,"inputDataConfig":{"medium":"CHAT","filter":"medium=\"CHAT\""}}`, displayName),
	}
	return "{" + strings.Join(append(fields, extra...), ",") + "}"
}

// rawJSON is a JSON payload holding exactly these bytes, as `temporal workflow start --input`
// sends it (the SDK would re-encode or refuse anything that is not valid JSON).
func rawJSON(b []byte) converter.RawValue {
	return converter.NewRawValue(&commonpb.Payload{
		Metadata: map[string][]byte{converter.MetadataEncoding: []byte(converter.MetadataEncodingJSON)},
		Data:     b,
	})
}

// startCreate starts a CreateIssueModelWorkflow by type name with input as a raw JSON payload.
func startCreate(t *testing.T, c client.Client, id, taskQueue, input string) client.WorkflowRun {
	t.Helper()
	return startByType(t, c, workflows.CreateIssueModelWorkflowType, id, taskQueue, input)
}

// startByType starts a workflow of workflowType with input as a raw JSON payload (terminated
// at the test's end if still running).
func startByType(t *testing.T, c client.Client, workflowType, id, taskQueue, input string) client.WorkflowRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: id, TaskQueue: taskQueue, WorkflowExecutionTimeout: 30 * time.Minute,
	}, workflowType, rawJSON([]byte(input)))
	if err != nil {
		t.Fatalf("start %s: %v", id, err)
	}
	t.Cleanup(func() { terminateIfRunning(c, id) })
	return run
}

// startCreations starts n creations on taskQueue, each in its own project
// projects/<project>-<i>/locations/us-central1 (so the emulator's one creation per location
// cannot hide a duplicate), with the polling policy (JSON); it returns the parents and runs.
func startCreations(t *testing.T, c client.Client, n int, taskQueue, idPrefix, project, polling string) ([]string, []client.WorkflowRun) {
	t.Helper()
	parents := make([]string, n)
	runs := make([]client.WorkflowRun, n)
	for i := range n {
		parents[i] = fmt.Sprintf("projects/%s-%d/locations/us-central1", project, i)
		runs[i] = startCreate(t, c, fmt.Sprintf("%s-%d", idPrefix, i), taskQueue,
			createInput(parents[i], fmt.Sprintf("%s-%d", project, i), `"polling":`+polling))
	}
	return parents, runs
}

func terminateIfRunning(c client.Client, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if d, err := c.DescribeWorkflow(ctx, id, ""); err == nil &&
		d.RawResponse.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		_ = c.TerminateWorkflow(ctx, id, "", "reliability test ended")
	}
}

// createResult is the result JSON of CreateIssueModelWorkflow as a user reads it.
type createResult struct {
	Operation  string `json:"operation"`
	Outcome    string `json:"outcome"`
	Polls      int    `json:"polls"`
	IssueModel *struct {
		Name  string `json:"name"`
		State string `json:"state"`
	} `json:"issueModel"`
}

// outcome is how one run ended.
type outcome struct {
	id  string
	res createResult
	err error
}

// awaitAll waits for every run (following continue-as-new), at most timeout in all.
func awaitAll(runs []client.WorkflowRun, timeout time.Duration) []outcome {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out := make([]outcome, len(runs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i, r := range runs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			out[i].id = r.GetID()
			out[i].err = r.Get(ctx, &out[i].res)
		})
	}
	wg.Wait()
	return out
}

// succeeded reports whether o is a successful creation with its model, failing the test when not.
func succeeded(t *testing.T, o outcome) bool {
	t.Helper()
	switch {
	case o.err != nil:
		t.Errorf("workflow %s: %v", o.id, o.err)
	case o.res.Outcome != workflows.OutcomeSucceeded || o.res.IssueModel == nil:
		t.Errorf("workflow %s: outcome %q, model %v", o.id, o.res.Outcome, o.res.IssueModel)
	default:
		return true
	}
	return false
}

// countSucceeded is how many of outs are successful creations with their model; it fails the
// test for each other one.
func countSucceeded(t *testing.T, outs []outcome) int {
	t.Helper()
	n := 0
	for _, o := range outs {
		if succeeded(t, o) {
			n++
		}
	}
	return n
}

// extraModels fails the test for each parent in which the emulator did not create exactly one
// model, and returns how many models it created beyond one per parent (the duplicates).
func extraModels(t *testing.T, st insightstest.Stats, parents []string) int {
	t.Helper()
	extra := 0
	for _, p := range parents {
		if got := st.ModelsCreated[p]; got != 1 {
			extra += max(int(got)-1, 0)
			t.Errorf("%s: %d models created, want 1", p, got)
		}
	}
	return extra
}

// ---- history ----

// history returns every event of one run.
func history(t *testing.T, c client.Client, id, runID string) []*historypb.HistoryEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	it := c.GetWorkflowHistory(ctx, id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var evs []*historypb.HistoryEvent
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatalf("history of %s/%s: %v", id, runID, err)
		}
		evs = append(evs, ev)
	}
	return evs
}

// chain returns the histories of every run of a workflow id, first run first, by following
// continue-as-new from firstRunID.
func chain(t *testing.T, c client.Client, id, firstRunID string) [][]*historypb.HistoryEvent {
	t.Helper()
	var out [][]*historypb.HistoryEvent
	runID := firstRunID
	for runID != "" && len(out) < 10000 {
		evs := history(t, c, id, runID)
		out = append(out, evs)
		runID = ""
		if n := len(evs); n > 0 {
			if a := evs[n-1].GetWorkflowExecutionContinuedAsNewEventAttributes(); a != nil {
				runID = a.GetNewExecutionRunId()
			}
		}
	}
	return out
}

// countEvents counts the events of the given type.
func countEvents(evs []*historypb.HistoryEvent, typ enumspb.EventType) int {
	n := 0
	for _, ev := range evs {
		if ev.GetEventType() == typ {
			n++
		}
	}
	return n
}

// adoptedCreates counts the creation attempts that looked for an earlier attempt's operation
// (CreateIssueModel or FindIssueModelCreation scheduled with lookFrom) and came back with one.
// Such an attempt adopted the operation, unless the list had shown nothing for the whole grace
// and it created one: with the emulator's list, which does not lag, only after an attempt that
// created nothing (its worker died before the call).
func adoptedCreates(evs []*historypb.HistoryEvent) int {
	lookedFor := map[int64]bool{} // scheduled event id: the attempt looked
	n := 0
	for _, ev := range evs {
		if s := ev.GetActivityTaskScheduledEventAttributes(); s != nil {
			name := s.GetActivityType().GetName()
			if name != "CreateIssueModel" && name != "FindIssueModelCreation" {
				continue
			}
			for _, p := range s.GetInput().GetPayloads() {
				var in struct {
					LookFrom *time.Time `json:"lookFrom"`
				}
				if json.Unmarshal(p.GetData(), &in) == nil && in.LookFrom != nil {
					lookedFor[ev.GetEventId()] = true
				}
			}
		}
		a := ev.GetActivityTaskCompletedEventAttributes()
		if a == nil || !lookedFor[a.GetScheduledEventId()] {
			continue
		}
		for _, p := range a.GetResult().GetPayloads() {
			var r struct {
				Operation string `json:"operation"`
			}
			if json.Unmarshal(p.GetData(), &r) == nil && r.Operation != "" {
				n++
			}
		}
	}
	return n
}

// ---- random worker kills ----

// fleet keeps n worker processes running; kill replaces one at random with a new process.
type fleet struct {
	t    *testing.T
	dir  string
	env  []string
	mu   sync.Mutex
	all  []*workerProc
	live []*workerProc
	rng  *rand.Rand
}

func newFleet(t *testing.T, n int, env []string) *fleet {
	f := &fleet{t: t, dir: t.TempDir(), env: env, rng: rand.New(rand.NewSource(time.Now().UnixNano()))}
	for range n {
		w := startWorker(t, f.dir, env)
		f.all = append(f.all, w)
		f.live = append(f.live, w)
	}
	return f
}

// killOne SIGKILLs a random live worker and starts a replacement after restartDelay.
func (f *fleet) killOne(restartDelay time.Duration) {
	f.mu.Lock()
	i := f.rng.Intn(len(f.live))
	victim := f.live[i]
	f.live = append(f.live[:i:i], f.live[i+1:]...)
	f.mu.Unlock()
	victim.Kill()
	time.Sleep(restartDelay)
	f.startN(1)
}

// killAtRandom kills a worker (with killOne, restarting it within 1.5 s) kills times, each after
// minGap plus a random part of spread; the channel closes after the last.
func (f *fleet) killAtRandom(kills int, minGap, spread time.Duration) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		rng := rand.New(rand.NewSource(time.Now().UnixNano()))
		for range kills {
			time.Sleep(minGap + time.Duration(rng.Intn(int(spread/time.Millisecond)))*time.Millisecond)
			f.killOne(time.Duration(rng.Intn(1500)) * time.Millisecond)
		}
	}()
	return done
}

// killN SIGKILLs n live workers and starts no replacement.
func (f *fleet) killN(n int) {
	f.mu.Lock()
	victims := f.live[:n]
	f.live = append([]*workerProc(nil), f.live[n:]...)
	f.mu.Unlock()
	for _, w := range victims {
		w.Kill()
	}
}

// startN starts n more workers.
func (f *fleet) startN(n int) {
	for range n {
		w := startWorker(f.t, f.dir, f.env)
		f.mu.Lock()
		f.all = append(f.all, w)
		f.live = append(f.live, w)
		f.mu.Unlock()
	}
}

func (f *fleet) stopAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, w := range f.live {
		_ = w.Stop()
	}
}

func (f *fleet) logs() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var b bytes.Buffer
	for _, w := range f.all {
		b.WriteString(workerLog(w))
	}
	return b.String()
}

// ---- small helpers ----

func maxDur(ds []time.Duration) time.Duration {
	var m time.Duration
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

type historyEvent = historypb.HistoryEvent
