package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	contactcenterinsights "cloud.google.com/go/contactcenterinsights/apiv1"
	"cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/grpc/codes"

	"github.com/issuemodels/durable-lro/insightsclient"
	"github.com/issuemodels/durable-lro/insightstest"
	"github.com/issuemodels/durable-lro/internal/devserver"
	"github.com/issuemodels/durable-lro/internal/testkit"
	"github.com/issuemodels/durable-lro/searchattr"
)

// doctorTaskQueue is polled by the test's worker, a stand-in for the issue-models worker.
const doctorTaskQueue = "issue-models-doctor"

// TestDoctor runs `starter doctor` with the worker's connection settings against a dev server
// and the emulator: it passes on a healthy stack, and finds each injected fault (a permission
// denied per method, the API disabled, the quota full, a creation running, no worker, a missing
// search attribute, no credentials, Temporal unreachable), says what to do, and exits 1 on each
// failure (0 on a warning).
func TestDoctor(t *testing.T) {
	s := startDoctorStack(t)
	const parent = "projects/healthy/locations/us-central1"
	testDoctorBudget(t, s, parent)
	testDoctorHealthy(t, s, parent)
	testDoctorAPIFaults(t, s, parent)

	google, err := contactcenterinsights.NewClient(context.Background(), s.emu.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer google.Close()
	s.google = google
	testDoctorQuota(t, s)
	testDoctorTemporalFaults(t, s, parent)
}

// doctorStack is what `starter doctor` checks: a dev server with a worker and the emulator,
// and a Google client to fill the emulator's locations.
type doctorStack struct {
	srv    *devserver.Server
	emu    *insightstest.Server
	google *contactcenterinsights.Client
}

// startDoctorStack starts the dev server, the emulator and a worker, and points the doctor's
// environment at them.
func startDoctorStack(t *testing.T) *doctorStack {
	t.Helper()
	srv := devserver.Start(t)
	emu, err := insightstest.NewServer(insightstest.Options{
		MaxConcurrentCreates: insightstest.Unlimited,
		DeployTime:           insightstest.Instant,
		// "slow" trains for an hour (a creation running); the others at once.
		TrainingTimeFor: func(req *contactcenterinsightspb.CreateIssueModelRequest) time.Duration {
			if req.GetIssueModel().GetDisplayName() == "slow" {
				return time.Hour
			}
			return 0
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emu.Close)
	t.Setenv("TEMPORAL_ADDRESS", srv.HostPort)
	t.Setenv("TEMPORAL_NAMESPACE", srv.Namespace)
	t.Setenv("TEMPORAL_TASK_QUEUE", "")
	t.Setenv("ISSUE_MODELS_CODEC_KEY", "")
	t.Setenv(insightsclient.EmulatorHostEnv, emu.Addr())
	t.Setenv(insightsclient.EndpointPatternEnv, "")

	w := worker.New(srv.Client, doctorTaskQueue, worker.Options{})
	w.RegisterWorkflowWithOptions(func(workflow.Context) error { return nil }, workflow.RegisterOptions{Name: "Noop"})
	w.RegisterActivityWithOptions(func(context.Context) error { return nil }, activityName("noop"))
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)

	return &doctorStack{srv: srv, emu: emu}
}

// doctor runs `starter doctor` with args and returns its exit code and output.
func (s *doctorStack) doctor(t *testing.T, args ...string) (int, string) {
	t.Helper()
	code, out, stderr := runStarter(dial, append([]string{"doctor", "-task-queue", doctorTaskQueue}, args...)...)
	t.Logf("starter doctor %v: exit %d\n%s%s", args, code, out, stderr)
	return code, out
}

// doctorExits runs doctor and fails the test unless it exits with want (exitOK also for
// a warning).
func (s *doctorStack) doctorExits(t *testing.T, want int, args ...string) string {
	t.Helper()
	code, out := s.doctor(t, args...)
	if code != want {
		t.Errorf("exit %d, want %d", code, want)
	}
	return out
}

// wantLines checks the doctor's output has each of lines.
func wantLines(t *testing.T, out string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !strings.Contains(out, l) {
			t.Errorf("the checklist lacks %q", l)
		}
	}
}

// setProjectLimit sets the task queue's activity rate limit per fairness key (Google project).
func (s *doctorStack) setProjectLimit(t *testing.T, rps float32) {
	t.Helper()
	_, err := s.srv.Client.WorkflowService().UpdateTaskQueueConfig(context.Background(), &workflowservice.UpdateTaskQueueConfigRequest{
		Namespace: s.srv.Namespace, TaskQueue: doctorTaskQueue, TaskQueueType: enumspb.TASK_QUEUE_TYPE_ACTIVITY,
		UpdateFairnessKeyRateLimitDefault: &workflowservice.UpdateTaskQueueConfigRequest_RateLimitUpdate{
			RateLimit: &taskqueuepb.RateLimit{RequestsPerSecond: rps}, Reason: "doctor test"}})
	if err != nil {
		t.Fatal(err)
	}
}

// create starts training a model name in parent and, unless it is the hour-long "slow" one,
// waits for it and returns its name.
func (s *doctorStack) create(t *testing.T, parent, name string) string {
	t.Helper()
	op, err := s.google.CreateIssueModel(context.Background(), &contactcenterinsightspb.CreateIssueModelRequest{Parent: parent,
		IssueModel: &contactcenterinsightspb.IssueModel{DisplayName: name, InputDataConfig: &contactcenterinsightspb.IssueModel_InputDataConfig{Filter: `medium="CHAT"`}}})
	if err != nil {
		t.Fatal(err)
	}
	if name == "slow" {
		return ""
	}
	m, err := op.Wait(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return m.GetName()
}

func activityName(name string) activity.RegisterOptions { return activity.RegisterOptions{Name: name} }

// testDoctorBudget: the doctor warns without a per-project limit and over Google's quota; then
// the limit is set to one under it for the rest of the test.
func testDoctorBudget(t *testing.T, s *doctorStack, parent string) {
	t.Run("no per-project limit warns", func(t *testing.T) {
		_, out := s.doctor(t, "-parent", parent)
		wantLines(t, out, "[warn   ] API budget", "no limit per Google project", "--fairness-key-rps-limit-default 40")
	})
	t.Run("per-project limit over Google's quota warns", func(t *testing.T) {
		s.setProjectLimit(t, 60)
		_, out := s.doctor(t, "-parent", parent)
		wantLines(t, out, "[warn   ] API budget", "per Google project 60 calls/s = 3600/min of its 3000/min", "over Google's quota")
	})
	s.setProjectLimit(t, 40)

}

// testDoctorHealthy: on the healthy stack every check passes, in text and in JSON.
func testDoctorHealthy(t *testing.T, s *doctorStack, parent string) {
	t.Run("healthy", func(t *testing.T) {
		// The worker's pollers show once they have polled.
		deadline := time.Now().Add(30 * time.Second)
		code, out := s.doctor(t, "-parent", parent)
		for code != 0 && time.Now().Before(deadline) {
			time.Sleep(500 * time.Millisecond)
			code, out = s.doctor(t, "-parent", parent)
		}
		if code != exitOK || strings.Contains(out, "FAIL ]") || strings.Contains(out, "[warn") {
			t.Fatalf("exit %d on a healthy stack", code)
		}
		wantLines(t, out, "[ok     ] credentials", "the emulator at "+s.emu.Addr(),
			"[ok     ] Contact Center Insights API", "[ok     ] permissions", "0 of 10 models, 0 of 5 deployed, 0 creation(s) running",
			"[ok     ] Temporal namespace", "[ok     ] search attributes", "[ok     ] worker", "[ok     ] API budget",
			"per Google project 40 calls/s = 2400/min of its 3000/min (doctor test)", "8 ok, 0 warn, 0 FAIL, 0 skipped")
	})

	t.Run("json", func(t *testing.T) {
		code, out := s.doctor(t, "-parent", parent, "-json")
		var results []checkResult
		if err := json.Unmarshal([]byte(out), &results); err != nil || code != exitOK || len(results) != 8 {
			t.Fatalf("exit %d, %d results, %v", code, len(results), err)
		}
		for _, r := range results {
			if r.Status != statusOK {
				t.Errorf("%+v", r)
			}
		}
	})
}

// testDoctorAPIFaults: the API checks find each fault, injected on one method or on all ("*").
func testDoctorAPIFaults(t *testing.T, s *doctorStack, parent string) {
	// Each fault the API checks must find, injected on one method or on all ("*").
	type apiFault struct {
		name, method string
		fault        insightstest.Fault
		exit         int
		lines        []string
	}
	var apiFaults []apiFault
	// Each method the permission check calls, denied in turn.
	for method, permission := range map[string]string{
		"ListIssueModels": "contactcenterinsights.issueModels.list",
		"GetIssueModel":   "contactcenterinsights.issueModels.get",
		"ListOperations":  "contactcenterinsights.operations.list",
		"GetOperation":    "contactcenterinsights.operations.get",
	} {
		apiFaults = append(apiFaults, apiFault{"permission denied on " + method, method,
			insightstest.Fault{Code: codes.PermissionDenied, Probability: 1}, exitFailed,
			[]string{"[FAIL   ] permissions", "PERMISSION_DENIED for " + permission, "fix: grant the identity above roles/contactcenterinsights.editor on project healthy"}})
	}
	apiFaults = append(apiFaults,
		apiFault{"permission denied on ListConversations warns", "ListConversations",
			insightstest.Fault{Code: codes.PermissionDenied, Probability: 1}, exitOK,
			[]string{"[warn   ] permissions", "contactcenterinsights.conversations.list (the pipeline workflows"}},
		apiFault{"API disabled", "*",
			insightstest.Fault{Code: codes.PermissionDenied, Probability: 1, Reason: insightstest.ReasonServiceDisabled}, exitFailed,
			[]string{"[FAIL   ] Contact Center Insights API", "not enabled for project healthy",
				"fix: gcloud services enable contactcenterinsights.googleapis.com --project healthy", "[skipped] permissions"}},
		apiFault{"API unreachable", "*",
			insightstest.Fault{Code: codes.Unavailable, Probability: 1}, exitFailed,
			[]string{"[FAIL   ] Contact Center Insights API", "UNAVAILABLE", "fix: the endpoint cannot be reached"}},
	)
	for _, c := range apiFaults {
		t.Run(c.name, func(t *testing.T) {
			s.emu.SetFaults(c.method, c.fault)
			defer s.emu.SetFaults(c.method)
			wantLines(t, s.doctorExits(t, c.exit, "-parent", parent), c.lines...)
		})
	}
}

// testDoctorQuota: a full location fails the quota check, a running creation warns.
func testDoctorQuota(t *testing.T, s *doctorStack) {
	t.Run("quota full", func(t *testing.T) {
		const full = "projects/full/locations/us-central1"
		for i := range 10 {
			name := s.create(t, full, fmt.Sprintf("m%d", i))
			if i < 5 {
				if _, err := s.google.DeployIssueModel(context.Background(), &contactcenterinsightspb.DeployIssueModelRequest{Name: name}); err != nil {
					t.Fatal(err)
				}
			}
		}
		out := s.doctorExits(t, exitFailed, "-parent", full)
		wantLines(t, out, "[FAIL   ] quota headroom", "10 of 10 models, 5 of 5 deployed", "fix: delete models you no longer use", "undeploy a model")
	})
	t.Run("creation running", func(t *testing.T) {
		const busy = "projects/busy/locations/us-central1"
		s.create(t, busy, "slow")
		out := s.doctorExits(t, exitOK, "-parent", busy)
		wantLines(t, out, "[warn   ] quota headroom", "1 of 10 models, 0 of 5 deployed, 1 creation(s) running", "a creation is already running in the location ("+busy+"/operations/")
	})
}

// testDoctorTemporalFaults: no worker, no Nexus endpoint, no credentials, Temporal unreachable,
// and a missing search attribute each fail.
func testDoctorTemporalFaults(t *testing.T, s *doctorStack, parent string) {
	t.Run("no worker", func(t *testing.T) {
		out := s.doctorExits(t, exitFailed, "-parent", parent, "-task-queue", "nobody-polls-this")
		wantLines(t, out, "[FAIL   ] worker", "task queue nobody-polls-this in default: no poller of workflow or activity tasks", "fix: start a worker on the task queue")
	})
	t.Run("Nexus endpoint missing", func(t *testing.T) {
		out := s.doctorExits(t, exitFailed, "-parent", parent, "-nexus-endpoint", "issue-models")
		wantLines(t, out, "[FAIL   ] Nexus endpoint", "fix: temporal operator nexus endpoint create --name issue-models --target-namespace default --target-task-queue "+doctorTaskQueue)
	})
	t.Run("no credentials", func(t *testing.T) {
		t.Setenv(insightsclient.EmulatorHostEnv, "")
		t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", t.TempDir()+"/missing.json")
		out := s.doctorExits(t, exitFailed, "-parent", parent)
		wantLines(t, out, "[FAIL   ] credentials", "fix: run `gcloud auth application-default login`", "[skipped] Contact Center Insights API")
	})
	t.Run("Temporal unreachable", func(t *testing.T) {
		t.Setenv("TEMPORAL_ADDRESS", testkit.FreeAddr(t))
		out := s.doctorExits(t, exitFailed, "-parent", parent)
		wantLines(t, out, "[FAIL   ] Temporal", "cannot connect to", "fix: check TEMPORAL_ADDRESS")
	})
	// Last: it changes the namespace.
	t.Run("missing search attribute", func(t *testing.T) {
		ctx := context.Background()
		if _, err := s.srv.Client.OperatorService().RemoveSearchAttributes(ctx, &operatorservice.RemoveSearchAttributesRequest{
			SearchAttributes: []string{"InsightsPhase"}, Namespace: s.srv.Namespace}); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if _, err := searchattr.Ensure(ctx, s.srv.Client, s.srv.Namespace); err != nil {
				t.Error(err)
			}
		}()
		out := s.doctorExits(t, exitFailed, "-parent", parent)
		wantLines(t, out, "[FAIL   ] search attributes", "default lacks InsightsPhase", "fix: "+searchattr.RegisterCommand(s.srv.Namespace, []string{"InsightsPhase"}))
	})
}
