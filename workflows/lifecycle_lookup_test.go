package workflows

import (
	"encoding/json"
	"strings"
	"time"

	"cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"

	"github.com/issuemodels/durable-lro/activities"
	"github.com/issuemodels/durable-lro/insights"
)

// refusedAfterLostReply is the error of a start whose attempt committed but lost its reply and
// whose later attempts were refused (a quota) until the step gave up: the last attempt's
// start-once record, carried as the error's second detail, says an attempt may have committed.
func refusedAfterLostReply(mayHaveCommitted bool) error {
	record := map[string]any{"attempt": 3, "mayHaveCommitted": mayHaveCommitted}
	if mayHaveCommitted {
		record["ambiguousEnd"] = time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC)
	}
	return temporal.NewApplicationError("quota", insights.ErrResourceExhausted, json.RawMessage("null"), record)
}

// looksFor mocks the look-up for the operation of a start that gave up: start's input mentions
// inInput; it answers found, once.
func (s *lifecycleSuite) looksFor(start, inInput string, found activities.FoundOperation) {
	s.env.OnActivity(acts.FindStartedOperation, mock.Anything, mock.MatchedBy(func(p activities.FindStartedOperationParams) bool {
		return p.Start == start && strings.Contains(string(p.Input), inInput) && !p.AmbiguousEnd.IsZero()
	})).Return(found, nil).Once()
}

// TestPipelineStepAwaitsTheOperationItsGivenUpStartStarted: the ingest's start committed, lost
// its reply, then was refused until it gave up. The run looks for the operation it may have
// started, finds it and awaits it, instead of failing the step with the ingestion running on
// untracked.
func (s *lifecycleSuite) TestPipelineStepAwaitsTheOperationItsGivenUpStartStarted() {
	s.env.OnActivity(acts.IngestConversations, mock.Anything, mock.Anything).Return(activities.StartedOperation{}, refusedAfterLostReply(true))
	s.looksFor("IngestConversations", bucketURI, activities.FoundOperation{Operation: ingestOp})
	s.awaitChild(ingestOp, opWith(ingestOp, &contactcenterinsightspb.IngestConversationsMetadata{
		IngestConversationsStats: &contactcenterinsightspb.IngestConversationsMetadata_IngestConversationsStats{ProcessedObjectCount: 900, SuccessfulIngestCount: 900},
	}, &contactcenterinsightspb.IngestConversationsResponse{}))
	s.starts(acts.BulkAnalyzeConversations, mock.Anything, analyzeOp)
	s.awaitChild(analyzeOp, opWith(analyzeOp, nil, &contactcenterinsightspb.BulkAnalyzeConversationsResponse{SuccessfulAnalysisCount: 900}))
	s.expectTrainAndDeploy()
	s.expectExport(opWith(exportOp, nil, &contactcenterinsightspb.ExportIssueModelResponse{}))
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, pipelineInput())

	res := s.result()
	s.Equal(LifecycleDeployed, res.Outcome)
	s.JSONEq(`{"processedObjectCount":900,"successfulIngestCount":900}`, string(res.Ingested))
	s.Equal(ingestOp, s.status().Steps[0].Operation)
}

// TestPipelineStepRefusedOnlyLooksForNothing: refusals alone started nothing, so nothing is
// looked for (an identical operation of another run is never adopted) and the step fails.
func (s *lifecycleSuite) TestPipelineStepRefusedOnlyLooksForNothing() {
	s.env.OnActivity(acts.IngestConversations, mock.Anything, mock.Anything).Return(activities.StartedOperation{}, refusedAfterLostReply(false))
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, pipelineInput())

	err := s.env.GetWorkflowError()
	s.Require().Error(err)
	s.True(insights.IsErrorType(err, insights.ErrResourceExhausted), "%v", err)
}

// TestPipelineStepLooksAndFindsNothing: the look-up finds no operation, so the start started
// none and the step fails with its error.
func (s *lifecycleSuite) TestPipelineStepLooksAndFindsNothing() {
	s.env.OnActivity(acts.IngestConversations, mock.Anything, mock.Anything).Return(activities.StartedOperation{}, refusedAfterLostReply(true))
	s.looksFor("IngestConversations", bucketURI, activities.FoundOperation{})
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, pipelineInput())

	err := s.env.GetWorkflowError()
	s.Require().Error(err)
	s.True(insights.IsErrorType(err, insights.ErrResourceExhausted), "%v", err)
}

// TestRetireAwaitsTheUndeployItsGivenUpStartStarted: the retirement's undeploy committed, lost
// its reply, then was refused until it gave up. The run finds and awaits that undeploy and
// reports the model undeployed, not kept while its undeploy runs on.
func (s *lifecycleSuite) TestRetireAwaitsTheUndeployItsGivenUpStartStarted() {
	s.models(activities.IssueModelSummary{Name: oldModel, DisplayName: "weekly", State: "DEPLOYED"})
	s.trains(900, 12)
	s.changes(acts.DeployIssueModel, testModel, deployOp)
	s.env.OnActivity(acts.UndeployIssueModel, mock.Anything, oldModel).Return(activities.StartedOperation{}, refusedAfterLostReply(true))
	s.looksFor("UndeployIssueModel", oldModel, activities.FoundOperation{Operation: retireOp})
	s.awaitChild(retireOp, doneOp(retireOp))
	s.env.OnActivity(acts.DeleteIssueModel, mock.Anything, oldModel).Return(activities.StartedOperation{}, refusedAfterLostReply(true))
	s.looksFor("DeleteIssueModel", oldModel, activities.FoundOperation{Done: true})
	in := lifecycleInput(QualityGate{})
	in.DeleteReplaced = true
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, in)

	res := s.result()
	s.Equal([]string{oldModel}, res.Undeployed)
	s.Equal([]string{oldModel}, res.Deleted)
	s.Empty(res.Kept)
}

// TestRejectedModelsDeletionItsGivenUpStartStartedIsAwaited: the deletion of the rejected model
// committed, lost its reply, then was refused until it gave up; the run finds it and awaits it
// instead of failing with the deletion running untracked.
func (s *lifecycleSuite) TestRejectedModelsDeletionItsGivenUpStartStartedIsAwaited() {
	s.models()
	s.trains(100, 2)
	s.env.OnActivity(acts.DeleteIssueModel, mock.Anything, testModel).Return(activities.StartedOperation{}, refusedAfterLostReply(true))
	s.looksFor("DeleteIssueModel", testModel, activities.FoundOperation{Operation: deleteOp1})
	s.awaitChild(deleteOp1, doneOp(deleteOp1))
	in := lifecycleInput(QualityGate{MinIssueCount: 5})
	in.DeleteRejected = true
	s.env.ExecuteWorkflow(IssueModelLifecycleWorkflow, in)

	s.True(insights.IsErrorType(s.env.GetWorkflowError(), insights.ErrQualityGate), "%v", s.env.GetWorkflowError())
	s.Contains(s.env.GetWorkflowError().Error(), "was deleted")
}
