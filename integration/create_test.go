package integration_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/grpc/codes"

	"github.com/issuemodels/durable-lro/insights"
	"github.com/issuemodels/durable-lro/insightstest"
	"github.com/issuemodels/durable-lro/internal/devserver"
	"github.com/issuemodels/durable-lro/workflows"
)

const createType = workflows.CreateIssueModelWorkflowType

func TestHappyPath(t *testing.T) {
	t.Parallel()
	// 30 emulated minutes: about 3 s of polling every 1–2 s.
	e := newEnv(t, insightstest.Options{TrainingTime: trainingTime(30 * time.Minute)})
	run := e.start(createType, createInput("happy", fastPolling))

	mid := e.waitStatus(run, "a poll while the training runs", func(s workflows.PollStatus) bool { return s.Polls >= 1 || s.Done })
	if mid.Done {
		t.Fatalf("the run finished before a status query saw it polling: %+v", mid)
	}
	if mid.Phase != workflows.PhasePolling {
		t.Errorf("status.phase = %q, want %q", mid.Phase, workflows.PhasePolling)
	}
	if !strings.HasPrefix(mid.Operation, parent+"/operations/") {
		t.Errorf("status.operation = %q, want an operation of %s", mid.Operation, parent)
	}
	if mid.Polls < 1 {
		t.Errorf("status.polls = %d, want >= 1", mid.Polls)
	}

	res := e.mustResult(run)
	if res.Outcome != workflows.OutcomeSucceeded {
		t.Errorf("outcome = %q, want SUCCEEDED", res.Outcome)
	}
	if res.Operation != mid.Operation {
		t.Errorf("result operation %q, status operation %q", res.Operation, mid.Operation)
	}
	m := res.IssueModel
	if m == nil {
		t.Fatalf("result has no issueModel: %+v", res)
	}
	if !strings.HasPrefix(m.Name, parent+"/issueModels/") || m.DisplayName != "happy" || m.State != "UNDEPLOYED" {
		t.Errorf("issueModel name/displayName/state = %q/%q/%q", m.Name, m.DisplayName, m.State)
	}
	if len(m.TrainingStats) == 0 || string(m.TrainingStats) == "null" {
		t.Error("issueModel has no trainingStats")
	}
	if m.IssueCount == "" {
		t.Error("issueModel has no issueCount")
	}
	if res.Metadata.CreateTime == nil || res.Metadata.EndTime == nil || !res.Metadata.EndTime.After(*res.Metadata.CreateTime) {
		t.Errorf("metadata createTime/endTime = %v/%v", res.Metadata.CreateTime, res.Metadata.EndTime)
	}
	if res.Polls < 2 {
		t.Errorf("polls = %d, want >= 2 for a 3 s training polled every 1–2 s", res.Polls)
	}
	if got := e.models(); len(got) != 1 || got[0] != m.Name {
		t.Errorf("emulator models = %v, want exactly [%s]", got, m.Name)
	}
	if st := e.describeStatus(run.GetID(), ""); st != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
		t.Errorf("execution status = %v, want COMPLETED", st)
	}
}

// startAndWaitForOperation starts a creation and waits until the status query names its
// operation.
func startAndWaitForOperation(e *env, input string) (client.WorkflowRun, string) {
	e.t.Helper()
	run := e.start(createType, input)
	st := e.waitStatus(run, "the operation name", func(s workflows.PollStatus) bool { return s.Operation != "" })
	return run, st.Operation
}

func signalCancel(e *env, run client.WorkflowRun, reason string) {
	e.t.Helper()
	if err := e.c.SignalWorkflow(e.ctx(), run.GetID(), "", workflows.CancelSignal, workflows.CancelRequest{Reason: reason}); err != nil {
		e.t.Fatalf("signal cancel: %v", err)
	}
}

