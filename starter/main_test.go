package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/mocks"

	"github.com/issuemodels/durable-lro/codec"
	"github.com/issuemodels/durable-lro/workflows"
)

const sampleInput = `{"parent":"projects/acme/locations/us-central1","issueModel":{"displayName":"weekly","inputDataConfig":{"medium":"CHAT","filter":"medium=\"CHAT\""}}}`

// parseStartFlags parses the start command's flags as the command does.
func parseStartFlags(args []string, stderr io.Writer) (startFlags, error) {
	var f startFlags
	fs := (&app{stderr: stderr}).flags("start")
	defineStartFlags(fs, &f)
	err := fs.Parse(args)
	f.set = setFlags(fs)
	return f, err
}

func noDial(t *testing.T) func(context.Context) (client.Client, error) {
	return func(context.Context) (client.Client, error) {
		t.Helper()
		t.Fatal("dial must not be called")
		return nil, nil
	}
}

func TestBuildInputFromFlags(t *testing.T) {
	f, err := parseStartFlags([]string{
		"-parent", "projects/acme/locations/us-central1", "-display-name", "weekly",
		"-medium", "CHAT", "-filter", `medium="CHAT"`, "-model-type", "TYPE_V2", "-language-code", "en-US",
		"-initial-interval", "10s", "-max-interval", "1m", "-timeout", "2h",
	}, &bytes.Buffer{})
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
	f, err := parseStartFlags([]string{"-parent", "projects/p/locations/l", "-display-name", "x"}, &bytes.Buffer{})
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
	path := filepath.Join(t.TempDir(), "in.json")
	if err := os.WriteFile(path, []byte(sampleInput), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := parseStartFlags([]string{"-input-file", path}, &bytes.Buffer{})
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
	var stderr bytes.Buffer
	code := run(context.Background(), []string{"start", "-input-file", "x.json", "-display-name", "y"}, &bytes.Buffer{}, &stderr, noDial(t))
	if code != exitInvalid || !strings.Contains(stderr.String(), "-display-name cannot be combined with -input-file") {
		t.Fatalf("code %d, stderr %q", code, stderr.String())
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
				path := filepath.Join(t.TempDir(), "in.json")
				if err := os.WriteFile(path, []byte(tc.input), 0o600); err != nil {
					t.Fatal(err)
				}
				args = append(args, "-input-file", path)
			}
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), args, &stdout, &stderr, noDial(t))
			if code != exitInvalid {
				t.Fatalf("exit code %d, want %d; stderr %q", code, exitInvalid, stderr.String())
			}
			if !strings.Contains(stderr.String(), "invalid input: ") || !strings.Contains(stderr.String(), tc.want) {
				t.Fatalf("stderr %q does not name %q", stderr.String(), tc.want)
			}
			if stdout.Len() != 0 {
				t.Fatalf("stdout %q", stdout.String())
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{nil, {"bogus"}, {"status"}, {"cancel", "-reason", "x"}, {"wait", "-workflow-id", "a", "extra"}} {
		var stderr bytes.Buffer
		if code := run(context.Background(), args, &bytes.Buffer{}, &stderr, noDial(t)); code != exitInvalid {
			t.Errorf("%q: exit code %d, want %d (%s)", args, code, exitInvalid, stderr.String())
		}
	}
}

func TestValidInputDials(t *testing.T) {
	dialed := false
	dial := func(context.Context) (client.Client, error) { dialed = true; return nil, errors.New("no server") }
	var stderr bytes.Buffer
	path := filepath.Join(t.TempDir(), "in.json")
	if err := os.WriteFile(path, []byte(sampleInput), 0o600); err != nil {
		t.Fatal(err)
	}
	code := run(context.Background(), []string{"start", "-input-file", path}, &bytes.Buffer{}, &stderr, dial)
	if !dialed || code != exitFailed {
		t.Fatalf("dialed %v, code %d, stderr %q", dialed, code, stderr.String())
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

func TestCancelSignal(t *testing.T) {
	c := mocks.NewClient(t)
	c.On("SignalWorkflow", mock.Anything, "wf-1", "", workflows.CancelSignal, workflows.CancelRequest{Reason: "wrong filter"}).Return(nil)
	var out bytes.Buffer
	if err := Cancel(context.Background(), c, &out, "wf-1", "wrong filter"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"reason": "wrong filter"`) {
		t.Fatalf("stdout %s", out.String())
	}
}

func TestHelpShowsThePolicyDefaults(t *testing.T) {
	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"start", "-h"}, &bytes.Buffer{}, &stderr, noDial(t)); code != exitOK {
		t.Fatalf("start -h: exit %d", code)
	}
	for _, want := range []string{"(default 10s)", "(default 45s)", "(default 24h)", "-task-queue issue-models"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("start -h lacks %q:\n%s", want, stderr.String())
		}
	}
	if got := shortDuration(90 * time.Minute); got != "1h30m" {
		t.Errorf("shortDuration(90m) = %q", got)
	}
}

func TestEveryCommandHasHelp(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"help"}, {"start", "-h"}, {"status", "-h"}, {"cancel", "-h"}, {"poll-now", "-h"},
		{"wait", "-h"}, {"attach", "-h"}, {"attach", "operations/1", "-h"}, {"lifecycle", "-h"}, {"schedule", "create", "-h"}, {"operations", "list", "-h"}} {
		var stderr bytes.Buffer
		if code := run(context.Background(), args, &bytes.Buffer{}, &stderr, noDial(t)); code != exitOK || !strings.Contains(stderr.String(), "USAGE") {
			t.Errorf("%q: exit %d, stderr %q", args, code, stderr.String())
		}
	}
}

// mockRun is a started run with the given workflow ID and run ID "run-1".
func mockRun(t *testing.T, id string) *mocks.WorkflowRun {
	r := mocks.NewWorkflowRun(t)
	r.On("GetID").Return(id)
	r.On("GetRunID").Return("run-1")
	return r
}

// The starter reads failures (a run's result, `status`) with the worker's converters: with a key
// set, failure messages are encrypted and decrypted like payloads.
func TestConfigureClientEncryptsFailures(t *testing.T) {
	t.Setenv(codec.KeyEnv, base64.StdEncoding.EncodeToString(make([]byte, codec.KeySize)))
	var opts client.Options
	if err := configureClient(&opts); err != nil || opts.FailureConverter == nil {
		t.Fatalf("configureClient: %v, failure converter %v", err, opts.FailureConverter)
	}
	if f := opts.FailureConverter.ErrorToFailure(errors.New("projects/acme")); f.GetMessage() != "Encoded failure" {
		t.Fatalf("failure message in the clear: %q", f.GetMessage())
	}
}
