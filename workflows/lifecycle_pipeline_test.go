package workflows

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"google.golang.org/protobuf/proto"
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

func promoteInput() LifecycleInput {
	return LifecycleInput{Parent: testParent, Promote: &PromoteStep{FromModel: stagingMod, ObjectURI: objectURI}, QualityGate: QualityGate{MinIssueCount: 5}}
}

// opWith is a done operation with the given metadata and response messages.
func opWith(name string, md, resp proto.Message) *insights.Operation {
	op := &insights.Operation{Name: name, Done: true}
	if md != nil {
		a, _ := anypb.New(md)
		op.Metadata = insights.MarshalREST(a)
	}
	a, _ := anypb.New(resp)
	op.Response = insights.MarshalREST(a)
	return op
}

func failedStepOp(name string) *insights.Operation {
	return &insights.Operation{Name: name, Done: true, Error: &insights.Status{Code: 9, Message: "bucket gone"}}
}

func cancelledStepOp(name string) *insights.Operation {
	return &insights.Operation{Name: name, Done: true, Error: &insights.Status{Code: insights.CodeCancelled, Message: "cancelled"}}
}

func (s *lifecycleSuite) expectIngestAndAnalyze() {
	s.env.OnActivity(acts.IngestConversations, mock.Anything, mock.MatchedBy(func(p activities.IngestConversationsParams) bool {
		return p.Parent == testParent && p.BucketURI == bucketURI && !p.Since.IsZero()
	})).Return(activities.StartedOperation{Operation: ingestOp}, nil).Once()
	s.awaitChild(ingestOp, opWith(ingestOp, &contactcenterinsightspb.IngestConversationsMetadata{
		IngestConversationsStats: &contactcenterinsightspb.IngestConversationsMetadata_IngestConversationsStats{ProcessedObjectCount: 900, SuccessfulIngestCount: 900},
	}, &contactcenterinsightspb.IngestConversationsResponse{}))
	s.env.OnActivity(acts.BulkAnalyzeConversations, mock.Anything, mock.MatchedBy(func(p activities.BulkAnalyzeConversationsParams) bool {
		return p.Filter == `medium="CHAT"` && p.AnalysisPercentage == 100 // the model's filter, all of it
	})).Return(activities.StartedOperation{Operation: analyzeOp}, nil).Once()
	s.awaitChild(analyzeOp, opWith(analyzeOp, nil, &contactcenterinsightspb.BulkAnalyzeConversationsResponse{SuccessfulAnalysisCount: 900}))
}

func (s *lifecycleSuite) expectTrainAndDeploy() {
	s.models()
	s.env.OnWorkflow(CreateIssueModelWorkflowType, mock.Anything, mock.Anything).Return(ptr(trainedResult(900, 12)), nil).Once()
	s.env.OnActivity(acts.DeployIssueModel, mock.Anything, testModel).Return(activities.StartedOperation{Operation: deployOp}, nil).Once()
	s.awaitChild(deployOp, doneOp(deployOp))
}

func (s *lifecycleSuite) expectExport(result *insights.Operation) *testsuite.MockCallWrapper {
	s.env.OnActivity(acts.ExportIssueModel, mock.Anything, mock.MatchedBy(func(p activities.ExportIssueModelParams) bool {
		return p.Name == testModel && p.ObjectURI == objectURI
	})).Return(activities.StartedOperation{Operation: exportOp}, nil).Once()
	return s.awaitChild(exportOp, result)
}

func (s *lifecycleSuite) status() LifecycleStatus {
	v, err := s.env.QueryWorkflow(StatusQuery)
	s.Require().NoError(err)
	var st LifecycleStatus
	s.Require().NoError(v.Get(&st))
	return st
}

func (s *lifecycleSuite) stepNames() (names, states []string) {
	for _, st := range s.status().Steps {
		names, states = append(names, st.Name), append(states, st.State)
	}
	return names, states
}

func (s *lifecycleSuite) requireOperationFailed() {
	s.True(insights.IsErrorType(s.env.GetWorkflowError(), insights.ErrOperationFailed), "%v", s.env.GetWorkflowError())
}

// requireFailedAt checks that the workflow failed on the operation of step, its last step, and
// returns the steps' states.
func (s *lifecycleSuite) requireFailedAt(step string) []string {
	s.requireOperationFailed()
	names, states := s.stepNames()
	s.Equal(step, names[len(names)-1])
	s.Equal(StepStateFailed, states[len(states)-1])
	return states
}

func (s *lifecycleSuite) requireCancelled() LifecycleResult {
	var canceled *temporal.CanceledError
	s.Require().True(errors.As(s.env.GetWorkflowError(), &canceled), "%v", s.env.GetWorkflowError())
	var res LifecycleResult
	s.Require().NoError(canceled.Details(&res))
	s.Equal(LifecycleCancelled, res.Outcome)
	return res
}

func (s *lifecycleSuite) cancelAfterAMinute() {
	s.env.RegisterDelayedCallback(func() { s.env.SignalWorkflow(CancelSignal, CancelRequest{Reason: "stop"}) }, time.Minute)
}

