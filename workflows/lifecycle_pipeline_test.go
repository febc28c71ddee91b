package workflows

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/issuemodels/durable-lro/activities"
	"github.com/issuemodels/durable-lro/insights"
)

const (
	ingestOp   = testParent + "/operations/i1"
	analyzeOp  = testParent + "/operations/a1"
	exportOp   = testParent + "/operations/e1"
	importOp   = testParent + "/operations/m1"
	stagingOp  = stagingParent + "/operations/s1"
	objectURI  = "gs://acme-models/weekly.json"
	bucketURI  = "gs://acme-chats/2026-11"
	stagingMod = stagingParent + "/issueModels/777"
	importedM  = testParent + "/issueModels/888"
)

const stagingParent = "projects/acme-staging/locations/us-central1"

func pipelineInput() LifecycleInput {
	in := lifecycleInput(QualityGate{MinAnalyzedConversations: 500})
	in.IssueModel.InputDataConfig.Filter = `medium="CHAT"`
	in.Ingest = &IngestStep{GcsSource: GCSBucket{BucketURI: bucketURI}}
	in.Analyze = &AnalyzeStep{}
	in.Export = &ExportStep{GcsDestination: GCSObject{ObjectURI: objectURI}}
	return in
}

func (s *lifecycleSuite) expectIngestAndAnalyze() {
	s.starts(acts.IngestConversations, mock.MatchedBy(func(p activities.IngestConversationsParams) bool {
		return p.Parent == testParent && p.BucketURI == bucketURI && !p.Since.IsZero()
	}), ingestOp)
	s.awaitChild(ingestOp, opWith(ingestOp, &contactcenterinsightspb.IngestConversationsMetadata{
		IngestConversationsStats: &contactcenterinsightspb.IngestConversationsMetadata_IngestConversationsStats{ProcessedObjectCount: 900, SuccessfulIngestCount: 900},
	}, &contactcenterinsightspb.IngestConversationsResponse{}))
	s.starts(acts.BulkAnalyzeConversations, mock.MatchedBy(func(p activities.BulkAnalyzeConversationsParams) bool {
		return p.Filter == `medium="CHAT"` && p.AnalysisPercentage == 100 // the model's filter, all of it
	}), analyzeOp)
	s.awaitChild(analyzeOp, opWith(analyzeOp, nil, &contactcenterinsightspb.BulkAnalyzeConversationsResponse{SuccessfulAnalysisCount: 900}))
}

func (s *lifecycleSuite) expectTrainAndDeploy() {
	s.models()
	s.trains(900, 12)
	s.changes(acts.DeployIssueModel, testModel, deployOp)
}

func (s *lifecycleSuite) expectExport(result *insights.Operation) *testsuite.MockCallWrapper {
	s.starts(acts.ExportIssueModel, mock.MatchedBy(func(p activities.ExportIssueModelParams) bool {
		return p.Name == testModel && p.ObjectURI == objectURI
	}), exportOp)
	return s.awaitChild(exportOp, result)
}

func (s *lifecycleSuite) TestPipelineIngestsAnalyzesTrainsDeploysAndExports() {
	s.expectIngestAndAnalyze()
	s.expectTrainAndDeploy()
	s.expectExport(opWith(exportOp, nil, &contactcenterinsightspb.ExportIssueModelResponse{}))
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, pipelineInput())

	res := s.result()
	s.Equal(LifecycleDeployed, res.Outcome)
	s.Equal(objectURI, res.ExportedTo)
	s.JSONEq(`{"processedObjectCount":900,"successfulIngestCount":900}`, string(res.Ingested))
	s.JSONEq(`{"successfulAnalysisCount":900}`, string(res.Analyzed))
	names, states := s.stepNames()
	s.Equal([]string{StepIngest, StepAnalyze, StepCheckQuotas, StepCreate, StepQualityGate, StepDeploy, StepRetire, StepExport}, names)
	for i, st := range states {
		s.Equal(StepStateDone, st, names[i])
	}
	steps := s.status().Steps
	s.Equal(ingestOp, steps[0].Operation)
	s.Contains(string(steps[0].Metadata), `"successfulIngestCount":900`)
	s.Contains(steps[0].ChildWorkflowID, "-ingest")
	s.Equal(exportOp, steps[7].Operation)
}

