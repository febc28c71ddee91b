package activities

import (
	"context"
	"fmt"
	"strings"
	"time"

	contactcenterinsights "cloud.google.com/go/contactcenterinsights/apiv1"
	"cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"github.com/googleapis/gax-go/v2"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/issuemodels/durable-lro/insights"
)

// The pipeline's activities (IngestConversations, BulkAnalyzeConversations, ExportIssueModel,
// ImportIssueModel) each start one operation through startOnce, retried by Temporal's retry
// policy: after an attempt that may have committed, a retry adopts an operation of the same
// method whose metadata.request matches ours and whose createTime is not before
// Since-CreateSkew. What a second operation would have done, had the look-up missed it (an
// operation list that lags longer than ListLagGrace, an expired operation):
//   - IngestConversations: nothing twice: the service skips an object whose transcript URI was
//     already ingested (duplicatesSkippedCount), so no conversation is duplicated;
//   - BulkAnalyzeConversations: every selected conversation analyzed again (a second analysis,
//     billed); a filter such as `-latest_analysis:*` makes even that a no-op;
//   - ExportIssueModel: the same object written twice (a Cloud Storage write replaces it);
//   - ImportIssueModel with createNewModel: a second model — which is why the look-up matters
//     most here.
// Two runs sending identical requests within the window while one lost a reply could adopt one
// operation; for ingest and analysis that is the same work, for an import they share one model.

// IngestConversationsParams is the input of IngestConversations.
type IngestConversationsParams struct {
	Parent string `json:"parent"`
	// BucketURI is gs://bucket[/prefix]: every object under it is ingested.
	BucketURI string `json:"bucketUri"`
	// Medium of the transcripts: CHAT (default) or PHONE_CALL.
	Medium     string `json:"medium,omitempty"`
	AgentID    string `json:"agentId,omitempty"`
	SampleSize int32  `json:"sampleSize,omitempty"`
	// Since is when the workflow first scheduled this step (workflow time); a retry adopts an
	// identical operation created from then on. Zero: from when Temporal first scheduled the
	// activity.
	Since time.Time `json:"since"`
}

// IngestConversations starts ingesting the objects under BucketURI as conversations of Parent.
func (a *Activities) IngestConversations(ctx context.Context, p IngestConversationsParams) (StartedOperation, error) {
	if err := insights.ValidateParent("parent", p.Parent); err != nil {
		return StartedOperation{}, err
	}
	if err := ValidateGCSURI("bucketUri", p.BucketURI, false); err != nil {
		return StartedOperation{}, err
	}
	medium := contactcenterinsightspb.Conversation_CHAT
	if p.Medium != "" {
		v, ok := contactcenterinsightspb.Conversation_Medium_value[p.Medium]
		if !ok || v == 0 {
			return StartedOperation{}, insights.InvalidArgument("medium", fmt.Sprintf("%q is not CHAT or PHONE_CALL", p.Medium))
		}
		medium = contactcenterinsightspb.Conversation_Medium(v)
	}
	req := &contactcenterinsightspb.IngestConversationsRequest{
		Parent: p.Parent,
		Source: &contactcenterinsightspb.IngestConversationsRequest_GcsSource_{GcsSource: &contactcenterinsightspb.IngestConversationsRequest_GcsSource{
			BucketUri: p.BucketURI, BucketObjectType: contactcenterinsightspb.IngestConversationsRequest_GcsSource_TRANSCRIPT}},
		ObjectConfig: &contactcenterinsightspb.IngestConversationsRequest_TranscriptObjectConfig_{
			TranscriptObjectConfig: &contactcenterinsightspb.IngestConversationsRequest_TranscriptObjectConfig{Medium: medium}},
	}
	if p.AgentID != "" {
		req.ConversationConfig = &contactcenterinsightspb.IngestConversationsRequest_ConversationConfig{AgentId: p.AgentID}
	}
	if p.SampleSize > 0 {
		req.SampleSize = &p.SampleSize
	}
	return startPipeline[*contactcenterinsightspb.IngestConversationsMetadata](ctx, a, "IngestConversations",
		"parent", p.Parent, p.Since, (*contactcenterinsights.Client).IngestConversations, req,
		func(r *contactcenterinsightspb.IngestConversationsRequest) bool { return proto.Equal(r, req) })
}

