package insightstest

import (
	"context"
	"math"
	"sort"

	contactcenterinsightspb "cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	longrunningpb "cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// gcsArg validates field, a Cloud Storage URI of a request, with parse
// (parseObjectURI or parseBucketURI, whose form is given for the error).
func gcsArg(field, uri string, parse func(string) (string, string, bool), form string) (bucket, rest string, err error) {
	if uri == "" {
		return "", "", status.Errorf(codes.InvalidArgument, "%s: required", field)
	}
	bucket, rest, ok := parse(uri)
	if !ok {
		return "", "", status.Errorf(codes.InvalidArgument, "%s: must be %s, got %q", field, form, uri)
	}
	return bucket, rest, nil
}

func notFoundBucket(field, bucket string) error {
	return status.Errorf(codes.NotFound, "%s: bucket gs://%s does not exist (or the service account cannot read it).", field, bucket)
}

// IngestConversations ingests every object under gcs_source.bucket_uri (a
// folder of the fake Cloud Storage) as a conversation of parent when the
// operation ends. An object whose URI was already ingested in parent is
// skipped and counted in duplicates_skipped_count, so ingesting again (a
// retry, a weekly re-run) never duplicates a conversation; an object that is
// not a JSON transcript counts as failed, with a partial error naming it.
func (s *Server) IngestConversations(ctx context.Context, req *contactcenterinsightspb.IngestConversationsRequest) (*longrunningpb.Operation, error) {
	parent := req.GetParent()
	if _, _, ok := parseParent(parent); !ok {
		return nil, badParent("parent", parent)
	}
	bucket, prefix, err := gcsArg("gcs_source.bucket_uri", req.GetGcsSource().GetBucketUri(), parseBucketURI, "gs://{bucket}[/{prefix}]")
	if err != nil {
		return nil, err
	}
	if req.SampleSize != nil && req.GetSampleSize() <= 0 {
		return nil, status.Errorf(codes.InvalidArgument, "sample_size: must be positive, got %d", req.GetSampleSize())
	}
	now := s.lockSettled()
	defer s.mu.Unlock()
	if !s.buckets[bucket] {
		return nil, notFoundBucket("gcs_source.bucket_uri", bucket)
	}
	objects := s.objectsUnderLocked(bucket, prefix)
	if req.SampleSize != nil && int(req.GetSampleSize()) < len(objects) {
		objects = objects[:req.GetSampleSize()]
	}
	op := s.startOpLocked(parent, kindIngest, "", req, now, s.pipelineTime[kindIngest])
	op.pipeline.objects = objects
	return op.toProto(now), nil
}

// BulkAnalyzeConversations analyzes analysis_percentage percent of the
// conversations of parent matching filter (the first ones, in ingestion
// order), selected at the request; each gets a new latest_analysis when the
// operation ends. Analyzing a conversation again makes a new analysis, as on
// the real service.
func (s *Server) BulkAnalyzeConversations(ctx context.Context, req *contactcenterinsightspb.BulkAnalyzeConversationsRequest) (*longrunningpb.Operation, error) {
	parent := req.GetParent()
	if _, _, ok := parseParent(parent); !ok {
		return nil, badParent("parent", parent)
	}
	pct := req.GetAnalysisPercentage()
	if !(pct > 0 && pct <= 100) {
		return nil, status.Errorf(codes.InvalidArgument, "analysis_percentage: must be in (0, 100], got %v", pct)
	}
	f, err := parseFilter(req.GetFilter())
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "filter: %v", err)
	}
	now := s.lockSettled()
	defer s.mu.Unlock()
	var matching []*conversation
	for _, c := range s.convs[parent] {
		if f.match(c.pb) {
			matching = append(matching, c)
		}
	}
	n := int(math.Ceil(float64(len(matching)) * float64(pct) / 100))
	op := s.startOpLocked(parent, kindAnalyze, "", req, now, s.pipelineTime[kindAnalyze])
	op.pipeline.targets = matching[:n]
	return op.toProto(now), nil
}

