//go:build unix

package cluster

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/issuemodels/durable-lro/searchattr"
)

// TestClusterSurvivesRestarts starts the cluster, starts a workflow (nobody polls its task
// queue), restarts PostgreSQL and then the server, and finds the workflow again, by id and by
// a search attribute in SQL visibility; the namespace scripts ran and registered the
// attributes.
func TestClusterSurvivesRestarts(t *testing.T) {
	s := Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	b, err := os.ReadFile(s.SetupLog)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"PostgreSQL schema setup complete.", "Namespace default is ready."} {
		if !strings.Contains(string(b), want) {
			t.Errorf("setup log lacks %q:\n%s", want, b)
		}
	}

	if missing, err := searchattr.Missing(ctx, s.Client, s.Namespace); err != nil || len(missing) > 0 {
		t.Fatalf("search attributes missing after setup-namespace.sh: %v %v", missing, err)
	}
	run, err := s.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: "cluster-restart", TaskQueue: "cluster-test-nobody-polls",
		TypedSearchAttributes: temporal.NewSearchAttributes(temporal.NewSearchAttributeKeyKeyword("InsightsPhase").ValueSet("polling")),
	}, "NoSuchWorkflow")
	if err != nil {
		t.Fatalf("start workflow: %v", err)
	}

	if err := s.PG.Restart(ctx); err != nil {
		t.Fatalf("PostgreSQL restart: %v", err)
	}
	if err := WaitAnswers(ctx, s.Client, s.Namespace); err != nil {
		t.Fatalf("after the PostgreSQL restart: %v", err)
	}
	s.Restart(t)
	if err := WaitAnswers(ctx, s.Client, s.Namespace); err != nil {
		t.Fatalf("after the server restart: %v", err)
	}

	d, err := s.Client.DescribeWorkflow(ctx, run.GetID(), run.GetRunID())
	if err != nil {
		t.Fatalf("describe after restarts: %v", err)
	}
	if st := d.RawResponse.GetWorkflowExecutionInfo().GetStatus(); st != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		t.Errorf("status = %v, want RUNNING", st)
	}
	for {
		n, err := s.Client.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{
			Query: `InsightsPhase = "polling" AND WorkflowId = "cluster-restart"`})
		if err == nil && n.GetCount() == 1 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("SQL visibility never counted the workflow by InsightsPhase: %v, %v", n, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if err := s.Client.TerminateWorkflow(ctx, run.GetID(), run.GetRunID(), "test done"); err != nil {
		t.Errorf("terminate: %v", err)
	}
}