func (s *lifecycleSuite) TestPipelineStatusShowsLiveProgress() {
	s.starts(acts.IngestConversations, mock.Anything, ingestOp)
	s.awaitChild(ingestOp, failedStepOp(ingestOp)).After(time.Hour)
	s.env.RegisterDelayedCallback(func() {
		s.env.SignalWorkflow(ProgressSignal, json.RawMessage(`{"ingestConversationsStats":{"processedObjectCount":300}}`))
	}, time.Minute)
	var mid LifecycleStatus
	s.env.RegisterDelayedCallback(func() { mid = s.status() }, 2*time.Minute)
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, pipelineInput())
	s.Equal(StepIngest, mid.Step)
	s.Require().Len(mid.Steps, 1)
	s.Equal(ingestOp, mid.Steps[0].Operation)
	s.JSONEq(`{"ingestConversationsStats":{"processedObjectCount":300}}`, string(mid.Steps[0].Metadata))
}

func (s *lifecycleSuite) TestPipelineIngestFailureStopsBeforeTraining() {
	s.starts(acts.IngestConversations, mock.Anything, ingestOp)
	s.awaitChild(ingestOp, failedStepOp(ingestOp))
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, pipelineInput())
	s.requireOperationFailed()
	names, states := s.stepNames()
	s.Equal([]string{StepIngest}, names)
	s.Equal([]string{StepStateFailed}, states)
}

func (s *lifecycleSuite) TestPipelineIngestRefusedFailsTheRun() {
	s.env.OnActivity(acts.IngestConversations, mock.Anything, mock.Anything).
		Return(activities.StartedOperation{}, temporal.NewNonRetryableApplicationError("bucket gs://acme-chats does not exist", "NotFound", nil)).Once()
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, pipelineInput())
	s.True(insights.IsErrorType(s.env.GetWorkflowError(), "NotFound"), "%v", s.env.GetWorkflowError())
	s.Contains(s.status().LastError, "gs://acme-chats")
}

func (s *lifecycleSuite) TestPipelineCancelDuringIngest() {
	s.starts(acts.IngestConversations, mock.Anything, ingestOp)
	s.awaitChild(ingestOp, cancelledStepOp(ingestOp)).After(time.Hour)
	s.cancelAfterAMinute()
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, pipelineInput())
	res := s.requireCancelled()
	s.Empty(res.Model)
	names, states := s.stepNames()
	s.Equal([]string{StepIngest}, names)
	s.Equal([]string{StepStateCancelled}, states)
}

func (s *lifecycleSuite) TestPipelineAnalyzeFailure() {
	s.starts(acts.IngestConversations, mock.Anything, ingestOp)
	s.awaitChild(ingestOp, opWith(ingestOp, nil, &contactcenterinsightspb.IngestConversationsResponse{}))
	s.starts(acts.BulkAnalyzeConversations, mock.Anything, analyzeOp)
	s.awaitChild(analyzeOp, failedStepOp(analyzeOp))
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, pipelineInput())
	s.requireOperationFailed()
	_, states := s.stepNames()
	s.Equal([]string{StepStateDone, StepStateFailed}, states)
}

func (s *lifecycleSuite) TestPipelineCancelDuringAnalyze() {
	s.starts(acts.IngestConversations, mock.Anything, ingestOp)
	s.awaitChild(ingestOp, opWith(ingestOp, nil, &contactcenterinsightspb.IngestConversationsResponse{}))
	s.starts(acts.BulkAnalyzeConversations, mock.Anything, analyzeOp)
	s.awaitChild(analyzeOp, cancelledStepOp(analyzeOp)).After(time.Hour)
	s.cancelAfterAMinute()
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, pipelineInput())
	s.requireCancelled()
	_, states := s.stepNames()
	s.Equal([]string{StepStateDone, StepStateCancelled}, states)
}