func (s *lifecycleSuite) TestPipelineIngestsAnalyzesTrainsDeploysAndExports() {
	s.expectIngestAndAnalyze()
	s.expectTrainAndDeploy()
	s.expectExport(opWith(exportOp, nil, &contactcenterinsightspb.ExportIssueModelResponse{}))
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, pipelineInput())

	s.Require().NoError(s.env.GetWorkflowError())
	var res LifecycleResult
	s.Require().NoError(s.env.GetWorkflowResult(&res))
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
	s.env.OnActivity(acts.IngestConversations, mock.Anything, mock.Anything).Return(activities.StartedOperation{Operation: ingestOp}, nil).Once()
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
	s.env.OnActivity(acts.IngestConversations, mock.Anything, mock.Anything).Return(activities.StartedOperation{Operation: ingestOp}, nil).Once()
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
	s.env.OnActivity(acts.IngestConversations, mock.Anything, mock.Anything).Return(activities.StartedOperation{Operation: ingestOp}, nil).Once()
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
	s.env.OnActivity(acts.IngestConversations, mock.Anything, mock.Anything).Return(activities.StartedOperation{Operation: ingestOp}, nil).Once()
	s.awaitChild(ingestOp, opWith(ingestOp, nil, &contactcenterinsightspb.IngestConversationsResponse{}))
	s.env.OnActivity(acts.BulkAnalyzeConversations, mock.Anything, mock.Anything).Return(activities.StartedOperation{Operation: analyzeOp}, nil).Once()
	s.awaitChild(analyzeOp, failedStepOp(analyzeOp))
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, pipelineInput())
	s.requireOperationFailed()
	_, states := s.stepNames()
	s.Equal([]string{StepStateDone, StepStateFailed}, states)
}

func (s *lifecycleSuite) TestPipelineCancelDuringAnalyze() {
	s.env.OnActivity(acts.IngestConversations, mock.Anything, mock.Anything).Return(activities.StartedOperation{Operation: ingestOp}, nil).Once()
	s.awaitChild(ingestOp, opWith(ingestOp, nil, &contactcenterinsightspb.IngestConversationsResponse{}))
	s.env.OnActivity(acts.BulkAnalyzeConversations, mock.Anything, mock.Anything).Return(activities.StartedOperation{Operation: analyzeOp}, nil).Once()
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

func (s *lifecycleSuite) expectPromotionExport(result *insights.Operation) *testsuite.MockCallWrapper {
	src := &contactcenterinsightspb.IssueModel{Name: stagingMod, DisplayName: "weekly", State: contactcenterinsightspb.IssueModel_DEPLOYED}
	s.env.OnActivity(acts.GetIssueModel, mock.Anything, stagingMod).Return(json.RawMessage(insights.MarshalREST(src)), nil).Once()
	s.env.OnActivity(acts.ExportIssueModel, mock.Anything, mock.MatchedBy(func(p activities.ExportIssueModelParams) bool {
		return p.Name == stagingMod && p.ObjectURI == objectURI
	})).Return(activities.StartedOperation{Operation: stagingOp}, nil).Once()
	return s.awaitChild(stagingOp, result)
}

func (s *lifecycleSuite) expectImport(result *insights.Operation) *testsuite.MockCallWrapper {
	s.env.OnActivity(acts.ImportIssueModel, mock.Anything, mock.MatchedBy(func(p activities.ImportIssueModelParams) bool {
		return p.Parent == testParent && p.ObjectURI == objectURI && p.CreateNewModel
	})).Return(activities.StartedOperation{Operation: importOp}, nil).Once()
	return s.awaitChild(importOp, result)
}

func (s *lifecycleSuite) TestPromotionExportsImportsGatesDeploysAndRetires() {
	s.expectPromotionExport(opWith(stagingOp, nil, &contactcenterinsightspb.ExportIssueModelResponse{}))
	prev := activities.IssueModelSummary{Name: oldModel, DisplayName: "weekly", State: "DEPLOYED"}
	imported := activities.IssueModelSummary{Name: importedM, DisplayName: "weekly", State: "UNDEPLOYED"}
	// check-quotas and the import's "before" list see the previous model; after the import, both.
	s.env.OnActivity(acts.ListIssueModels, mock.Anything, testParent).Return([]activities.IssueModelSummary{prev}, nil).Twice()
	s.expectImport(opWith(importOp, nil, &contactcenterinsightspb.ImportIssueModelResponse{}))
	// The import's model is named from the operation, never "the last new model listed".
	s.env.OnActivity(acts.ImportedIssueModel, mock.Anything, mock.MatchedBy(func(p activities.ImportedIssueModelParams) bool {
		return p.Operation == importOp && p.DisplayName == "weekly" && len(p.Before) == 1 && p.Before[0] == oldModel
	})).Return(imported, nil).Once()
	s.env.OnActivity(acts.ListIssueModels, mock.Anything, testParent).Return([]activities.IssueModelSummary{prev, imported}, nil)
	m := &contactcenterinsightspb.IssueModel{Name: importedM, DisplayName: "weekly", IssueCount: 12, State: contactcenterinsightspb.IssueModel_UNDEPLOYED}
	s.env.OnActivity(acts.GetIssueModel, mock.Anything, importedM).Return(json.RawMessage(insights.MarshalREST(m)), nil).Once()
	s.env.OnActivity(acts.DeployIssueModel, mock.Anything, importedM).Return(activities.StartedOperation{Operation: deployOp}, nil).Once()
	s.awaitChild(deployOp, doneOp(deployOp))
	s.env.OnActivity(acts.UndeployIssueModel, mock.Anything, oldModel).Return(activities.StartedOperation{Operation: retireOp}, nil).Once()
	s.awaitChild(retireOp, doneOp(retireOp))

	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, promoteInput())
	s.Require().NoError(s.env.GetWorkflowError())
	var res LifecycleResult
	s.Require().NoError(s.env.GetWorkflowResult(&res))
	s.Equal(importedM, res.Model)
	s.Equal("DEPLOYED", res.State)
	s.Equal(objectURI, res.ExportedTo)
	s.Equal(objectURI, res.ImportedFrom)
	s.Equal([]string{oldModel}, res.Undeployed)
	names, _ := s.stepNames()
	s.Equal([]string{StepExport, StepCheckQuotas, StepImport, StepQualityGate, StepDeploy, StepRetire}, names)
}

