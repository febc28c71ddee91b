// Package integration_test runs the workflows end to end: a real Temporal dev server (one per
// package, started in TestMain), a real worker, the real Contact Center Insights client, and the
// in-process emulator (insightstest) on a fast clock. Workflows are started the way a CLI user
// starts them: by type name, with the REST-shaped JSON input as a raw JSON payload.
package integration_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	contactcenterinsights "cloud.google.com/go/contactcenterinsights/apiv1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/issuemodels/durable-lro/activities"
	"github.com/issuemodels/durable-lro/insightstest"
	"github.com/issuemodels/durable-lro/internal/devserver"
	"github.com/issuemodels/durable-lro/nexusservice"
	"github.com/issuemodels/durable-lro/workflows"
)

// timeScale runs the emulator's clock this many times faster than wall time: 10 emulated
// minutes of training take one real second.
const timeScale = 600

// waitTimeout bounds every wait on a workflow or the emulator.
const waitTimeout = 60 * time.Second

// parent is the location every test creates its models in (each test has its own emulator).
const parent = "projects/itest/locations/us-central1"

// fastPolling polls every 1–2 s of real time.
const fastPolling = `"polling":{"initialInterval":"1s","maxInterval":"2s"}`

// devServer is the package's dev server.
var devServer *devserver.Server

func TestMain(m *testing.M) {
	os.Exit(devserver.RunTests(m, 8, "the integration tests", func(s *devserver.Server) { devServer = s }))
}

// env is one test's world: its emulator, Google client, task queue and worker.
type env struct {
	t         testing.TB
	emu       *insightstest.Server
	google    *contactcenterinsights.Client
	c         client.Client
	taskQueue string
	idPrefix  string
	worker    worker.Worker // the first worker, started by newEnv
	seq       atomic.Int64
}

// testLogger logs at INFO and above into t's log while the test runs, and drops what comes
// later (testing panics on Log after a test ends).
func testLogger(t testing.TB) log.Logger {
	w := &testWriter{t: t}
	t.Cleanup(w.end) // registered first, so it runs last
	h := slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo})
	return log.NewStructuredLogger(slog.New(h))
}

type testWriter struct {
	t     testing.TB
	mu    sync.Mutex
	ended bool
}