// BulkAnalyzeConversationsParams is the input of BulkAnalyzeConversations.
type BulkAnalyzeConversationsParams struct {
	Parent             string    `json:"parent"`
	Filter             string    `json:"filter"`
	AnalysisPercentage float32   `json:"analysisPercentage"`
	Since              time.Time `json:"since"`
}

// BulkAnalyzeConversations starts analyzing AnalysisPercentage percent of Parent's conversations
// matching Filter.
func (a *Activities) BulkAnalyzeConversations(ctx context.Context, p BulkAnalyzeConversationsParams) (StartedOperation, error) {
	if err := insights.ValidateParent("parent", p.Parent); err != nil {
		return StartedOperation{}, err
	}
	if !(p.AnalysisPercentage > 0 && p.AnalysisPercentage <= 100) {
		return StartedOperation{}, insights.InvalidArgument("analysisPercentage", fmt.Sprintf("%v is not in (0, 100]", p.AnalysisPercentage))
	}
	req := &contactcenterinsightspb.BulkAnalyzeConversationsRequest{Parent: p.Parent, Filter: p.Filter, AnalysisPercentage: p.AnalysisPercentage}
	return startPipeline[*contactcenterinsightspb.BulkAnalyzeConversationsMetadata](ctx, a, "BulkAnalyzeConversations",
		"parent", p.Parent, p.Since, (*contactcenterinsights.Client).BulkAnalyzeConversations, req,
		func(r *contactcenterinsightspb.BulkAnalyzeConversationsRequest) bool {
			return r.GetParent() == req.Parent && r.GetFilter() == req.Filter && r.GetAnalysisPercentage() == req.AnalysisPercentage
		})
}

// ExportIssueModelParams is the input of ExportIssueModel.
type ExportIssueModelParams struct {
	// Name is the model to export.
	Name string `json:"name"`
	// ObjectURI is the gs://bucket/object to write.
	ObjectURI string    `json:"objectUri"`
	Since     time.Time `json:"since"`
}

// ExportIssueModel starts exporting the model to ObjectURI.
func (a *Activities) ExportIssueModel(ctx context.Context, p ExportIssueModelParams) (StartedOperation, error) {
	if err := insights.ValidateIssueModelName("name", p.Name); err != nil {
		return StartedOperation{}, err
	}
	if err := ValidateGCSURI("objectUri", p.ObjectURI, true); err != nil {
		return StartedOperation{}, err
	}
	req := &contactcenterinsightspb.ExportIssueModelRequest{Name: p.Name, Destination: &contactcenterinsightspb.ExportIssueModelRequest_GcsDestination_{
		GcsDestination: &contactcenterinsightspb.ExportIssueModelRequest_GcsDestination{ObjectUri: p.ObjectURI}}}
	return startPipeline[*contactcenterinsightspb.ExportIssueModelMetadata](ctx, a, "ExportIssueModel",
		"name", insights.ParentOf(p.Name), p.Since, (*contactcenterinsights.Client).ExportIssueModel, req,
		func(r *contactcenterinsightspb.ExportIssueModelRequest) bool {
			return r.GetName() == p.Name && r.GetGcsDestination().GetObjectUri() == p.ObjectURI
		})
}

// ImportIssueModelParams is the input of ImportIssueModel.
type ImportIssueModelParams struct {
	Parent string `json:"parent"`
	// ObjectURI is the gs://bucket/object an export wrote.
	ObjectURI string `json:"objectUri"`
	// CreateNewModel gives the model a new id; false replaces the model with the exported id.
	CreateNewModel bool      `json:"createNewModel"`
	Since          time.Time `json:"since"`
}

