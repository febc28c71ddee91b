package devserver

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
)

func TestEnsureCLI(t *testing.T) {
	path, err := EnsureCLI()
	if err != nil {
		t.Fatalf("EnsureCLI: %v", err) // a missing CLI fails the suite; it is never skipped
	}
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(path) {
		t.Errorf("EnsureCLI = %q, want an absolute path", path)
	}
	if want := filepath.Join(root, "bin", "temporal"); path != want {
		t.Errorf("EnsureCLI = %q, want %q", path, want)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode()&0o111 == 0 {
		t.Errorf("%s is not executable (%v)", path, st.Mode())
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Errorf("repo root %s has no go.mod: %v", root, err)
	}
}

// TestLockFileExcludes checks that the build lock is exclusive (flock locks belong to the open
// file, so two opens in one process exclude each other like two processes do).
func TestLockFileExcludes(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".temporal.lock")
	unlock, err := lockFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan func(), 1)
	go func() {
		u, err := lockFile(path)
		if err != nil {
			t.Error(err)
			close(got)
			return
		}
		got <- u
	}()
	select {
	case <-got:
		t.Fatal("second lockFile succeeded while the first holds the lock")
	case <-time.After(200 * time.Millisecond):
	}
	unlock()
	select {
	case u := <-got:
		if u != nil {
			u()
		}
	case <-time.After(10 * time.Second):
		t.Fatal("second lockFile did not get the lock after the first released it")
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
		d, err := s.Client.DescribeWorkflowExecution(ctx, run.GetID(), run.GetRunID())
		if err == nil {
			status = d.GetWorkflowExecutionInfo().GetStatus()
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
