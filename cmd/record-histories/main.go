// Command record-histories records the event histories of a release's workflows, for the replay
// test that keeps upgrades safe (workflows/replay_test.go, README "Changing a workflow").
//
//	go run ./cmd/record-histories [-checkout DIR] [-release NAME]
//
// It builds the worker and the emulator from the checkout (default: this one; give a git
// worktree of an older commit to record that release), starts a Temporal dev server, one
// emulator and one worker per emulator profile (each on its own task queue), drives every
// scenario in scenarios.go through the public names only (workflow types, JSON input, signals,
// queries, Temporal cancel), and writes each run's history with
// `temporal workflow show -o json` to workflows/testdata/histories/<release>/, with a
// .meta.json beside each file naming the workflow ID and run ID it was recorded under.
// Scenarios marked in flight are recorded while the run still waits (mid-poll, mid-create,
// mid-lifecycle step): those are the histories an upgraded worker meets.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	contactcenterinsights "cloud.google.com/go/contactcenterinsights/apiv1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/testsuite"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

func main() {
	var o options
	flag.StringVar(&o.checkout, "checkout", ".", "the source tree whose worker and emulator are recorded (a git worktree of the release)")
	flag.StringVar(&o.release, "release", "", "release name, the output folder's name (default: the checkout's short commit)")
	flag.StringVar(&o.out, "out", "", "output folder (default workflows/testdata/histories/<release> in this repository)")
	flag.StringVar(&o.temporalCLI, "temporal-cli", "bin/temporal", "Temporal CLI (the dev server and `workflow show`)")
	flag.StringVar(&o.only, "only", "", "record only scenarios whose name contains this")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "record-histories:", err)
		os.Exit(1)
	}
}

type options struct {
	checkout, release, out, temporalCLI, only string
}

// recorder holds the stack the scenarios run on.
type recorder struct {
	tc       client.Client
	hostPort string
	cli      string
	out      string
	release  string
	commit   string
	// emulators maps a profile to its emulator's gRPC address; its task queue is "rec-"+profile.
	emulators map[string]string
	logs      string // the folder of the stack's logs

	mu       sync.Mutex
	recorded []string
}

