package insightstest

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	contactcenterinsightspb "cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	longrunningpb "cloud.google.com/go/longrunning/autogen/longrunningpb"
	"go.uber.org/zap"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// pipelineWork is what an ingest, analysis, export or import operation does
// when it ends.
type pipelineWork struct {
	objects  []string                            // ingest: the object URIs to ingest, fixed at the request
	targets  []*conversation                     // analysis: the selected conversations
	object   string                              // export: destination; import: source
	snapshot *contactcenterinsightspb.IssueModel // export: the model as exported; import: the model to create
	// ingest results, when done
	stats   *contactcenterinsightspb.IngestConversationsMetadata_IngestConversationsStats
	partial []*spb.Status
}

// fraction is how much of its duration a running operation has done at now.
func (op *operation) fraction(now time.Time) float64 {
	if op.done {
		return 1
	}
	total := op.endTime.Sub(op.createTime)
	if total <= 0 {
		return 0
	}
	return math.Min(math.Max(float64(now.Sub(op.createTime))/float64(total), 0), 0.99)
}

// progressMetadata fills the progress fields of an ingest's or analysis's
// metadata: counts grow with the elapsed fraction while it runs, and are
// final when it is done.
func (op *operation) progressMetadata(md proto.Message, now time.Time) {
	switch m := md.(type) {
	case *contactcenterinsightspb.IngestConversationsMetadata:
		if op.pipeline.stats != nil {
			m.IngestConversationsStats = proto.CloneOf(op.pipeline.stats)
			for _, p := range op.pipeline.partial {
				m.PartialErrors = append(m.PartialErrors, proto.CloneOf(p))
			}
			return
		}
		m.IngestConversationsStats = &contactcenterinsightspb.IngestConversationsMetadata_IngestConversationsStats{
			ProcessedObjectCount: int32(float64(len(op.pipeline.objects)) * op.fraction(now)),
		}
	case *contactcenterinsightspb.BulkAnalyzeConversationsMetadata:
		total := len(op.pipeline.targets)
		m.TotalRequestedAnalysesCount = int32(total)
		m.CompletedAnalysesCount = int32(float64(total) * op.fraction(now))
	}
}

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

// importedModel is the exported model renamed into name, its issues too.
func importedModel(exported *contactcenterinsightspb.IssueModel, name string) *contactcenterinsightspb.IssueModel {
	pb := proto.CloneOf(exported)
	old := exported.GetName()
	pb.Name, pb.State = name, contactcenterinsightspb.IssueModel_UNDEPLOYED
	if ts := pb.GetTrainingStats(); ts != nil && old != "" {
		issues := ts.IssueStats
		ts.IssueStats = map[string]*contactcenterinsightspb.IssueModelLabelStats_IssueStats{}
		for key, st := range issues {
			key = strings.Replace(key, old, name, 1)
			st.Issue = key
			ts.IssueStats[key] = st
		}
	}
	return pb
}

// completePipelineLocked applies the effect of a finished ingest, analysis,
// export or import.
func (s *Server) completePipelineLocked(op *operation) {
	w := &op.pipeline
	switch op.kind {
	case kindIngest:
		op.response = mustAny(&contactcenterinsightspb.IngestConversationsResponse{})
		s.ingestLocked(op)
	case kindAnalyze:
		for _, c := range w.targets {
			if s.convByURI[op.parent][c.pb.GetDataSource().GetGcsSource().GetTranscriptUri()] != c {
				continue // deleted meanwhile
			}
			c.pb.LatestAnalysis = &contactcenterinsightspb.Analysis{
				Name:        c.pb.Name + "/analyses/" + s.nextIDLocked(),
				RequestTime: timestamppb.New(op.createTime), CreateTime: timestamppb.New(op.endTime),
			}
			c.pb.UpdateTime = timestamppb.New(op.endTime)
			s.stats.Analyses[op.parent]++
		}
		op.response = mustAny(&contactcenterinsightspb.BulkAnalyzeConversationsResponse{SuccessfulAnalysisCount: int32(len(w.targets))})
	case kindExport:
		b, _ := protojson.Marshal(w.snapshot)
		s.objects[w.object] = b
		s.stats.Exports[w.object]++
		op.response = mustAny(&contactcenterinsightspb.ExportIssueModelResponse{})
	case kindImport:
		pb := w.snapshot
		pb.CreateTime, pb.UpdateTime = timestamppb.New(op.endTime), timestamppb.New(op.endTime)
		if m := s.models[pb.Name]; m != nil {
			m.pb = pb
		} else {
			m := &model{pb: pb, parent: op.parent, analyzed: -1}
			s.models[pb.Name] = m
			s.modelsByParent[op.parent] = append(s.modelsByParent[op.parent], m)
			s.stats.ModelsCreated[op.parent]++
		}
		s.stats.ModelsImported[op.parent]++
		op.response = mustAny(&contactcenterinsightspb.ImportIssueModelResponse{})
	}
	s.stats.Operations["succeeded"]++
	s.log.Info("operation succeeded", zap.String("operation", op.name), zap.Stringer("kind", op.kind),
		zap.String("model", op.model), zap.String("object", w.object))
}

