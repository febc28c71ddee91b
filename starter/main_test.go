package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/mocks"

	"github.com/issuemodels/durable-lro/codec"
	"github.com/issuemodels/durable-lro/workflows"
)

const sampleInput = `{"parent":"projects/acme/locations/us-central1","issueModel":{"displayName":"weekly","inputDataConfig":{"medium":"CHAT","filter":"medium=\"CHAT\""}}}`

// runStarter runs the command line args as the starter does, with dial as its Temporal
// dialer, and returns its exit code and what it wrote to stdout and stderr.
func runStarter(dial func(context.Context) (client.Client, error), args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb, dial)
	return code, out.String(), errb.String()
}

// writeTemp writes content to a new file and returns its path.
func writeTemp(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "in.json")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func noDial(t *testing.T) func(context.Context) (client.Client, error) {
	return func(context.Context) (client.Client, error) {
		t.Helper()
		t.Fatal("dial must not be called")
		return nil, nil
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{nil, {"bogus"}, {"status"}, {"cancel", "-reason", "x"}, {"wait", "-workflow-id", "a", "extra"}} {
		if code, _, stderr := runStarter(noDial(t), args...); code != exitInvalid {
			t.Errorf("%q: exit code %d, want %d (%s)", args, code, exitInvalid, stderr)
		}
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

func TestEveryCommandHasHelp(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"help"}, {"start", "-h"}, {"status", "-h"}, {"cancel", "-h"}, {"poll-now", "-h"},
		{"wait", "-h"}, {"attach", "-h"}, {"attach", "operations/1", "-h"}, {"lifecycle", "-h"}, {"schedule", "create", "-h"}, {"operations", "list", "-h"}} {
		if code, _, stderr := runStarter(noDial(t), args...); code != exitOK || !strings.Contains(stderr, "USAGE") {
			t.Errorf("%q: exit %d, stderr %q", args, code, stderr)
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

// parseStartFlags parses the start command's flags as the command does.
func parseStartFlags(args []string) (startFlags, error) {
	var f startFlags
	fs := (&app{stderr: io.Discard}).flags("start")
	defineStartFlags(fs, &f)
	err := fs.Parse(args)
	f.set = setFlags(fs)
	return f, err
}

func TestValidInputDials(t *testing.T) {
	dialed := false
	dial := func(context.Context) (client.Client, error) { dialed = true; return nil, errors.New("no server") }
	code, _, stderr := runStarter(dial, "start", "-input-file", writeTemp(t, sampleInput))
	if !dialed || code != exitFailed {
		t.Fatalf("dialed %v, code %d, stderr %q", dialed, code, stderr)
	}
}
