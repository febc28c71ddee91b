package insightstest

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	contactcenterinsightspb "cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	"go.uber.org/zap"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// What a pipeline operation (ingest, analysis, export, import) does as it runs and when it ends.

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
