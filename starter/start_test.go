package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/mocks"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/issuemodels/durable-lro/internal/devserver"
	"github.com/issuemodels/durable-lro/workflows"
)

// The default workflow id is derived from what is trained: the same request, however written
// (flags or a file, field order, whitespace, another polling policy), gets the same id; another
// parent, display name or filter another.
func TestDefaultWorkflowIDIsDerivedFromTheRequest(t *testing.T) {
	id := func(args ...string) string {
		t.Helper()
		for i, a := range args {
			if strings.HasPrefix(a, "IN:") {
				args[i] = writeTemp(t, strings.TrimPrefix(a, "IN:"))
			}
		}
		f, err := parseStartFlags(args)
		if err != nil {
			t.Fatal(err)
		}
		req, err := startRequest(f, readInputFile)
		if err != nil {
			t.Fatal(err)
		}
		return req.WorkflowID
	}
	base := id("-input-file", "IN:"+sampleInput)
	if !strings.HasPrefix(base, "create-issue-model-") || len(base) != len("create-issue-model-")+16 {
		t.Fatalf("id %q", base)
	}
	for _, same := range [][]string{
		{"-input-file", "IN:" + sampleInput},
		{"-parent", "projects/acme/locations/us-central1", "-display-name", "weekly", "-medium", "CHAT", "-filter", `medium="CHAT"`},
		{"-parent", "projects/acme/locations/us-central1", "-display-name", "weekly", "-medium", "CHAT", "-filter", `medium="CHAT"`, "-initial-interval", "30s"},
		{"-input-file", `IN:{ "issueModel": {"inputDataConfig":{"filter":"medium=\"CHAT\"","medium":"CHAT"},"displayName":"weekly"},
		   "parent": "projects/acme/locations/us-central1", "polling": {"timeout": "2h"} }`},
	} {
		if got := id(same...); got != base {
			t.Errorf("%q: id %q, want %q", same, got, base)
		}
	}
	for _, other := range [][]string{
		{"-parent", "projects/acme/locations/europe-west1", "-display-name", "weekly", "-medium", "CHAT", "-filter", `medium="CHAT"`},
		{"-parent", "projects/acme/locations/us-central1", "-display-name", "weekly2", "-medium", "CHAT", "-filter", `medium="CHAT"`},
		{"-parent", "projects/acme/locations/us-central1", "-display-name", "weekly", "-medium", "CHAT", "-filter", `medium="PHONE_CALL"`},
	} {
		if got := id(other...); got == base {
			t.Errorf("%q: same id %q as another request", other, got)
		}
	}
	if got := id("-input-file", "IN:"+sampleInput, "-workflow-id", "mine"); got != "mine" {
		t.Errorf("-workflow-id: %q", got)
	}
	// The lifecycle: the same rule, the polling policy aside.
	l1 := lifecycleWorkflowID([]byte(lifecycleSample))
	l2 := lifecycleWorkflowID([]byte(strings.Replace(lifecycleSample, `"qualityGate"`, `"polling":{"timeout":"2h"},"qualityGate"`, 1)))
	l3 := lifecycleWorkflowID([]byte(strings.Replace(lifecycleSample, `"minIssueCount":3`, `"minIssueCount":4`, 1)))
	if !strings.HasPrefix(l1, "issue-model-lifecycle-") || l1 != l2 || l1 == l3 {
		t.Errorf("lifecycle ids %q %q %q", l1, l2, l3)
	}
}

