package devserver

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
)

// TestFlagsArgs: the dev server registers the workflows' search attributes; no UI port and no DB
// file mean a headless, in-memory server.
func TestFlagsArgs(t *testing.T) {
	args := Flags{IP: "127.0.0.1", Port: 7233, Namespace: "default", LogLevel: "warn"}.Args()
	if !slices.Contains(args, "--search-attribute") {
		t.Errorf("Args = %q, want the search attributes", args)
	}
	if !slices.Contains(args, "--headless") || slices.Contains(args, "--db-filename") {
		t.Errorf("Args without UI port and DB file = %q, want --headless and no --db-filename", args)
	}
}

// TestStartRestartKeepsState starts a persistent server, starts a workflow (no worker needed),
// restarts the server on the same port and DB file, and finds the workflow again through the
// same client.
func TestStartRestartKeepsState(t *testing.T) {
	s := Start(t, WithPersistence())
	if s.DBFilename == "" {
		t.Fatal("WithPersistence: no DB file")
	}
	hostPort := s.HostPort
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	run, err := s.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: "devserver-restart", TaskQueue: "devserver-test-nobody-polls",
	}, "NoSuchWorkflow")
	if err != nil {
		t.Fatalf("start workflow: %v", err)
	}

	s.Restart(t)
	if s.HostPort != hostPort {
		t.Errorf("HostPort after Restart = %s, want %s", s.HostPort, hostPort)
	}
	if _, err := os.Stat(s.DBFilename); err != nil {
		t.Errorf("DB file: %v", err)
	}

	// The client reconnects on its own; allow it a few attempts.
	var status enumspb.WorkflowExecutionStatus
	for {
		d, err := s.Client.DescribeWorkflow(ctx, run.GetID(), run.GetRunID())
		if err == nil {
			status = d.RawResponse.GetWorkflowExecutionInfo().GetStatus()
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("describe after restart: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		t.Errorf("status after restart = %v, want RUNNING", status)
	}
	if err := s.Client.TerminateWorkflow(ctx, run.GetID(), run.GetRunID(), "test done"); err != nil {
		t.Errorf("terminate: %v", err)
	}
}

func TestStopIsIdempotentAndCloseAfterStop(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	s, err := New(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil {
		t.Errorf("Stop: %v", err)
	}
	if err := s.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := s.StartAgain(ctx); err == nil {
		t.Error("StartAgain after Close succeeded")
	}
	if _, err := os.Stat(s.LogFile); !os.IsNotExist(err) {
		t.Errorf("Close left %s behind (%v)", s.LogFile, err)
	}
}