func (w *testWriter) end() {
	w.mu.Lock()
	w.ended = true
	w.mu.Unlock()
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.ended {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// trainingTime returns a fixed emulated training time.
func trainingTime(d time.Duration) func() time.Duration { return func() time.Duration { return d } }

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// newEnv starts an emulator with opts (Clock defaults to RealClock(timeScale)), a Google client
// on it and a worker on a task queue of the test's own. The worker is stopped at cleanup.
func newEnv(t testing.TB, opts insightstest.Options) *env {
	t.Helper()
	return newEnvOn(t, devServer.Client, opts)
}

// newEnvOn is newEnv on another Temporal server's client.
func newEnvOn(t testing.TB, shared client.Client, opts insightstest.Options) *env {
	t.Helper()
	// A client of the test's own on the shared connection, logging into the test's log, so a
	// failure shows its worker's log and expected activity errors do not clutter the output.
	c, err := client.NewClientFromExisting(shared, client.Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("Temporal client: %v", err)
	}
	t.Cleanup(c.Close)
	if opts.Clock == nil {
		opts.Clock = insightstest.RealClock(timeScale)
	}
	if opts.TrainingTime == nil {
		opts.TrainingTime = trainingTime(10 * time.Minute)
	}
	emu, err := insightstest.NewServer(opts)
	if err != nil {
		t.Fatalf("emulator: %v", err)
	}
	t.Cleanup(emu.Close)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	google, err := contactcenterinsights.NewClient(ctx, emu.ClientOptions()...)
	if err != nil {
		t.Fatalf("Google client: %v", err)
	}
	t.Cleanup(func() { _ = google.Close() })
	name := unsafeChars.ReplaceAllString(t.Name(), "-")
	suffix := fmt.Sprintf("%d", time.Now().UnixNano())
	e := &env{
		t: t, emu: emu, google: google, c: c,
		taskQueue: workflows.DefaultTaskQueue + "-" + name + "-" + suffix,
		idPrefix:  "itest-" + name + "-" + suffix,
	}
	e.worker = e.startWorker()
	return e
}

// startWorker starts a worker on the env's task queue; it is stopped at cleanup (Stop is
// idempotent, so tests may stop it earlier).
func (e *env) startWorker() worker.Worker {
	e.t.Helper()
	w := worker.New(e.c, e.taskQueue, worker.Options{})
	workflows.Register(w, &activities.Activities{Client: e.google})
	w.RegisterNexusService(nexusservice.New()) // as the worker does by default
	if err := w.Start(); err != nil {
		e.t.Fatalf("start worker: %v", err)
	}
	e.t.Cleanup(w.Stop)
	return w
}

// ctx returns a context bounded by waitTimeout, cancelled at cleanup.
func (e *env) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	e.t.Cleanup(cancel)
	return ctx
}

// start starts a workflow by type name with input as a raw JSON payload, as
// `temporal workflow start --type T --input '...'` does.
func (e *env) start(workflowType, input string) client.WorkflowRun {
	e.t.Helper()
	id := fmt.Sprintf("%s-%d", e.idPrefix, e.seq.Add(1))
	run, err := e.c.ExecuteWorkflow(e.ctx(), client.StartWorkflowOptions{
		ID: id, TaskQueue: e.taskQueue,
		// Bounded so a stuck test cannot leave runs behind for long.
		WorkflowExecutionTimeout: 5 * time.Minute,
	}, workflowType, json.RawMessage(input))
	if err != nil {
		e.t.Fatalf("start %s: %v", workflowType, err)
	}
	e.t.Cleanup(func() {
		// Leave nothing running on the shared server.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if d, err := e.c.DescribeWorkflow(ctx, id, ""); err == nil &&
			d.RawResponse.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			_ = e.c.TerminateWorkflow(ctx, id, "", "test ended")
		}
	})
	return run
}

// createInput is a CreateIssueModelWorkflow input in the REST shape; extra is spliced into the
// top-level object (e.g. a polling policy).
func createInput(displayName string, extra ...string) string {
	fields := []string{
		fmt.Sprintf(`"parent":%q`, parent),
		fmt.Sprintf(`"issueModel":{"displayName":%q,"inputDataConfig":{"medium":"CHAT","filter":"medium=\"CHAT\""}}`, displayName),
	}
	fields = append(fields, extra...)
	return "{" + strings.Join(fields, ",") + "}"
}

// status queries the run's status as `temporal workflow query --type status` does.
func (e *env) status(run client.WorkflowRun) (workflows.PollStatus, error) {
	var st workflows.PollStatus
	v, err := e.c.QueryWorkflow(e.ctx(), run.GetID(), "", workflows.StatusQuery)
	if err != nil {
		return st, err
	}
	return st, v.Get(&st)
}

