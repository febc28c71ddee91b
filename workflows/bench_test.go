package workflows

import (
	"context"
	"testing"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/issuemodels/durable-lro/activities"
	"github.com/issuemodels/durable-lro/insights"
)

// BenchmarkCreateIssueModelWorkflow measures the workflow code of one creation that polls 50
// times (Temporal's test environment, mocked activities): the cost of the loop itself, per run.
func BenchmarkCreateIssueModelWorkflow(b *testing.B) {
	in := sampleInput(b, `"polling":{"initialInterval":"30s","maxInterval":"5m"}`)
	running, done := runningOp(), succeededOp()
	var ts testsuite.WorkflowTestSuite
	ts.SetLogger(nopLogger{})
	b.ReportAllocs()
	for b.Loop() {
		env := ts.NewTestWorkflowEnvironment()
		env.RegisterActivity(acts)
		env.RegisterWorkflowWithOptions(CreateIssueModelWorkflow, workflow.RegisterOptions{Name: CreateIssueModelWorkflowType})
		env.OnActivity(acts.CreateIssueModel, mock.Anything, mock.Anything).Return(activities.StartedOperation{Operation: testOp}, nil)
		polls := 0
		env.OnActivity(acts.PollOperation, mock.Anything, testOp).Return(asPoll(func(context.Context, string) (insights.Operation, error) {
			polls++
			if polls < 50 {
				return running, nil
			}
			return done, nil
		}))
		env.ExecuteWorkflow(CreateIssueModelWorkflow, in)
		if err := env.GetWorkflowError(); err != nil {
			b.Fatal(err)
		}
	}
}

type nopLogger struct{}

func (nopLogger) Debug(string, ...any) {}
func (nopLogger) Info(string, ...any)  {}
func (nopLogger) Warn(string, ...any)  {}
func (nopLogger) Error(string, ...any) {}
