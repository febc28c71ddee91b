package workflows

import (
	"encoding/json"
	"time"

	"cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"

	"github.com/issuemodels/durable-lro/activities"
	"github.com/issuemodels/durable-lro/insights"
)

func promoteInput() LifecycleInput {
	return LifecycleInput{Parent: testParent, Promote: &PromoteStep{FromModel: stagingMod, ObjectURI: objectURI}, QualityGate: QualityGate{MinIssueCount: 5}}
}

func (s *lifecycleSuite) expectPromotionExport(result *insights.Operation) *testsuite.MockCallWrapper {
	src := &contactcenterinsightspb.IssueModel{Name: stagingMod, DisplayName: "weekly", State: contactcenterinsightspb.IssueModel_DEPLOYED}
	s.env.OnActivity(acts.GetIssueModel, mock.Anything, stagingMod).Return(json.RawMessage(insights.MarshalREST(src)), nil).Once()
	s.starts(acts.ExportIssueModel, mock.MatchedBy(func(p activities.ExportIssueModelParams) bool {
		return p.Name == stagingMod && p.ObjectURI == objectURI
	}), stagingOp)
	return s.awaitChild(stagingOp, result)
}

func (s *lifecycleSuite) expectImport(result *insights.Operation) *testsuite.MockCallWrapper {
	s.starts(acts.ImportIssueModel, mock.MatchedBy(func(p activities.ImportIssueModelParams) bool {
		return p.Parent == testParent && p.ObjectURI == objectURI && p.CreateNewModel
	}), importOp)
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
	s.changes(acts.DeployIssueModel, importedM, deployOp)
	s.changes(acts.UndeployIssueModel, oldModel, retireOp)

	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, promoteInput())
	res := s.result()
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