// ingestLocked turns an ingest's objects into conversations.
func (s *Server) ingestLocked(op *operation) {
	req := op.req.(*contactcenterinsightspb.IngestConversationsRequest)
	stats := &contactcenterinsightspb.IngestConversationsMetadata_IngestConversationsStats{}
	byURI := s.convByURI[op.parent]
	if byURI == nil {
		byURI = map[string]*conversation{}
		s.convByURI[op.parent] = byURI
	}
	for _, uri := range op.pipeline.objects {
		stats.ProcessedObjectCount++
		if byURI[uri] != nil {
			stats.DuplicatesSkippedCount++
			continue
		}
		var transcript struct {
			Entries []json.RawMessage `json:"entries"`
		}
		data, ok := s.objects[uri]
		if !ok || json.Unmarshal(data, &transcript) != nil {
			stats.FailedIngestCount++
			op.pipeline.partial = append(op.pipeline.partial, status.Newf(codes.InvalidArgument,
				"Object %s could not be ingested: it is not a JSON transcript.", uri).Proto())
			continue
		}
		s.seq++
		ts := timestamppb.New(op.endTime)
		c := &conversation{seq: s.seq, pb: &contactcenterinsightspb.Conversation{
			Name:       fmt.Sprintf("%s/conversations/%d", op.parent, s.idBase+s.seq),
			CreateTime: ts, UpdateTime: ts, StartTime: ts,
			DataSource: &contactcenterinsightspb.ConversationDataSource{Source: &contactcenterinsightspb.ConversationDataSource_GcsSource{
				GcsSource: &contactcenterinsightspb.GcsSource{TranscriptUri: uri}}},
			Medium:    contactcenterinsightspb.Conversation_Medium(req.GetTranscriptObjectConfig().GetMedium()),
			AgentId:   req.GetConversationConfig().GetAgentId(),
			TurnCount: int32(len(transcript.Entries)),
		}}
		if c.pb.Medium == contactcenterinsightspb.Conversation_MEDIUM_UNSPECIFIED {
			c.pb.Medium = contactcenterinsightspb.Conversation_CHAT
		}
		byURI[uri] = c
		s.convs[op.parent] = append(s.convs[op.parent], c)
		s.stats.Conversations[op.parent]++
		stats.SuccessfulIngestCount++
	}
	op.pipeline.stats = stats
}

// trainingDataLocked decides a training from the location's conversations:
// the number of analyzed conversations matching the filter (and the
// deprecated medium), and a FAILED_PRECONDITION outcome when they are fewer
// than MinTrainingConversations. Where the location has no conversations it
// returns -1 and no outcome (synthetic statistics, as before).
func (s *Server) trainingDataLocked(parent string, in *contactcenterinsightspb.IssueModel) (int64, *status.Status, error) {
	if len(s.convs[parent]) == 0 {
		return -1, nil, nil
	}
	filter := in.GetInputDataConfig().GetFilter()
	f, err := parseFilter(filter)
	if err != nil {
		return 0, nil, status.Errorf(codes.InvalidArgument, "issue_model.input_data_config.filter: %v", err)
	}
	//lint:ignore SA1019 medium is deprecated in favour of the filter, but the API still accepts it
	medium := in.GetInputDataConfig().GetMedium()
	var n int64
	for _, c := range s.convs[parent] {
		if c.pb.LatestAnalysis != nil && f.match(c.pb) &&
			(medium == contactcenterinsightspb.Conversation_MEDIUM_UNSPECIFIED || medium == c.pb.Medium) {
			n++
		}
	}
	if n < s.minTraining {
		return n, status.Newf(codes.FailedPrecondition,
			"Issue model training failed: too few conversations match the filter: %d analyzed conversations of %s match %q, at least %d are needed.",
			n, parent, filter, s.minTraining), nil
	}
	return n, nil, nil
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