// waitStatus queries until ok accepts the status and returns it; it fails the test after
// waitTimeout.
func (e *env) waitStatus(run client.WorkflowRun, what string, ok func(workflows.PollStatus) bool) workflows.PollStatus {
	e.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	var last workflows.PollStatus
	var lastErr error
	for time.Now().Before(deadline) {
		last, lastErr = e.status(run)
		if lastErr == nil && ok(last) {
			return last
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.t.Fatalf("workflow %s: timed out waiting for %s; last status %+v, last error %v", run.GetID(), what, last, lastErr)
	return last
}

// waitFor polls cond until it holds; it fails the test after waitTimeout.
func (e *env) waitFor(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// result waits for the run (following continue-as-new) and decodes its JSON result.
func (e *env) result(run client.WorkflowRun) (createResult, error) {
	var res createResult
	err := run.Get(e.ctx(), &res)
	return res, err
}

// mustResult is result that fails the test on a workflow error.
func (e *env) mustResult(run client.WorkflowRun) createResult {
	e.t.Helper()
	res, err := e.result(run)
	if err != nil {
		e.t.Fatalf("workflow %s: %v", run.GetID(), err)
	}
	return res
}

// createResult is the result JSON of CreateIssueModelWorkflow, decoded the way a user reads it
// (REST field names), independently of the workflows package's Go types.
type createResult struct {
	Operation  string `json:"operation"`
	Outcome    string `json:"outcome"`
	IssueModel *struct {
		Name          string          `json:"name"`
		DisplayName   string          `json:"displayName"`
		State         string          `json:"state"`
		IssueCount    string          `json:"issueCount"`
		TrainingStats json.RawMessage `json:"trainingStats"`
	} `json:"issueModel"`
	Metadata struct {
		CreateTime *time.Time `json:"createTime"`
		EndTime    *time.Time `json:"endTime"`
	} `json:"metadata"`
	CancelReason        string `json:"cancelReason"`
	CancelUnimplemented bool   `json:"cancelUnimplemented"`
	Polls               int    `json:"polls"`
	DeleteOperation     string `json:"deleteOperation"`
}

// describeStatus returns the run's execution status on the server.
func (e *env) describeStatus(workflowID, runID string) enumspb.WorkflowExecutionStatus {
	e.t.Helper()
	d, err := e.c.DescribeWorkflow(e.ctx(), workflowID, runID)
	if err != nil {
		e.t.Fatalf("describe %s: %v", workflowID, err)
	}
	return d.RawResponse.GetWorkflowExecutionInfo().GetStatus()
}

// models returns the names of the emulator's models in parent.
func (e *env) models() []string {
	var out []string
	for _, m := range e.emu.Models(parent) {
		out = append(out, m.GetName())
	}
	return out
}

// opDone reports whether the emulator has finished the operation.
func (e *env) opDone(name string) bool {
	op, ok := e.emu.Operation(name)
	return ok && op.GetDone()
}

// cancelledWith requires err, a run's end, to be its cancellation, and decodes the result the
// cancellation carries into details.
func (e *env) cancelledWith(err error, details any) {
	e.t.Helper()
	canceled, ok := errorsAs[*temporal.CanceledError](err)
	if !ok {
		e.t.Fatalf("the run ended with %v (%T), want a *temporal.CanceledError", err, err)
	}
	if !canceled.HasDetails() {
		e.t.Fatal("the CanceledError has no details")
	}
	if err := canceled.Details(details); err != nil {
		e.t.Fatalf("decode cancellation details: %v", err)
	}
}

func errorsAs[T error](err error) (T, bool) {
	var target T
	ok := errors.As(err, &target)
	return target, ok
}

// checkSucceededOnce checks that the run succeeded on op and that the emulator holds exactly one
// model made by exactly one CreateIssueModel call.
func (e *env) checkSucceededOnce(run client.WorkflowRun, op string) {
	e.t.Helper()
	res := e.mustResult(run)
	if res.Outcome != workflows.OutcomeSucceeded || res.Operation != op {
		e.t.Errorf("outcome/operation = %q/%q, want SUCCEEDED/%s", res.Outcome, res.Operation, op)
	}
	if got := e.models(); len(got) != 1 {
		e.t.Errorf("emulator models = %v, want exactly one", got)
	}
	e.wantCreateCalls(1, "")
}

// wantCreateCalls fails the test unless the emulator saw want CreateIssueModel calls in all; why
// says, in parentheses, where that number comes from.
func (e *env) wantCreateCalls(want int64, why string) {
	e.t.Helper()
	if n := e.emu.Stats().RPCs["CreateIssueModel"]; n != want {
		if why != "" {
			why = " (" + why + ")"
		}
		e.t.Errorf("CreateIssueModel RPCs = %d, want %d%s", n, want, why)
	}
}
