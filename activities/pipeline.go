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
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/issuemodels/durable-lro/insights"
)

// The pipeline's activities (IngestConversations, BulkAnalyzeConversations, ExportIssueModel,
// ImportIssueModel) each start one operation. None of these calls has a request id, so a retry
// after a lost reply (UNAVAILABLE or DEADLINE_EXCEEDED after the server committed, or a worker
// that died mid-call) could start a second operation. They are retried by Temporal's retry
// policy, and every attempt after one that may have committed (see startOnce) first lists the
// location's operations and adopts an operation of the same method whose metadata.request
// matches ours and whose createTime is not before Since-CreateSkew; only if there is none, and
// the operation list has had ListLagGrace since the last such attempt failed to show its
// operation, does it start one (until then it fails with the retryable ErrOperationNotListed and
// Temporal retries it). What a second operation would have done, had the look-up missed it (an
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
	// identical operation created from then on. Zero: any identical operation.
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

// startPipeline starts one of the pipeline's operations, call(client, ctx, req), through startOnce
// with the client of parent's location (carried by input field field): on
// a retry it adopts an operation whose metadata (of type M) has a request that same accepts.
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
	return a.startOnce(ctx, method, parent, since,
		func(op *longrunningpb.Operation) (*timestamppb.Timestamp, bool) {
			md := newMessage[M]()
			ok := op.GetMetadata().UnmarshalTo(md) == nil
			return md.GetCreateTime(), ok && same(md.GetRequest())
		},
		func() (string, error) { return opName(call(c, ctx, req, noRetry)) })
}

// newMessage returns a new, empty message of type M (a pointer to a generated message).
func newMessage[M proto.Message]() M {
	var zero M // a typed nil: its message type makes a new M
	return zero.ProtoReflect().Type().New().Interface().(M)
}

// ListLagGrace is how long after an attempt that may have committed failed the operation list
// may still not show that attempt's operation (eventual consistency): startOnce trusts an empty
// look-up only after it. It is the workflows' default NotFoundGrace (workflows.
// DefaultNotFoundGrace, the grace the create loop waits out in the same case), which this
// package cannot import. The lag is the API's, so against an emulator whose clock runs faster
// (APITimeScale above 1) the grace is ListLagGrace/APITimeScale of the worker's time.
const ListLagGrace = 2 * time.Minute

// listLag is the grace for the operation list's lag in the worker's time (see ListLagGrace).
func (a *Activities) listLag() time.Duration {
	g := ListLagGrace
	if a.listLagGrace != 0 {
		g = a.listLagGrace // tests
	}
	if a.APITimeScale > 1 {
		g = time.Duration(float64(g) / a.APITimeScale)
	}
	return g
}