// checkCancelled checks a run that ended CANCELED with outcome CANCELLED and left no model.
func checkCancelled(e *env, run client.WorkflowRun, op, reason string) {
	e.t.Helper()
	_, err := e.result(run)
	var details createResult
	e.cancelledWith(err, &details)
	if details.Outcome != workflows.OutcomeCancelled || details.Operation != op {
		e.t.Errorf("details outcome/operation = %q/%q, want CANCELLED/%s", details.Outcome, details.Operation, op)
	}
	if details.CancelReason != reason {
		e.t.Errorf("details cancelReason = %q, want %q", details.CancelReason, reason)
	}
	if st := e.describeStatus(run.GetID(), ""); st != enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED {
		e.t.Errorf("execution status = %v, want CANCELED", st)
	}
	if got := e.models(); len(got) != 0 {
		e.t.Errorf("emulator models after a cancelled training = %v, want none", got)
	}
	if op, ok := e.emu.Operation(op); !ok || !op.GetDone() || op.GetError().GetCode() != int32(codes.Canceled) {
		e.t.Errorf("emulator operation = %v, want done with error code 1", op)
	}
}

func TestCancelSignal(t *testing.T) {
	t.Parallel()
	const reason = "wrong filter"
	t.Run("honor", func(t *testing.T) {
		t.Parallel()
		// 2 emulated hours (12 s): the cancel comes long before the end.
		e := newEnv(t, insightstest.Options{CancelMode: insightstest.CancelHonor, TrainingTime: trainingTime(2 * time.Hour)})
		run, op := startAndWaitForOperation(e, createInput("cancel-honor", fastPolling))
		signalCancel(e, run, reason)
		checkCancelled(e, run, op, reason)
	})
	for _, tc := range []struct {
		mode          insightstest.CancelMode
		deleteIfFails bool
		outcome       string
	}{
		{insightstest.CancelUnimplemented, false, workflows.OutcomeCompletedDespiteCancel},
		{insightstest.CancelIgnore, false, workflows.OutcomeCompletedDespiteCancel},
		{insightstest.CancelUnimplemented, true, workflows.OutcomeDeletedAfterCancel},
	} {
		name := string(tc.mode)
		if tc.deleteIfFails {
			name += "-deleteModelIfCancelFails"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			// 1 emulated hour (6 s): the cancel arrives while it trains; the training then
			// completes anyway.
			e := newEnv(t, insightstest.Options{CancelMode: tc.mode, TrainingTime: trainingTime(time.Hour)})
			extra := []string{fastPolling}
			if tc.deleteIfFails {
				extra = append(extra, `"deleteModelIfCancelFails":true`)
			}
			run, op := startAndWaitForOperation(e, createInput("cancel-"+name, extra...))
			signalCancel(e, run, reason)
			e.waitStatus(run, "the cancel request", func(s workflows.PollStatus) bool { return s.CancelRequested })
			if e.opDone(op) {
				t.Fatal("the training ended before the cancel was taken; the test cannot tell anything")
			}

			res := e.mustResult(run)
			if res.Outcome != tc.outcome {
				t.Errorf("outcome = %q, want %q", res.Outcome, tc.outcome)
			}
			if res.CancelReason != reason {
				t.Errorf("cancelReason = %q, want %q", res.CancelReason, reason)
			}
			if want := tc.mode == insightstest.CancelUnimplemented; res.CancelUnimplemented != want {
				t.Errorf("cancelUnimplemented = %v, want %v", res.CancelUnimplemented, want)
			}
			if res.IssueModel == nil || res.IssueModel.Name == "" {
				t.Fatalf("result has no issueModel: %+v", res)
			}
			if st := e.describeStatus(run.GetID(), ""); st != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
				t.Errorf("execution status = %v, want COMPLETED", st)
			}
			if !tc.deleteIfFails {
				if got := e.models(); len(got) != 1 || got[0] != res.IssueModel.Name {
					t.Errorf("emulator models = %v, want exactly [%s]", got, res.IssueModel.Name)
				}
				return
			}
			if !strings.HasPrefix(res.DeleteOperation, parent+"/operations/") {
				t.Errorf("deleteOperation = %q, want an operation name", res.DeleteOperation)
			}
			e.waitFor("the model to be deleted", func() bool { return len(e.models()) == 0 })
			if n := e.emu.Stats().RPCs["DeleteIssueModel"]; n != 1 {
				t.Errorf("DeleteIssueModel RPCs = %d, want 1", n)
			}
		})
	}
}