func (s *lifecycleSuite) TestPipelineExportFailureLeavesTheModelDeployed() {
	s.expectIngestAndAnalyze()
	s.expectTrainAndDeploy()
	s.expectExport(failedStepOp(exportOp))
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, pipelineInput())
	states := s.requireFailedAt(StepExport)
	s.Equal(StepStateDone, states[len(states)-3], "deploy")
}

func (s *lifecycleSuite) TestPipelineCancelDuringExportKeepsTheDeployment() {
	s.expectIngestAndAnalyze()
	s.expectTrainAndDeploy()
	s.expectExport(cancelledStepOp(exportOp)).After(time.Hour)
	s.env.RegisterDelayedCallback(func() { s.env.CancelWorkflow() }, time.Minute)
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, pipelineInput())
	res := s.requireCancelled()
	s.Equal(testModel, res.Model)
	s.Equal("DEPLOYED", res.State)
	s.Empty(res.ExportedTo)
}

// A real AwaitOperationWorkflow child with reportProgress signals its parent each new metadata;
// the lifecycle's ingest step shows it and ends with the final stats.
func (s *lifecycleSuite) TestAwaitChildReportsIngestProgressToTheLifecycle() {
	stats := func(n int32, done bool) insights.Operation {
		md, _ := anypb.New(&contactcenterinsightspb.IngestConversationsMetadata{
			IngestConversationsStats: &contactcenterinsightspb.IngestConversationsMetadata_IngestConversationsStats{ProcessedObjectCount: n}})
		op := insights.Operation{Name: ingestOp, Done: done, Metadata: insights.MarshalREST(md)}
		if done {
			op.Error = &insights.Status{Code: 9, Message: "stop here"}
		}
		return op
	}
	polls := []insights.Operation{stats(100, false), stats(100, false), stats(600, false), stats(900, true)}
	n := 0
	s.env.OnActivity(acts.PollOperation, mock.Anything, ingestOp).Return(func(_ context.Context, _ string) (activities.PollResult, error) {
		op := polls[min(n, len(polls)-1)]
		n++
		return activities.PollResult{Operation: op}, nil
	})
	s.starts(acts.IngestConversations, mock.Anything, ingestOp)
	var seen []string
	for _, at := range []time.Duration{5 * time.Second, 40 * time.Second, 70 * time.Second, 100 * time.Second, 130 * time.Second, 160 * time.Second} {
		s.env.RegisterDelayedCallback(func() {
			if st := s.status(); len(st.Steps) > 0 {
				seen = append(seen, string(st.Steps[0].Metadata))
			}
		}, at)
	}
	in := pipelineInput()
	in.Polling = &PollingPolicy{InitialInterval: "10s", Multiplier: 2, MaxInterval: "40s", Jitter: ptr(0.0)}
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, in)
	s.requireOperationFailed()
	s.Require().NotEmpty(seen)
	s.Contains(seen[0], `"processedObjectCount":100`)
	s.Contains(strings.Join(seen, " "), `"processedObjectCount":600`, "a later status showed the progress")
	s.Contains(string(s.status().Steps[0].Metadata), `"processedObjectCount":900`)
}

func TestPipelineExamplesAreValidInputs(t *testing.T) {
	for _, f := range []string{"../examples/pipeline.json", "../examples/promote.json"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		in, err := DecodeLifecycleInput(b)
		if err != nil {
			t.Errorf("%s: %v", f, err)
		}
		if in.Ingest == nil && in.Promote == nil {
			t.Errorf("%s: neither a pipeline nor a promotion", f)
		}
	}
}