func run(ctx context.Context, o options) error {
	checkout, err := filepath.Abs(o.checkout)
	if err != nil {
		return err
	}
	rev, err := output(checkout, "git", "rev-parse", "--short", "HEAD")
	if err != nil {
		return fmt.Errorf("the checkout must be a git work tree: %w", err)
	}
	commit := string(rev)
	if o.release == "" {
		o.release = commit
	}
	if o.out == "" {
		o.out = filepath.Join("workflows", "testdata", "histories", o.release)
	}
	cli, err := filepath.Abs(o.temporalCLI)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "record-histories-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	fmt.Printf("building the worker and the emulator of %s (%s)\n", checkout, commit)
	worker, emulator := filepath.Join(tmp, "worker"), filepath.Join(tmp, "insights-emulator")
	for bin, pkg := range map[string]string{worker: "./worker", emulator: "./cmd/insights-emulator"} {
		if _, err := output(checkout, "go", "build", "-o", bin, pkg); err != nil {
			return err
		}
	}
	r := &recorder{cli: cli, out: o.out, release: o.release, commit: commit, emulators: map[string]string{}, logs: tmp}
	stop, err := r.startStack(ctx, worker, emulator)
	defer stop()
	if err != nil {
		return err
	}
	if err := os.RemoveAll(o.out); err != nil {
		return err
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	if err := r.runScenarios(ctx, o.only); err != nil {
		return fmt.Errorf("%w\n(logs of the stack: %s, kept)", err, keep(tmp))
	}
	fmt.Printf("recorded %d histories in %s\n", len(r.recorded), o.out)
	return nil
}

// startStack starts the dev server, then one emulator and one worker per profile; stop stops
// them all, also after an error.
func (r *recorder) startStack(ctx context.Context, worker, emulator string) (stop func(), err error) {
	var children []*exec.Cmd
	var srv *testsuite.DevServer
	stop = func() {
		for _, c := range children {
			_ = c.Process.Signal(syscall.SIGTERM)
			_ = c.Wait()
		}
		if srv != nil {
			_ = srv.Stop()
		}
	}
	fmt.Println("starting the Temporal dev server")
	srv, err = testsuite.StartDevServer(ctx, testsuite.DevServerOptions{
		ExistingPath: r.cli, LogLevel: "error",
		ClientOptions: &client.Options{Namespace: "default"},
		ExtraArgs: []string{"--search-attribute", "InsightsOperation=Keyword", "--search-attribute", "InsightsPhase=Keyword",
			"--dynamic-config-value", "matching.enableFairness=true"},
		Stdout: logFile(r.logs, "temporal"), Stderr: logFile(r.logs, "temporal"),
	})
	if err != nil {
		return stop, fmt.Errorf("starting the dev server: %w", err)
	}
	r.tc, r.hostPort = srv.Client(), srv.FrontendHostPort()
	for _, name := range sortedKeys(profiles) {
		addr, err := freeAddr()
		if err != nil {
			return stop, err
		}
		emu := exec.Command(emulator, append([]string{"-addr", addr, "-status-addr", "", "-seed", "7", "-log-level", "warn"}, profiles[name]...)...)
		emu.Env = scrubbedEnv()
		wrk := exec.Command(worker, append([]string{"-task-queue", "rec-" + name, "-log-level", "warn"}, workerArgs[name]...)...)
		wrk.Env = append(scrubbedEnv(), "TEMPORAL_ADDRESS="+r.hostPort, "TEMPORAL_NAMESPACE=default", "INSIGHTS_EMULATOR_HOST="+addr)
		for _, c := range []*exec.Cmd{emu, wrk} {
			c.Stdout, c.Stderr = logFile(r.logs, name), logFile(r.logs, name)
			if err := c.Start(); err != nil {
				return stop, err
			}
			children = append(children, c)
			if c == emu {
				if err := waitListening(ctx, addr); err != nil {
					if exited(emu) {
						fmt.Printf("profile %s: this checkout's emulator refuses its flags; its scenarios are skipped\n", name)
						break
					}
					return stop, fmt.Errorf("emulator %s: %w", name, err)
				}
			}
		}
		if !exited(emu) {
			r.emulators[name] = addr
		}
	}
	return stop, nil
}

// runScenarios runs the scenarios (those whose name contains only, if set) side by side.
func (r *recorder) runScenarios(ctx context.Context, only string) error {
	fmt.Printf("running %d scenarios\n", len(scenarios))
	var wg sync.WaitGroup
	errs := make([]error, len(scenarios))
	for i, sc := range scenarios {
		if only != "" && !strings.Contains(sc.name, only) {
			continue
		}
		wg.Go(func() {
			sctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
			defer cancel()
			s := &scene{r: r, ctx: sctx, name: sc.name, prefix: fmt.Sprintf("rec-%02d-%s", i+1, sc.name), parent: fmt.Sprintf("projects/rec-%02d/locations/us-central1", i+1)}
			if err := sc.safeRun(s); errors.Is(err, errSkipped) {
				fmt.Printf("  %-46s %v\n", sc.name, err)
				return
			} else if err != nil {
				errs[i] = fmt.Errorf("scenario %s: %w", sc.name, err)
				return
			}
			fmt.Printf("  %-46s %d histories\n", sc.name, s.files)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// errSkipped ends a scenario whose profile this checkout's emulator does not support.
var errSkipped = errors.New("skipped: this checkout's emulator does not support the scenario's profile")

// scene is one scenario's view of the stack: its workflow IDs share prefix, its resources
// parent, so scenarios run side by side without touching each other's quotas.
type scene struct {
	r            *recorder
	ctx          context.Context
	name, prefix string
	parent       string
	started      []string // workflow IDs started, recorded at the end unless recorded already
	files        int
}

// id is the workflow ID of the scenario's workflow with the given suffix.
func (s *scene) id(suffix string) string {
	if suffix == "" {
		return s.prefix
	}
	return s.prefix + "-" + suffix
}

// start starts a workflow on the profile's task queue with the input as raw JSON, as
// `temporal workflow start --input` does.
func (s *scene) start(profile, workflowType, suffix, input string) string {
	id := s.id(suffix)
	if _, ok := s.r.emulators[profile]; !ok {
		panic(errSkipped)
	}
	_, err := s.r.tc.ExecuteWorkflow(s.ctx, client.StartWorkflowOptions{ID: id, TaskQueue: "rec-" + profile}, workflowType, json.RawMessage(input))
	if err != nil {
		panic(fmt.Sprintf("start %s: %v", id, err))
	}
	s.started = append(s.started, id)
	return id
}

// status answers the run's status query as generic JSON.
func (s *scene) status(id string) map[string]any {
	v, err := s.r.tc.QueryWorkflow(s.ctx, id, "", "status")
	if err != nil {
		return nil
	}
	var st map[string]any
	if err := v.Get(&st); err != nil {
		return nil
	}
	return st
}

// waitFor polls the status query until cond holds; it panics (see must) on timeout.
func (s *scene) waitFor(id, what string, cond func(st map[string]any) bool) {
	for {
		if st := s.status(id); st != nil && cond(st) {
			return
		}
		select {
		case <-s.ctx.Done():
			must(fmt.Errorf("%s: waiting for %s: %w (last status %v)", id, what, s.ctx.Err(), s.status(id)))
		case <-time.After(300 * time.Millisecond):
		}
	}
}

func (s *scene) waitPolls(id string, n float64) {
	s.waitFor(id, fmt.Sprintf("%v polls", n), func(st map[string]any) bool { n2, _ := st["polls"].(float64); return n2 >= n })
}

func (s *scene) waitStep(id, step string) {
	s.waitFor(id, "step "+step, func(st map[string]any) bool { return st["step"] == step })
}

func (s *scene) signal(id, name string, arg any) {
	if err := s.r.tc.SignalWorkflow(s.ctx, id, "", name, arg); err != nil {
		panic(fmt.Sprintf("signal %s %s: %v", id, name, err))
	}
}

// update runs the update name and waits for its result; a release without the update (the SDK
// refuses it as unknown) skips the scenario.
func (s *scene) update(id, name string, arg any) {
	h, err := s.r.tc.UpdateWorkflow(s.ctx, client.UpdateWorkflowOptions{
		WorkflowID: id, UpdateName: name, Args: []any{arg}, WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err == nil {
		err = h.Get(s.ctx, nil)
	}
	if err != nil && strings.Contains(err.Error(), "unknown update") {
		panic(fmt.Errorf("%w (this checkout's workflows have no %s update)", errSkipped, name))
	}
	if err != nil {
		panic(fmt.Sprintf("update %s %s: %v", id, name, err))
	}
}

func (s *scene) cancel(id string) {
	if err := s.r.tc.CancelWorkflow(s.ctx, id, ""); err != nil {
		panic(fmt.Sprintf("cancel %s: %v", id, err))
	}
}

// waitClosed waits until the run (following continue-as-new) has closed.
func (s *scene) waitClosed(id string) error {
	err := s.r.tc.GetWorkflow(s.ctx, id, "").Get(s.ctx, nil)
	if s.ctx.Err() != nil {
		return fmt.Errorf("%s did not close: %w", id, s.ctx.Err())
	}
	_ = err // failed, cancelled and timed-out runs are recorded too
	return nil
}

// sleep waits for d of real time.
func (s *scene) sleep(d time.Duration) {
	select {
	case <-s.ctx.Done():
	case <-time.After(d):
	}
}

// startOperation starts an issue-model creation directly on the profile's emulator, as another
// program would, and returns its operation name (for AwaitOperationWorkflow).
func (s *scene) startOperation(profile, parent, displayName string) string {
	c, err := contactcenterinsights.NewClient(s.ctx, option.WithEndpoint(s.r.emulators[profile]), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	must(err)
	defer c.Close()
	op, err := c.CreateIssueModel(s.ctx, createRequest(parent, displayName))
	must(err)
	return op.Name()
}

// record writes the histories of every run of id (each run of a continue-as-new chain) and of
// every child workflow they started.
func (s *scene) record(id string) error {
	desc, err := s.r.tc.DescribeWorkflow(s.ctx, id, "")
	if err != nil {
		return err
	}
	// The first run: follow the chain back through the first execution's run ID.
	runID := desc.RawResponse.GetWorkflowExecutionInfo().GetFirstRunId()
	if runID == "" {
		runID = desc.RawResponse.GetWorkflowExecutionInfo().GetExecution().GetRunId()
	}
	for k := 1; runID != ""; k++ {
		base := id
		next, hist, err := s.show(id, runID)
		if err != nil {
			return err
		}
		if k > 1 || next != "" {
			base = fmt.Sprintf("%s.run%d", id, k)
		}
		if err := s.write(base, id, runID, hist); err != nil {
			return err
		}
		for _, child := range childrenOf(hist) {
			if err := s.record(child); err != nil {
				return err
			}
		}
		runID = next
	}
	return nil
}

// show fetches one run's history with the Temporal CLI, as a user would, and returns the run it
// continued as, if any.
func (s *scene) show(id, runID string) (next string, hist []byte, err error) {
	hist, err = output(".", s.r.cli, "workflow", "show", "--address", s.r.hostPort, "--namespace", "default",
		"--workflow-id", id, "--run-id", runID, "--output", "json")
	if err != nil {
		return "", nil, err
	}
	h, err := client.HistoryFromJSON(bytes.NewReader(hist), client.HistoryJSONOptions{})
	if err != nil {
		return "", nil, fmt.Errorf("%s/%s: %w", id, runID, err)
	}
	if evs := h.GetEvents(); len(evs) > 0 {
		next = evs[len(evs)-1].GetWorkflowExecutionContinuedAsNewEventAttributes().GetNewExecutionRunId()
	}
	return next, hist, nil
}

// Meta is what the replay test needs besides the history: the execution it was recorded under.
type Meta struct {
	WorkflowID   string `json:"workflowId"`
	RunID        string `json:"runId"`
	WorkflowType string `json:"workflowType"`
	Scenario     string `json:"scenario"`
	// Closed is the run's close event type, or "" when it was recorded in flight.
	Closed  string `json:"closed"`
	Events  int    `json:"events"`
	Release string `json:"release"`
	Commit  string `json:"commit"`
}

func (s *scene) write(base, id, runID string, hist []byte) error {
	h, _ := client.HistoryFromJSON(bytes.NewReader(hist), client.HistoryJSONOptions{})
	evs := h.GetEvents()
	m := Meta{WorkflowID: id, RunID: runID, Scenario: s.name, Events: len(evs), Release: s.r.release, Commit: s.r.commit}
	if len(evs) > 0 {
		m.WorkflowType = evs[0].GetWorkflowExecutionStartedEventAttributes().GetWorkflowType().GetName()
		if last := evs[len(evs)-1]; isClose(last) {
			m.Closed = strings.TrimPrefix(last.GetEventType().String(), "WorkflowExecution")
		}
	}
	meta, _ := json.MarshalIndent(m, "", "  ")
	if err := os.WriteFile(filepath.Join(s.r.out, base+".history.json"), hist, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(s.r.out, base+".meta.json"), append(meta, '\n'), 0o644); err != nil {
		return err
	}
	s.files++
	s.r.mu.Lock()
	s.r.recorded = append(s.r.recorded, base)
	s.r.mu.Unlock()
	return nil
}

func isClose(e *historypb.HistoryEvent) bool {
	switch e.GetEventType() {
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
		enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
		enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
		return true
	}
	return false
}

func childrenOf(hist []byte) []string {
	h, _ := client.HistoryFromJSON(bytes.NewReader(hist), client.HistoryJSONOptions{})
	var ids []string
	for _, e := range h.GetEvents() {
		if a := e.GetStartChildWorkflowExecutionInitiatedEventAttributes(); a != nil {
			ids = append(ids, a.GetWorkflowId())
		}
	}
	return ids
}

// scrubbedEnv is this process's environment without what would point a child elsewhere or
// change its payloads (recorded histories must be plain JSON).
func scrubbedEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "TEMPORAL_") || strings.HasPrefix(k, "ISSUE_MODELS_") || k == "INSIGHTS_EMULATOR_HOST" || k == "METRICS_ADDR" {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func output(dir, name string, args ...string) ([]byte, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, stderr.String())
	}
	return bytes.TrimSpace(out), nil
}

var (
	logsMu sync.Mutex
	logs   = map[string]*os.File{}
)

// logFile is the one log file of a child (or a pair of them) named name.
func logFile(dir, name string) *os.File {
	logsMu.Lock()
	defer logsMu.Unlock()
	if f, ok := logs[name]; ok {
		return f
	}
	f, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		panic(err)
	}
	logs[name] = f
	return f
}

// keep copies the logs out of the temporary folder that is about to be removed.
func keep(tmp string) string {
	dst, err := os.MkdirTemp("", "record-histories-logs-")
	if err != nil {
		return tmp
	}
	files, _ := filepath.Glob(filepath.Join(tmp, "*.log"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		_ = os.WriteFile(filepath.Join(dst, filepath.Base(f)), b, 0o644)
	}
	return dst
}

// exited: the child has ended (Wait reaped it, or it is a zombie waiting to be).
func exited(c *exec.Cmd) bool {
	return c.Process != nil && c.Process.Signal(syscall.Signal(0)) != nil || isZombie(c)
}

func isZombie(c *exec.Cmd) bool {
	if c.Process == nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.Process.Pid))
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return strings.HasPrefix(rest, "Z")
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func waitListening(ctx context.Context, addr string) error {
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("nothing listens on %s", addr)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