// TestRepeatedStartsMakeOneRun: against a real dev server, the same request started three
// times, a second apart (a retry after a timeout), gives one run: the first start says
// "started", the others "attached" with the same run id. A run that failed can be started
// again; one that completed is not started twice (it made its model) unless a new -workflow-id
// asks for it. A stand-in workflow of the same type ends when signalled, so no API is needed.
func TestRepeatedStartsMakeOneRun(t *testing.T) {
	srv := devserver.Start(t)
	tq := fmt.Sprintf("starter-test-%d", time.Now().UnixNano())
	w := worker.New(srv.Client, tq, worker.Options{})
	w.RegisterWorkflowWithOptions(func(ctx workflow.Context, _ json.RawMessage) (string, error) {
		var end string
		workflow.GetSignalChannel(ctx, "end").Receive(ctx, &end)
		if end == "fail" {
			return "", fmt.Errorf("told to fail")
		}
		return "done", nil
	}, workflow.RegisterOptions{Name: workflows.CreateIssueModelWorkflowType})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	dial := func(ctx context.Context) (client.Client, error) {
		return client.DialContext(ctx, client.Options{HostPort: srv.HostPort, Namespace: srv.Namespace})
	}
	in := writeTemp(t, sampleInput)
	start := func(extra ...string) (map[string]string, int, string) {
		t.Helper()
		code, stdout, stderr := runStarter(dial, append([]string{"start", "-input-file", in, "-task-queue", tq}, extra...)...)
		var out map[string]string
		if code == exitOK {
			if err := json.Unmarshal([]byte(stdout), &out); err != nil {
				t.Fatalf("stdout %q: %v", stdout, err)
			}
		}
		return out, code, stderr
	}
	var outs []map[string]string
	for i := range 3 {
		if i > 0 {
			time.Sleep(1100 * time.Millisecond) // a retry comes later: another second
		}
		out, code, stderr := start()
		if code != exitOK {
			t.Fatalf("start %d: exit %d: %s", i+1, code, stderr)
		}
		outs = append(outs, out)
	}
	id, runID := outs[0]["workflowId"], outs[0]["runId"]
	for i, out := range outs {
		want := map[bool]string{true: "started", false: "attached"}[i == 0]
		if out["workflowId"] != id || out["runId"] != runID || out["action"] != want {
			t.Errorf("start %d: %v, want workflow %s run %s %s", i+1, out, id, runID, want)
		}
	}
	ctx := context.Background()
	// A failed run may be retried: a new run under the same id.
	if err := srv.Client.SignalWorkflow(ctx, id, runID, "end", "fail"); err != nil {
		t.Fatal(err)
	}
	if err := srv.Client.GetWorkflow(ctx, id, runID).Get(ctx, nil); err == nil {
		t.Fatal("the stand-in did not fail")
	}
	out, code, stderr := start()
	if code != exitOK || out["action"] != "started" || out["runId"] == runID || out["workflowId"] != id {
		t.Fatalf("start after a failure: exit %d %v %s", code, out, stderr)
	}
	// A completed run made its model: the same request is refused, with the way to ask again.
	runID = out["runId"]
	if err := srv.Client.SignalWorkflow(ctx, id, runID, "end", "complete"); err != nil {
		t.Fatal(err)
	}
	if err := srv.Client.GetWorkflow(ctx, id, runID).Get(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if _, code, stderr = start(); code != exitFailed || !strings.Contains(stderr, "already ran to completion") ||
		!strings.Contains(stderr, "-workflow-id") {
		t.Fatalf("start after completion: exit %d, stderr %q", code, stderr)
	}
	if out, code, stderr = start("-workflow-id", id+"-again"); code != exitOK || out["action"] != "started" {
		t.Fatalf("start with a new -workflow-id: exit %d %v %s", code, out, stderr)
	}
	_ = srv.Client.TerminateWorkflow(ctx, id+"-again", "", "test over")
}

func TestBuildInputFromFlags(t *testing.T) {
	f, err := parseStartFlags([]string{
		"-parent", "projects/acme/locations/us-central1", "-display-name", "weekly",
		"-medium", "CHAT", "-filter", `medium="CHAT"`, "-model-type", "TYPE_V2", "-language-code", "en-US",
		"-initial-interval", "10s", "-max-interval", "1m", "-timeout", "2h",
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := buildInput(f, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"parent":"projects/acme/locations/us-central1","issueModel":{"displayName":"weekly",` +
		`"inputDataConfig":{"medium":"CHAT","filter":"medium=\"CHAT\""},"modelType":"TYPE_V2","languageCode":"en-US"},` +
		`"polling":{"initialInterval":"10s","maxInterval":"1m","timeout":"2h"}}`
	if string(b) != want {
		t.Fatalf("input:\n got %s\nwant %s", b, want)
	}
	in, err := workflows.DecodeCreateIssueModelInput(b)
	if err != nil {
		t.Fatalf("built input does not validate: %v", err)
	}
	if in.IssueModel.InputDataConfig.Filter != `medium="CHAT"` || in.Polling.Timeout != "2h" {
		t.Fatalf("decoded %+v", in)
	}
}

func TestBuildInputWithoutPollingFlagsOmitsPolling(t *testing.T) {
	f, err := parseStartFlags([]string{"-parent", "projects/p/locations/l", "-display-name", "x"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := buildInput(f, nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "polling") {
		t.Fatalf("unexpected polling in %s", b)
	}
}

func TestBuildInputFromFileKeepsBytes(t *testing.T) {
	f, err := parseStartFlags([]string{"-input-file", writeTemp(t, sampleInput)})
	if err != nil {
		t.Fatal(err)
	}
	b, err := buildInput(f, os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != sampleInput {
		t.Fatalf("got %s", b)
	}
}

func TestInputFileConflictsWithModelFlags(t *testing.T) {
	code, _, stderr := runStarter(noDial(t), "start", "-input-file", "x.json", "-display-name", "y")
	if code != exitInvalid || !strings.Contains(stderr, "-display-name cannot be combined with -input-file") {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
}

func TestStartRefusesInvalidInput(t *testing.T) {
	cases := []struct {
		name  string
		args  []string
		input string // written to a file when set
		want  string
	}{
		{name: "missing display name", args: []string{"-parent", "projects/acme/locations/us-central1"}, want: "issueModel.displayName: is required"},
		{name: "bad parent", args: []string{"-parent", "acme", "-display-name", "weekly"}, want: "parent"},
		{name: "bad medium", args: []string{"-parent", "projects/acme/locations/us-central1", "-display-name", "weekly", "-medium", "FAX"}, want: "issueModel.inputDataConfig.medium"},
		{name: "bad duration", args: []string{"-parent", "projects/acme/locations/us-central1", "-display-name", "weekly", "-timeout", "soon"}, want: "polling.timeout"},
		{name: "unknown field in file", input: `{"parent":"projects/acme/locations/us-central1","issueModel":{"displayName":"w"},"extra":1}`, want: "extra: is not a known field"},
		{name: "empty file", input: " ", want: "input: is empty"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"start"}, tc.args...)
			if tc.input != "" {
				args = append(args, "-input-file", writeTemp(t, tc.input))
			}
			code, stdout, stderr := runStarter(noDial(t), args...)
			if code != exitInvalid {
				t.Fatalf("exit code %d, want %d; stderr %q", code, exitInvalid, stderr)
			}
			if !strings.Contains(stderr, "invalid input: ") || !strings.Contains(stderr, tc.want) {
				t.Fatalf("stderr %q does not name %q", stderr, tc.want)
			}
			if stdout != "" {
				t.Fatalf("stdout %q", stdout)
			}
		})
	}
}

func TestStartSendsInputVerbatim(t *testing.T) {
	c := mocks.NewClient(t)
	r := mockRun(t, "wf-1")
	c.On("ExecuteWorkflow", mock.Anything,
		mock.MatchedBy(func(o client.StartWorkflowOptions) bool { return o.ID == "wf-1" && o.TaskQueue == "issue-models" }),
		workflows.CreateIssueModelWorkflowType, json.RawMessage(sampleInput)).Return(r, nil)
	var out bytes.Buffer
	if err := Start(context.Background(), c, &out, StartRequest{WorkflowID: "wf-1", TaskQueue: "issue-models", Input: []byte(sampleInput)}); err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"action\": \"started\",\n  \"runId\": \"run-1\",\n  \"taskQueue\": \"issue-models\",\n  \"workflowId\": \"wf-1\",\n  \"workflowType\": \"CreateIssueModelWorkflow\"\n}\n"
	if out.String() != want {
		t.Fatalf("stdout:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestHelpShowsThePolicyDefaults(t *testing.T) {
	code, _, stderr := runStarter(noDial(t), "start", "-h")
	if code != exitOK {
		t.Fatalf("start -h: exit %d", code)
	}
	for _, want := range []string{"(default 10s)", "(default 45s)", "(default 24h)", "-task-queue issue-models"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("start -h lacks %q:\n%s", want, stderr)
		}
	}
	if got := shortDuration(90 * time.Minute); got != "1h30m" {
		t.Errorf("shortDuration(90m) = %q", got)
	}
}