// ImportIssueModel starts importing the model exported to ObjectURI into Parent.
func (a *Activities) ImportIssueModel(ctx context.Context, p ImportIssueModelParams) (StartedOperation, error) {
	if err := insights.ValidateParent("parent", p.Parent); err != nil {
		return StartedOperation{}, err
	}
	if err := ValidateGCSURI("objectUri", p.ObjectURI, true); err != nil {
		return StartedOperation{}, err
	}
	req := &contactcenterinsightspb.ImportIssueModelRequest{Parent: p.Parent, CreateNewModel: p.CreateNewModel,
		Source: &contactcenterinsightspb.ImportIssueModelRequest_GcsSource_{GcsSource: &contactcenterinsightspb.ImportIssueModelRequest_GcsSource{ObjectUri: p.ObjectURI}}}
	return startPipeline[*contactcenterinsightspb.ImportIssueModelMetadata](ctx, a, "ImportIssueModel",
		"parent", p.Parent, p.Since, (*contactcenterinsights.Client).ImportIssueModel, req,
		func(r *contactcenterinsightspb.ImportIssueModelRequest) bool {
			return r.GetParent() == p.Parent && r.GetGcsSource().GetObjectUri() == p.ObjectURI && r.GetCreateNewModel() == p.CreateNewModel
		})
}

// pipelineMetadata is the metadata of a pipeline operation: its create time and its request.
type pipelineMetadata[R any] interface {
	proto.Message
	GetCreateTime() *timestamppb.Timestamp
	GetRequest() R
}

// startPipeline starts one of the pipeline's operations, call(client, ctx, req), through
// startOnce with the client of parent's location (carried by input field field): a retry after
// an attempt that may have committed adopts an operation whose metadata (of type M) has a
// request that same accepts and a createTime since since (in a look-up for a start that gave
// up, also not after its last ambiguous attempt: see createdSince).
func startPipeline[M pipelineMetadata[R], R, Q any, O interface{ Name() string }](
	ctx context.Context, a *Activities, method, field, parent string, since time.Time,
	call func(*contactcenterinsights.Client, context.Context, Q, ...gax.CallOption) (O, error), req Q, same func(R) bool) (StartedOperation, error) {
	// Every operation of the pipeline acts in parent's location (an export in its model's, an
	// import in its destination's): a promotion from one location to another calls each
	// location's endpoint in turn.
	c, err := a.clientFor(field, parent)
	if err != nil {
		return StartedOperation{}, err
	}
	created := a.createdSince(ctx, since)
	r := startRequest{
		method: method, parent: parent,
		ours: func(op *longrunningpb.Operation) bool {
			md := newMessage[M]()
			return op.GetMetadata().UnmarshalTo(md) == nil && same(md.GetRequest()) && created(md.GetCreateTime())
		},
		start: func() (string, error) { return opName(call(c, ctx, req, noRetry)) },
	}
	if isLooking(ctx) {
		r.known, r.lookOnly = knownMayHaveStarted, true
	}
	return a.startOnce(ctx, r)
}

// newMessage returns a new, empty message of type M (a pointer to a generated message).
func newMessage[M proto.Message]() M {
	var zero M // a typed nil: its message type makes a new M
	return zero.ProtoReflect().Type().New().Interface().(M)
}

// ValidateGCSURI checks a gs:// URI: gs://bucket/object when object is true, else
// gs://bucket[/prefix]. Errors are InvalidArgument naming field.
func ValidateGCSURI(field, uri string, object bool) error {
	rest, ok := strings.CutPrefix(uri, "gs://")
	bucket, path, _ := strings.Cut(rest, "/")
	switch {
	case !ok || len(bucket) < 3 || len(bucket) > 222 || strings.ContainsAny(bucket, " \t\n") || strings.ToLower(bucket) != bucket:
		return insights.InvalidArgument(field, fmt.Sprintf("%q is not a gs://bucket URI", uri))
	case object && (path == "" || strings.HasSuffix(path, "/")):
		return insights.InvalidArgument(field, fmt.Sprintf("%q does not name an object (gs://bucket/path/name)", uri))
	}
	return nil
}
