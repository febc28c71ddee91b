package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/mocks"

	"github.com/issuemodels/durable-lro/workflows"
)

const lifecycleSample = `{"parent":"projects/acme/locations/us-central1","issueModel":{"displayName":"weekly"},"qualityGate":{"minIssueCount":3}}`

func TestPipelineCommandsRefuseBadInputWithoutDialing(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"attach", "operations/1"}, "operation: "},
		{[]string{"attach"}, "operation: is required"},
		{[]string{"attach", "projects/a/locations/b/operations/1", "-timeout", "forever"}, "polling.timeout"},
		{[]string{"lifecycle"}, "-input-file is required"},
		{[]string{"lifecycle", "-input-file", "IN:{\"parent\":\"projects/a/locations/b\",\"issueModel\":{\"displayName\":\"x\"},\"qualityGate\":{\"minIssueCount\":-1}}"}, "qualityGate.minIssueCount"},
		{[]string{"schedule", "create", "-input-file", "IN:{\"parent\":\"x\"}"}, "parent"},
		{[]string{"schedule", "delete"}, "the only subcommand is create"},
		{[]string{"operations", "list", "-parent", "nope"}, "parent"},
		{[]string{"operations", "list", "-parent", "projects/a/locations/b", "-page-size", "0"}, "-page-size"},
		{[]string{"operations", "get"}, "the only subcommand is list"},
	} {
		args := append([]string(nil), tc.args...)
		for i, a := range args {
			if strings.HasPrefix(a, "IN:") {
				args[i] = writeTemp(t, strings.TrimPrefix(a, "IN:"))
			}
		}
		code, _, stderr := runStarter(noDial(t), args...)
		if code != exitInvalid {
			t.Errorf("%q: exit %d, want %d (%s)", tc.args, code, exitInvalid, stderr)
		}
		if !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: stderr %q does not mention %q", tc.args, stderr, tc.want)
		}
	}
}

func TestAttachStartsAwaitOperationWorkflow(t *testing.T) {
	const op = "projects/acme/locations/us-central1/operations/42"
	c := mocks.NewClient(t)
	r := mockRun(t, "await-42")
	c.On("ExecuteWorkflow", mock.Anything,
		mock.MatchedBy(func(o client.StartWorkflowOptions) bool { return o.ID == "await-42" && o.TaskQueue == "issue-models" }),
		workflows.AwaitOperationWorkflowType, mock.MatchedBy(func(in json.RawMessage) bool {
			decoded, err := workflows.DecodeAwaitOperationInput(in)
			return err == nil && decoded.Operation == op && decoded.Polling.InitialInterval == "10s"
		})).Return(r, nil)
	c.On("Close").Return()
	code, out, stderr := runStarter(func(context.Context) (client.Client, error) { return c, nil },
		"attach", op, "-initial-interval", "10s")
	if code != exitOK || !strings.Contains(out, `"workflowType": "AwaitOperationWorkflow"`) {
		t.Fatalf("exit %d, stdout %s, stderr %s", code, out, stderr)
	}
}

func TestScheduleCreateRunsTheLifecycleWeekly(t *testing.T) {
	c := mocks.NewClient(t)
	sc := mocks.NewScheduleClient(t)
	h := mocks.NewScheduleHandle(t)
	c.On("ScheduleClient").Return(sc)
	c.On("Close").Return()
	sc.On("Create", mock.Anything, mock.MatchedBy(func(o client.ScheduleOptions) bool {
		a, ok := o.Action.(*client.ScheduleWorkflowAction)
		return ok && o.ID == "weekly" && len(o.Spec.CronExpressions) == 1 && o.Spec.CronExpressions[0] == "0 3 * * 1" &&
			a.Workflow == workflows.IssueModelLifecycleWorkflowType && a.TaskQueue == "issue-models" &&
			string(a.Args[0].(json.RawMessage)) == lifecycleSample
	})).Return(h, nil)
	code, _, stderr := runStarter(func(context.Context) (client.Client, error) { return c, nil },
		"schedule", "create", "-schedule-id", "weekly", "-input-file", writeTemp(t, lifecycleSample))
	if code != exitOK {
		t.Fatalf("exit %d, stderr %s", code, stderr)
	}
}