// startOnce starts an operation with start, unless an earlier attempt may have committed one:
// then it first looks for that operation (match, created from since-CreateSkew on) and adopts it.
//
// The rule (the create loop's, workflows.createOperation): look only when some earlier attempt
// may have committed (an ambiguous failure, see insights.MayHaveCommitted: a lost reply, a
// timeout, a worker that died mid-call), and once any attempt may have committed, every later
// attempt looks first. A definite refusal (RESOURCE_EXHAUSTED, ...) proves only that the refused
// attempt created nothing, so it clears nothing; but after refusals alone there is nothing of
// ours to find, and looking could adopt an identical operation another run started (for an
// import with createNewModel, its model). An empty look-up is trusted only ListLagGrace after
// the last attempt that may have committed failed: the list lags behind a start, and until then
// an attempt only looks and, finding nothing, fails with the retryable
// insights.ErrOperationNotListed, so that Temporal retries it later instead of it starting a
// second operation.
//
// The retries are Temporal's, so an attempt knows how earlier ones ended only from what they
// recorded: each failing attempt heartbeats startAttempts just before it returns (the first
// heartbeat of an attempt is sent at once), and Temporal hands the last details to the next
// attempt. An attempt that recorded nothing (its worker died, it timed out, the heartbeat was
// lost) may have committed, at a time unknown but before this attempt began; so may the last
// attempt of a record without AmbiguousEnd (written by a release before it). Both are read
// the safe way: as if that attempt had failed when this one began, so the grace runs from now;
// later attempts carry that time on.
//
// The times are the workers' clocks (time.Now): attempts may run on different workers, whose
// clocks are assumed synchronized (NTP) to well within ListLagGrace; a skew of s between the
// worker that recorded a failure and the one that reads it shifts the grace by s.
//
// Attempts of a release before ListLagGrace read only Attempt and MayHaveCommitted: in a mixed
// fleet such an attempt still looks once and then starts.
func (a *Activities) startOnce(ctx context.Context, method, parent string, since time.Time,
	match func(*longrunningpb.Operation) (*timestamppb.Timestamp, bool), start func() (string, error)) (StartedOperation, error) {
	logger := activity.GetLogger(ctx)
	attempt := activity.GetInfo(ctx).Attempt
	look, ambiguousEnd := earlierAttempts(ctx, time.Now())
	fail := func(err error, mayHaveCommitted bool) (StartedOperation, error) {
		rec := startAttempts{Attempt: attempt, MayHaveCommitted: look || mayHaveCommitted, AmbiguousEnd: ambiguousEnd}
		if mayHaveCommitted {
			rec.AmbiguousEnd = time.Now()
		}
		activity.RecordHeartbeat(ctx, rec)
		return StartedOperation{}, err
	}
	if look {
		from := since.Add(-CreateSkew)
		name, err := a.findOperation(ctx, parent, func(op *longrunningpb.Operation) bool {
			created, ok := match(op)
			return ok && (since.IsZero() || !created.AsTime().Before(from))
		})
		if err != nil {
			return fail(err, false)
		}
		if name != "" {
			logger.Info("Adopted the operation an earlier attempt started", "Method", method, "Operation", name)
			return StartedOperation{Operation: name, Adopted: true}, nil
		}
		if trusted := ambiguousEnd.Add(a.listLag()); time.Now().Before(trusted) {
			logger.Info("An earlier attempt may have started the operation, which the list does not show yet; looking again later",
				"Method", method, "LookOnlyUntil", trusted)
			return fail(temporal.NewApplicationError(fmt.Sprintf(
				"%s: an earlier attempt may have started the operation (its outcome is unknown), but the operation list does not show it yet; "+
					"retrying, looking only, until %s (%s after that attempt failed), then starting one if none is listed",
				method, trusted.UTC().Format(time.RFC3339), a.listLag()), insights.ErrOperationNotListed), false)
		}
		logger.Info("No earlier attempt's operation is listed after the grace for the list's lag; starting one",
			"Method", method, "AmbiguousEnd", ambiguousEnd, "Grace", a.listLag())
	}
	name, err := start()
	if err != nil {
		err = insights.FromAPIError(method, err)
		return fail(err, insights.MayHaveCommitted(err))
	}
	logger.Info("Started "+method, "Operation", name)
	return StartedOperation{Operation: name}, nil
}

// startAttempts is what a failed attempt of a pipeline start records (as activity heartbeat
// details) for the next one. Releases hand it across in both directions: fields are only ever
// added, and a reader treats a missing one the safe way (see startOnce).
type startAttempts struct {
	// Attempt is the attempt that recorded this.
	Attempt int32 `json:"attempt"`
	// MayHaveCommitted: this attempt or an earlier one may have started an operation.
	MayHaveCommitted bool `json:"mayHaveCommitted"`
	// AmbiguousEnd is when the last attempt that may have started an operation failed (its
	// worker's clock); zero when MayHaveCommitted is false, or in the record of a release before
	// ListLagGrace (time unknown).
	AmbiguousEnd time.Time `json:"ambiguousEnd,omitzero"`
}

// earlierAttempts says whether an attempt before this one may have started the operation, and
// when the last such attempt failed (see startOnce): no on the first attempt; yes unless the
// previous attempt recorded that neither it nor any before it may have. A time the records do
// not give (an attempt that recorded nothing, a record of an older release) is now, this
// attempt's start: the latest the attempt can have failed, so the grace is never cut short.
func earlierAttempts(ctx context.Context, now time.Time) (mayHaveCommitted bool, ambiguousEnd time.Time) {
	var rec *startAttempts
	if activity.HasHeartbeatDetails(ctx) {
		var r startAttempts
		if activity.GetHeartbeatDetails(ctx, &r) == nil {
			rec = &r
		}
	}
	return readAttempts(activity.GetInfo(ctx).Attempt, rec, now)
}

// readAttempts is earlierAttempts on attempt's record of the previous attempts (nil: none, or
// unreadable).
func readAttempts(attempt int32, rec *startAttempts, now time.Time) (mayHaveCommitted bool, ambiguousEnd time.Time) {
	switch {
	case attempt <= 1:
		return false, time.Time{}
	case rec == nil || rec.Attempt != attempt-1:
		return true, now // an attempt that recorded nothing
	case !rec.MayHaveCommitted:
		return false, time.Time{}
	case rec.AmbiguousEnd.IsZero():
		return true, now // a record of a release before ListLagGrace
	}
	return true, rec.AmbiguousEnd
}

func opName(op interface{ Name() string }, err error) (string, error) {
	if err != nil {
		return "", err
	}
	return op.Name(), nil
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