// TestTemporalCancel cancels the workflow with Temporal's own cancel (`temporal workflow
// cancel`): the operation is cancelled and the run ends CANCELED, as with the signal.
func TestTemporalCancel(t *testing.T) {
	t.Parallel()
	e := newEnv(t, insightstest.Options{TrainingTime: trainingTime(2 * time.Hour)})
	run, op := startAndWaitForOperation(e, createInput("temporal-cancel", fastPolling))
	if err := e.c.CancelWorkflow(e.ctx(), run.GetID(), ""); err != nil {
		t.Fatalf("CancelWorkflow: %v", err)
	}
	checkCancelled(e, run, op, "workflow cancellation requested")
	if n := e.emu.Stats().RPCs["CancelOperation"]; n != 1 {
		t.Errorf("CancelOperation RPCs = %d, want 1", n)
	}
}

// TestPollNow: with an hour between polls, the poll-now signal makes the run poll at once.
func TestPollNow(t *testing.T) {
	t.Parallel()
	// 1 emulated hour = 6 s.
	e := newEnv(t, insightstest.Options{TrainingTime: trainingTime(time.Hour)})
	run, op := startAndWaitForOperation(e, createInput("poll-now", `"polling":{"initialInterval":"1h","maxInterval":"1h"}`))
	signal := func() {
		t.Helper()
		if err := e.c.SignalWorkflow(e.ctx(), run.GetID(), "", workflows.PollNowSignal, nil); err != nil {
			t.Fatalf("signal poll-now: %v", err)
		}
	}

	signal()
	st := e.waitStatus(run, "the first poll after poll-now", func(s workflows.PollStatus) bool { return s.Polls >= 1 })
	if st.Polls != 1 || st.Done {
		t.Errorf("after one poll-now during training: polls=%d done=%v, want 1 and false", st.Polls, st.Done)
	}
	if st.NextPollAt == nil || time.Until(*st.NextPollAt) < 30*time.Minute {
		t.Errorf("nextPollAt = %v, want about an hour from now", st.NextPollAt)
	}

	e.waitFor("the training to end in the emulator", func() bool { return e.opDone(op) })
	signal()
	res := e.mustResult(run)
	if res.Outcome != workflows.OutcomeSucceeded || res.Polls != 2 {
		t.Errorf("outcome/polls = %q/%d, want SUCCEEDED/2", res.Outcome, res.Polls)
	}
}

// TestWorkerRestart stops the only worker between polls and starts another later: the run
// picks up where it was and the emulator holds exactly one model.
func TestWorkerRestart(t *testing.T) {
	t.Parallel()
	// The env's worker is the first; 1 emulated hour = 6 s of training.
	e := newEnv(t, insightstest.Options{TrainingTime: trainingTime(time.Hour)})
	run, op := startAndWaitForOperation(e, createInput("worker-restart", fastPolling))
	e.waitStatus(run, "a poll", func(s workflows.PollStatus) bool { return s.Polls >= 1 })
	e.worker.Stop()
	pollsAtStop := e.emu.Stats().RPCs["GetOperation"]

	e.waitFor("the training to end while no worker runs", func() bool { return e.opDone(op) })
	if st := e.describeStatus(run.GetID(), ""); st != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		t.Fatalf("execution status without a worker = %v, want RUNNING", st)
	}
	if n := e.emu.Stats().RPCs["GetOperation"]; n > pollsAtStop+1 { // one activity may have been in flight
		t.Errorf("GetOperation RPCs went from %d to %d while no worker ran", pollsAtStop, n)
	}

	e.startWorker()
	e.checkSucceededOnce(run, op)
}

