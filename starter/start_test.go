package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
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
		f, err := parseStartFlags(args, &bytes.Buffer{})
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
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), append([]string{"start", "-input-file", in, "-task-queue", tq}, extra...), &stdout, &stderr, dial)
		var out map[string]string
		if code == exitOK {
			if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
				t.Fatalf("stdout %q: %v", stdout.String(), err)
			}
		}
		return out, code, stderr.String()
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