func (s *lifecycleSuite) TestPromotionExportFailure() {
	s.expectPromotionExport(failedStepOp(stagingOp))
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, promoteInput())
	s.requireOperationFailed()
}

func (s *lifecycleSuite) TestPromotionCancelDuringExport() {
	s.expectPromotionExport(cancelledStepOp(stagingOp)).After(time.Hour)
	s.cancelAfterAMinute()
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, promoteInput())
	res := s.requireCancelled()
	s.Empty(res.Model)
}

func (s *lifecycleSuite) TestPromotionImportFailure() {
	s.expectPromotionExport(opWith(stagingOp, nil, &contactcenterinsightspb.ExportIssueModelResponse{}))
	s.models()
	s.expectImport(failedStepOp(importOp))
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, promoteInput())
	s.requireFailedAt(StepImport)
}

func (s *lifecycleSuite) TestPromotionCancelDuringImport() {
	s.expectPromotionExport(opWith(stagingOp, nil, &contactcenterinsightspb.ExportIssueModelResponse{}))
	s.models()
	s.expectImport(cancelledStepOp(importOp)).After(time.Hour)
	s.cancelAfterAMinute()
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, promoteInput())
	res := s.requireCancelled()
	s.Empty(res.Model, "a cancelled import leaves no model")
}

func (s *lifecycleSuite) TestPipelineAndPromotionInputsAreValidated() {
	cases := map[string]func(*LifecycleInput){
		"ingest.gcsSource.bucketUri":           func(in *LifecycleInput) { in.Ingest.GcsSource.BucketURI = "acme-chats" },
		"ingest.transcriptObjectConfig.medium": func(in *LifecycleInput) { in.Ingest.TranscriptObjectConfig = &TranscriptObjectConfig{Medium: "FAX"} },
		"analyze.analysisPercentage":           func(in *LifecycleInput) { in.Analyze.AnalysisPercentage = 150 },
		"export.gcsDestination.objectUri":      func(in *LifecycleInput) { in.Export.GcsDestination.ObjectURI = "gs://acme-models/" },
	}
	for field, mutate := range cases {
		in := pipelineInput()
		mutate(&in)
		s.ErrorContains(in.Validate(), field)
	}
	promo := map[string]func(*LifecycleInput){
		"promote.fromModel": func(in *LifecycleInput) { in.Promote.FromModel = testParent + "/issueModels/1" },
		"promote.objectUri": func(in *LifecycleInput) { in.Promote.ObjectURI = "" },
		"issueModel":        func(in *LifecycleInput) { in.IssueModel.DisplayName = "x" },
		"promote":           func(in *LifecycleInput) { in.Ingest = &IngestStep{GcsSource: GCSBucket{BucketURI: bucketURI}} },
	}
	for field, mutate := range promo {
		in := promoteInput()
		mutate(&in)
		err := in.Validate()
		s.True(insights.IsErrorType(err, insights.ErrInvalidArgument), "%s: %v", field, err)
		s.ErrorContains(err, field)
	}
	in := promoteInput()
	s.NoError(in.Validate())
	in = pipelineInput()
	s.NoError(in.Validate())
	_, err := DecodeLifecycleInput([]byte(`{"parent":"` + testParent + `","issueModel":{"displayName":"w"},"ingest":{"gcsSource":{"bucketUri":"gs://b/x"},"bogus":1}}`))
	s.ErrorContains(err, "bogus")
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
	s.env.OnActivity(acts.IngestConversations, mock.Anything, mock.Anything).Return(activities.StartedOperation{Operation: ingestOp}, nil).Once()
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