// TestLostReplyAfterCommit: the first CreateIssueModel is carried out but its reply is lost;
// the activity's retry finds and adopts the operation instead of creating a second model.
func TestLostReplyAfterCommit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, insightstest.Options{})
	e.emu.SetFaults("CreateIssueModel", insightstest.Fault{LostReplyAfterCommit: true, Probability: 1})
	run := e.start(createType, createInput("lost-reply", fastPolling))
	e.waitFor("the first CreateIssueModel", func() bool { return e.emu.Stats().RPCs["CreateIssueModel"] >= 1 })
	e.emu.SetFaults("CreateIssueModel") // clear: a second create would now succeed

	res := e.mustResult(run)
	if res.Outcome != workflows.OutcomeSucceeded {
		t.Errorf("outcome = %q, want SUCCEEDED", res.Outcome)
	}
	st := e.emu.Stats()
	if n := st.ModelsCreated[parent]; n != 1 {
		t.Errorf("models created = %d, want 1", n)
	}
	if n := st.RPCs["CreateIssueModel"]; n != 1 {
		t.Errorf("CreateIssueModel RPCs = %d, want 1 (the retry adopts, it does not create)", n)
	}
	if n := st.Faults["CreateIssueModel"]; n != 1 {
		t.Errorf("CreateIssueModel faults = %d, want 1", n)
	}
	if got := e.models(); len(got) != 1 || res.IssueModel == nil || got[0] != res.IssueModel.Name {
		t.Errorf("emulator models = %v, want exactly the result's model", got)
	}
}

// TestLostReplyRandom runs several creations, each in its own location, while half of the
// CreateIssueModel replies are lost after commit: every workflow ends with exactly one model.
func TestLostReplyRandom(t *testing.T) {
	t.Parallel()
	const runs = 6
	e := newEnv(t, insightstest.Options{Seed: 7})
	e.emu.SetFaults("CreateIssueModel", insightstest.Fault{LostReplyAfterCommit: true, Probability: 0.5})
	type started struct {
		run    client.WorkflowRun
		parent string
	}
	var all []started
	for i := range runs {
		p := fmt.Sprintf("projects/itest/locations/loc-%d", i)
		in := strings.Replace(createInput(fmt.Sprintf("lost-%d", i), fastPolling), parent, p, 1)
		all = append(all, started{e.start(createType, in), p})
	}
	for _, s := range all {
		res := e.mustResult(s.run)
		if res.Outcome != workflows.OutcomeSucceeded {
			t.Errorf("%s: outcome = %q", s.parent, res.Outcome)
		}
		if models := e.emu.Models(s.parent); len(models) != 1 || res.IssueModel == nil || models[0].GetName() != res.IssueModel.Name {
			t.Errorf("%s: %d models, want exactly the result's", s.parent, len(models))
		}
	}
	st := e.emu.Stats()
	for _, s := range all {
		if n := st.ModelsCreated[s.parent]; n != 1 {
			t.Errorf("%s: models created = %d, want 1", s.parent, n)
		}
	}
	t.Logf("lost replies: %d of %d CreateIssueModel calls", st.Faults["CreateIssueModel"], st.RPCs["CreateIssueModel"])
}

// TestInvalidInput: a malformed parent fails the run with InvalidArgument before any API call.
func TestInvalidInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, insightstest.Options{})
	in := strings.Replace(createInput("bad", fastPolling), parent, "projects//x", 1)
	run := e.start(createType, in)
	_, err := e.result(run)
	appErr, ok := errorsAs[*temporal.ApplicationError](err)
	if !ok {
		t.Fatalf("run.Get = %v, want an ApplicationError", err)
	}
	if appErr.Type() != insights.ErrInvalidArgument || !appErr.NonRetryable() {
		t.Errorf("error type %q nonRetryable=%v, want InvalidArgument, non-retryable", appErr.Type(), appErr.NonRetryable())
	}
	var fv insights.FieldViolation
	if err := appErr.Details(&fv); err != nil || fv.Field != "parent" {
		t.Errorf("details = %+v (%v), want field parent", fv, err)
	}
	if st := e.describeStatus(run.GetID(), ""); st != enumspb.WORKFLOW_EXECUTION_STATUS_FAILED {
		t.Errorf("execution status = %v, want FAILED", st)
	}
	e.wantCreateCalls(0, "it fails before any API call")
}