// ExportIssueModel writes the model (display name, issues, statistics) as a
// JSON object to gcs_destination.object_uri when the operation ends,
// replacing an object that exists there, as a Cloud Storage write does.
func (s *Server) ExportIssueModel(ctx context.Context, req *contactcenterinsightspb.ExportIssueModelRequest) (*longrunningpb.Operation, error) {
	name := req.GetName()
	parent, _, ok := parseModelName(name)
	if !ok {
		return nil, badModelName(name)
	}
	uri := req.GetGcsDestination().GetObjectUri()
	bucket, _, err := gcsArg("gcs_destination.object_uri", uri, parseObjectURI, "gs://{bucket}/{object}")
	if err != nil {
		return nil, err
	}
	now := s.lockSettled()
	defer s.mu.Unlock()
	m := s.models[name]
	if m == nil {
		return nil, modelNotFound(name)
	}
	if m.training != nil {
		return nil, status.Errorf(codes.FailedPrecondition,
			"Cannot export issue model %s: it is still being trained (operation %s).", name, m.training.name)
	}
	if !s.buckets[bucket] {
		return nil, notFoundBucket("gcs_destination.object_uri", bucket)
	}
	op := s.startOpLocked(parent, kindExport, name, req, now, s.pipelineTime[kindExport])
	op.pipeline.object, op.pipeline.snapshot = uri, proto.CloneOf(m.pb)
	return op.toProto(now), nil
}

// ImportIssueModel creates, when the operation ends, an UNDEPLOYED model in
// parent from an object ExportIssueModel wrote: same display name, issues
// and statistics; with create_new_model a new id, else the exported model's
// id (replacing a model of that id in parent).
func (s *Server) ImportIssueModel(ctx context.Context, req *contactcenterinsightspb.ImportIssueModelRequest) (*longrunningpb.Operation, error) {
	parent := req.GetParent()
	if _, _, ok := parseParent(parent); !ok {
		return nil, badParent("parent", parent)
	}
	uri := req.GetGcsSource().GetObjectUri()
	bucket, _, err := gcsArg("gcs_source.object_uri", uri, parseObjectURI, "gs://{bucket}/{object}")
	if err != nil {
		return nil, err
	}
	now := s.lockSettled()
	defer s.mu.Unlock()
	if !s.buckets[bucket] {
		return nil, notFoundBucket("gcs_source.object_uri", bucket)
	}
	data, ok := s.objects[uri]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "gcs_source.object_uri: object %s does not exist.", uri)
	}
	exported := &contactcenterinsightspb.IssueModel{}
	if err := protojson.Unmarshal(data, exported); err != nil || exported.GetDisplayName() == "" {
		return nil, status.Errorf(codes.InvalidArgument, "gcs_source.object_uri: %s is not an exported issue model", uri)
	}
	id := s.nextIDLocked()
	if !req.GetCreateNewModel() {
		if _, old, ok := parseModelName(exported.GetName()); ok {
			id = old
		}
	}
	name := parent + "/issueModels/" + id
	if m := s.models[name]; m != nil && (m.training != nil || m.busy != nil || m.pb.State != contactcenterinsightspb.IssueModel_UNDEPLOYED) {
		return nil, status.Errorf(codes.FailedPrecondition,
			"Cannot import into issue model %s in state %s: only an UNDEPLOYED model that is not changing can be replaced.", name, m.pb.State)
	} else if m == nil && len(s.modelsByParent[parent]) >= s.maxModels {
		return nil, status.Errorf(codes.ResourceExhausted,
			"Quota exceeded: at most %d issue models per location; %s already has %d.", s.maxModels, parent, len(s.modelsByParent[parent]))
	}
	op := s.startOpLocked(parent, kindImport, name, req, now, s.pipelineTime[kindImport])
	op.pipeline.object, op.pipeline.snapshot = uri, importedModel(exported, name)
	return op.toProto(now), nil
}

// ListConversations lists parent's conversations in ingestion order, with
// the same filter language as BulkAnalyzeConversations and page tokens like
// ListOperations'.
func (s *Server) ListConversations(ctx context.Context, req *contactcenterinsightspb.ListConversationsRequest) (*contactcenterinsightspb.ListConversationsResponse, error) {
	parent := req.GetParent()
	if _, _, ok := parseParent(parent); !ok {
		return nil, badParent("parent", parent)
	}
	f, err := parseFilter(req.GetFilter())
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "filter: %v", err)
	}
	size, after, err := pageOf(req, parent)
	if err != nil {
		return nil, err
	}
	s.lockSettled()
	defer s.mu.Unlock()
	list := s.convs[parent]
	i := sort.Search(len(list), func(i int) bool { return list[i].seq > after })
	resp := &contactcenterinsightspb.ListConversationsResponse{}
	var last uint64
	for ; i < len(list); i++ {
		if !f.match(list[i].pb) {
			continue
		}
		if len(resp.Conversations) == size {
			resp.NextPageToken = encodePageToken(parent, req.GetFilter(), last)
			break
		}
		resp.Conversations = append(resp.Conversations, proto.CloneOf(list[i].pb))
		last = list[i].seq
	}
	return resp, nil
}