// TestOperationFailed: a training that ends FAILED_PRECONDITION fails the run with
// OperationFailed carrying the operation's google.rpc.Status.
func TestOperationFailed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, insightstest.Options{
		TrainingOutcome: insightstest.RandomTrainingFailure(1, 0), // every training fails
	})
	run := e.start(createType, createInput("doomed", fastPolling))
	_, err := e.result(run)
	appErr, ok := errorsAs[*temporal.ApplicationError](err)
	if !ok {
		t.Fatalf("run.Get = %v, want an ApplicationError", err)
	}
	if appErr.Type() != insights.ErrOperationFailed {
		t.Errorf("error type = %q, want OperationFailed (%v)", appErr.Type(), appErr)
	}
	var st struct {
		Code    int32  `json:"code"`
		Message string `json:"message"`
	}
	if err := appErr.Details(&st); err != nil {
		t.Fatalf("decode details: %v", err)
	}
	if st.Code != int32(codes.FailedPrecondition) || st.Message != insightstest.TooFewConversations {
		t.Errorf("details = %+v, want code 9 and %q", st, insightstest.TooFewConversations)
	}
	if got := e.models(); len(got) != 0 {
		t.Errorf("emulator models after a failed training = %v, want none", got)
	}
}

// TestAwaitOperationByName attaches AwaitOperationWorkflow to an operation started elsewhere
// (here: directly with the Google client).
func TestAwaitOperationByName(t *testing.T) {
	t.Parallel()
	e := newEnv(t, insightstest.Options{})
	lro, err := e.google.CreateIssueModel(e.ctx(), &contactcenterinsightspb.CreateIssueModelRequest{
		Parent:     parent,
		IssueModel: &contactcenterinsightspb.IssueModel{DisplayName: "made elsewhere"},
	})
	if err != nil {
		t.Fatalf("CreateIssueModel: %v", err)
	}
	run := e.start(workflows.AwaitOperationWorkflowType,
		fmt.Sprintf(`{"operation":%q,%s}`, lro.Name(), fastPolling))
	var op struct {
		Name     string          `json:"name"`
		Done     bool            `json:"done"`
		Error    json.RawMessage `json:"error"`
		Metadata map[string]any  `json:"metadata"`
		Response map[string]any  `json:"response"`
	}
	if err := run.Get(e.ctx(), &op); err != nil {
		t.Fatalf("AwaitOperationWorkflow: %v", err)
	}
	if op.Name != lro.Name() || !op.Done || op.Error != nil {
		t.Errorf("operation name/done/error = %q/%v/%s", op.Name, op.Done, op.Error)
	}
	const modelType = "type.googleapis.com/google.cloud.contactcenterinsights.v1.IssueModel"
	if op.Response["@type"] != modelType {
		t.Errorf("response @type = %v, want %s", op.Response["@type"], modelType)
	}
	if op.Response["displayName"] != "made elsewhere" || op.Response["state"] != "UNDEPLOYED" {
		t.Errorf("response = %v", op.Response)
	}
	if at, _ := op.Metadata["@type"].(string); !strings.HasSuffix(at, "CreateIssueModelMetadata") {
		t.Errorf("metadata @type = %q", at)
	}
}

// TestContinueAsNew: with continueAsNewAfterPolls 2 a longer training spans several runs of one
// workflow; the chain ends with the result and one model.
func TestContinueAsNew(t *testing.T) {
	t.Parallel()
	// 1 emulated hour = 6 s, polled every second: about 6 polls, so 2 or more continuations.
	e := newEnv(t, insightstest.Options{TrainingTime: trainingTime(time.Hour)})
	run := e.start(createType, createInput("continue-as-new",
		`"polling":{"initialInterval":"1s","maxInterval":"1s","jitter":0,"continueAsNewAfterPolls":2}`))
	firstRun := run.GetRunID() // Get follows the chain and moves GetRunID to the latest run
	res := e.mustResult(run)
	if res.Outcome != workflows.OutcomeSucceeded {
		t.Errorf("outcome = %q, want SUCCEEDED", res.Outcome)
	}
	if res.Polls < 3 {
		t.Errorf("polls = %d, want >= 3 across the runs", res.Polls)
	}

	if st := e.describeStatus(run.GetID(), firstRun); st != enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW {
		t.Errorf("first run status = %v, want CONTINUED_AS_NEW", st)
	}
	// The first run's history ends with the continuation.
	it := e.c.GetWorkflowHistory(e.ctx(), run.GetID(), firstRun, false, enumspb.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT)
	var last enumspb.EventType
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatalf("history: %v", err)
		}
		last = ev.GetEventType()
	}
	if last != enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW {
		t.Errorf("first run's close event = %v, want WorkflowExecutionContinuedAsNew", last)
	}
	// The latest run closed COMPLETED and belongs to the same chain.
	d, err := e.c.DescribeWorkflow(e.ctx(), run.GetID(), "")
	if err != nil {
		t.Fatal(err)
	}
	info := d.RawResponse.GetWorkflowExecutionInfo()
	if info.GetExecution().GetRunId() == firstRun {
		t.Error("the latest run is the first run: no continue-as-new happened")
	}
	if info.GetFirstRunId() != firstRun {
		t.Errorf("latest run's firstRunId = %s, want %s", info.GetFirstRunId(), firstRun)
	}
	if info.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
		t.Errorf("latest run status = %v, want COMPLETED", info.GetStatus())
	}
	if got := e.models(); len(got) != 1 {
		t.Errorf("emulator models = %v, want exactly one", got)
	}
	e.wantCreateCalls(1, "later runs must not create again")
}

// TestServerRestart restarts the Temporal server (same port, same SQLite file) while a run
// polls: the worker reconnects and the run finishes with one model.
func TestServerRestart(t *testing.T) {
	t.Parallel()
	srv := devserver.Start(t, devserver.WithPersistence())
	// 1 emulated hour = 6 s of training; the restart takes a few seconds of it.
	e := newEnvOn(t, srv.Client, insightstest.Options{TrainingTime: trainingTime(time.Hour)})
	run, op := startAndWaitForOperation(e, createInput("server-restart", fastPolling))
	e.waitStatus(run, "a poll", func(s workflows.PollStatus) bool { return s.Polls >= 1 })

	srv.Restart(t)

	e.checkSucceededOnce(run, op)
}

// TestIdenticalRequestsDoNotShareAnOperation: a second workflow with the same request, refused
// by the one-creation-per-region quota while the first trains, waits with backoff and never
// adopts the first one's operation; cancelling it leaves the first untouched.
func TestIdenticalRequestsDoNotShareAnOperation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, insightstest.Options{TrainingTime: trainingTime(2 * time.Hour)})
	first, firstOp := startAndWaitForOperation(e, createInput("same", fastPolling))
	second := e.start(createType, createInput("same", fastPolling))
	e.waitFor("the second workflow's refused create", func() bool { return e.emu.Stats().RPCs["CreateIssueModel"] >= 2 })
	st := e.waitStatus(second, "the quota error in status", func(s workflows.PollStatus) bool { return s.LastError != "" })
	if !strings.Contains(st.LastError, "RESOURCE_EXHAUSTED") || st.Operation != "" {
		t.Errorf("second status = %+v, want a RESOURCE_EXHAUSTED lastError and no operation", st)
	}
	signalCancel(e, second, "duplicate")
	_, err := e.result(second)
	var details createResult
	e.cancelledWith(err, &details)
	if details.Operation != "" || details.Outcome != workflows.OutcomeCancelled {
		t.Errorf("second details = %+v, want CANCELLED with no operation", details)
	}

	res := e.mustResult(first)
	if res.Outcome != workflows.OutcomeSucceeded || res.Operation != firstOp {
		t.Errorf("first result = %+v, want SUCCEEDED on %s", res, firstOp)
	}
	if n := e.emu.Stats().ModelsCreated[parent]; n != 1 {
		t.Errorf("models created = %d, want 1", n)
	}
}
