package insightstest

import (
	"container/heap"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	contactcenterinsightspb "cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	longrunningpb "cloud.google.com/go/longrunning/autogen/longrunningpb"
	"go.uber.org/zap"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

type opKind int

const (
	kindCreate opKind = iota
	kindDeploy
	kindUndeploy
	kindDelete
	kindIngest
	kindAnalyze
	kindExport
	kindImport
)

func (k opKind) String() string {
	return [...]string{"create", "deploy", "undeploy", "delete", "ingest", "analyze", "export", "import"}[k]
}

// model is one issue model.
type model struct {
	pb       *contactcenterinsightspb.IssueModel
	parent   string
	training *operation // non-nil while the creation operation runs
	busy     *operation // running deploy/undeploy/delete operation
	// analyzed is the number of analyzed conversations matching the filter
	// when the training was accepted; -1 when the location had no
	// conversations (the statistics are then synthetic).
	analyzed int64
}

// operation is one long-running operation. Its proto is built on read.
type operation struct {
	name, parent string
	seq          uint64
	kind         opKind
	model        string        // model name
	req          proto.Message // request, for metadata
	createTime   time.Time
	endTime      time.Time // when it will be / was done
	prevState    contactcenterinsightspb.IssueModel_State
	outcome      *status.Status // planned failure (creation only)
	pipeline     pipelineWork   // what an ingest, analysis, export or import does

	done     bool
	result   *spb.Status // error, when done with failure
	response *anypb.Any  // when done with success
	removed  bool
	hidx     int // index in pending heap, -1 when not queued
}

// metadataTypes are the operations' metadata messages. Each has the same
// create_time, end_time and request fields.
var metadataTypes = map[opKind]protoreflect.MessageType{
	kindCreate:   (&contactcenterinsightspb.CreateIssueModelMetadata{}).ProtoReflect().Type(),
	kindDeploy:   (&contactcenterinsightspb.DeployIssueModelMetadata{}).ProtoReflect().Type(),
	kindUndeploy: (&contactcenterinsightspb.UndeployIssueModelMetadata{}).ProtoReflect().Type(),
	kindDelete:   (&contactcenterinsightspb.DeleteIssueModelMetadata{}).ProtoReflect().Type(),
	kindIngest:   (&contactcenterinsightspb.IngestConversationsMetadata{}).ProtoReflect().Type(),
	kindAnalyze:  (&contactcenterinsightspb.BulkAnalyzeConversationsMetadata{}).ProtoReflect().Type(),
	kindExport:   (&contactcenterinsightspb.ExportIssueModelMetadata{}).ProtoReflect().Type(),
	kindImport:   (&contactcenterinsightspb.ImportIssueModelMetadata{}).ProtoReflect().Type(),
}

// toProto is the operation as a read at now sees it (progress metadata of an
// ingest or analysis grows with the elapsed fraction of its duration).
func (op *operation) toProto(now time.Time) *longrunningpb.Operation {
	md := metadataTypes[op.kind].New()
	fields := md.Descriptor().Fields()
	md.Set(fields.ByName("create_time"), protoreflect.ValueOfMessage(timestamppb.New(op.createTime).ProtoReflect()))
	if op.done {
		md.Set(fields.ByName("end_time"), protoreflect.ValueOfMessage(timestamppb.New(op.endTime).ProtoReflect()))
	}
	// The request is never changed and mustAny copies it, so it needs no clone.
	md.Set(fields.ByName("request"), protoreflect.ValueOfMessage(op.req.ProtoReflect()))
	op.progressMetadata(md.Interface(), now)
	out := &longrunningpb.Operation{Name: op.name, Metadata: mustAny(md.Interface()), Done: op.done}
	switch {
	case !op.done:
	case op.result != nil:
		out.Result = &longrunningpb.Operation_Error{Error: proto.CloneOf(op.result)}
	default:
		out.Result = &longrunningpb.Operation_Response{Response: proto.CloneOf(op.response)}
	}
	return out
}

func mustAny(m proto.Message) *anypb.Any {
	a, err := anypb.New(m)
	if err != nil {
		panic(err)
	}
	return a
}

// opHeap orders running operations by end time, then creation order.
type opHeap []*operation

func (h opHeap) Len() int { return len(h) }
func (h opHeap) Less(i, j int) bool {
	if !h[i].endTime.Equal(h[j].endTime) {
		return h[i].endTime.Before(h[j].endTime)
	}
	return h[i].seq < h[j].seq
}
func (h opHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].hidx, h[j].hidx = i, j
}
func (h *opHeap) Push(x any) {
	op := x.(*operation)
	op.hidx = len(*h)
	*h = append(*h, op)
}
func (h *opHeap) Pop() any {
	old := *h
	op := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	op.hidx = -1
	return op
}

func (s *Server) nextIDLocked() string {
	s.seq++
	return strconv.FormatUint(s.idBase+s.seq, 10)
}

// startOpLocked registers a new running operation.
func (s *Server) startOpLocked(parent string, kind opKind, modelName string, req proto.Message, now time.Time, d time.Duration) *operation {
	op := &operation{
		name:       parent + "/operations/" + s.nextIDLocked(),
		parent:     parent,
		seq:        s.seq,
		kind:       kind,
		model:      modelName,
		req:        proto.Clone(req),
		createTime: now,
		endTime:    now.Add(d),
		hidx:       -1,
	}
	s.ops[op.name] = op
	s.opsByParent[parent] = append(s.opsByParent[parent], op)
	heap.Push(&s.pending, op)
	s.stats.Operations["running"]++
	s.log.Info("operation started", zap.String("operation", op.name), zap.Stringer("kind", op.kind),
		zap.String("model", modelName), zap.Time("end_time", op.endTime))
	return op
}

// lockSettled locks s.mu (the caller unlocks it) and settles every
// operation up to the clock's current time, which it returns.
func (s *Server) lockSettled() time.Time {
	s.mu.Lock()
	now := s.clock.Now()
	s.settleLocked(now)
	return now
}

// settleLocked completes every running operation whose end time is <= now,
// in end-time order.
func (s *Server) settleLocked(now time.Time) {
	for len(s.pending) > 0 && !s.pending[0].endTime.After(now) {
		op := heap.Pop(&s.pending).(*operation)
		s.completeLocked(op)
	}
}

// completeLocked applies the effect of a finished operation.
func (s *Server) completeLocked(op *operation) {
	m := s.models[op.model]
	op.done = true
	s.stats.Operations["running"]--
	switch op.kind {
	case kindCreate:
		s.completeTrainingLocked(op, m)
		return
	case kindIngest, kindAnalyze, kindExport, kindImport:
		s.completePipelineLocked(op)
		return
	case kindDelete:
		if m != nil {
			s.removeModelLocked(m)
		}
	default:
		if m != nil {
			m.busy = nil
			m.pb.State = changes[op.kind].after
			m.pb.UpdateTime = timestamppb.New(op.endTime)
		}
	}
	op.response = mustAny(changes[op.kind].response())
	s.stats.Operations["succeeded"]++
	s.log.Info("operation succeeded", zap.String("operation", op.name), zap.Stringer("kind", op.kind),
		zap.String("model", op.model))
}

// completeTrainingLocked ends a creation: the model gets its training
// statistics, or disappears when the training fails.
func (s *Server) completeTrainingLocked(op *operation, m *model) {
	if m != nil {
		m.training = nil
	}
	if op.outcome == nil && m != nil {
		finishTraining(m.pb, op.endTime, m.analyzed)
		op.response = mustAny(m.pb)
		s.stats.Operations["succeeded"]++
		s.log.Info("training succeeded", zap.String("operation", op.name), zap.String("model", op.model))
		return
	}
	st := op.outcome
	if st == nil {
		st = status.New(codes.Internal, "issue model disappeared during training")
	}
	op.result = st.Proto()
	s.stats.Operations["failed"]++
	if m != nil {
		s.removeModelLocked(m)
	}
	s.log.Info("training failed", zap.String("operation", op.name), zap.String("model", op.model),
		zap.Stringer("code", st.Code()), zap.String("message", st.Message()))
}

// cancelLocked ends a running operation with CANCELLED and undoes its effect.
func (s *Server) cancelLocked(op *operation, now time.Time) {
	if op.hidx >= 0 {
		heap.Remove(&s.pending, op.hidx)
	}
	op.done = true
	op.endTime = now
	op.result = status.New(codes.Canceled, "Operation was cancelled.").Proto()
	s.stats.Operations["running"]--
	s.stats.Operations["cancelled"]++
	if m := s.models[op.model]; m != nil {
		switch op.kind {
		case kindCreate:
			s.removeModelLocked(m)
		case kindDeploy, kindUndeploy, kindDelete:
			m.busy = nil
			m.pb.State = op.prevState
			m.pb.UpdateTime = timestamppb.New(now)
		}
	}
	s.log.Info("operation cancelled", zap.String("operation", op.name), zap.Stringer("kind", op.kind),
		zap.String("model", op.model))
}

func (s *Server) removeModelLocked(m *model) {
	delete(s.models, m.pb.Name)
	list := s.modelsByParent[m.parent]
	for i, x := range list {
		if x == m {
			s.modelsByParent[m.parent] = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	s.log.Info("issue model removed", zap.String("model", m.pb.Name))
}

func (s *Server) removeOpLocked(op *operation) {
	if op.removed {
		return
	}
	op.removed = true
	delete(s.ops, op.name)
	list := s.opsByParent[op.parent]
	i := sort.Search(len(list), func(i int) bool { return list[i].seq >= op.seq })
	if i < len(list) && list[i] == op {
		s.opsByParent[op.parent] = append(list[:i:i], list[i+1:]...)
	}
	// A running operation stays in the heap so its effect still happens.
}

// expireIfDueLocked removes a done operation older than the TTL and reports
// whether it is gone.
func (s *Server) expireIfDueLocked(op *operation, now time.Time) bool {
	if op.removed {
		return true
	}
	if s.ttl > 0 && op.done && !now.Before(op.endTime.Add(s.ttl)) {
		s.removeOpLocked(op)
		s.log.Info("operation expired (TTL)", zap.String("operation", op.name))
		return true
	}
	return false
}

func (s *Server) visibleLocked(op *operation, now time.Time) bool {
	return s.visibility <= 0 || !now.Before(op.createTime.Add(s.visibility))
}

// lookupOpLocked validates name and finds a visible operation.
func (s *Server) lookupOpLocked(name string, now time.Time) (*operation, error) {
	if _, _, ok := parseOperationName(name); !ok {
		return nil, status.Errorf(codes.InvalidArgument,
			"name: must be projects/{project}/locations/{location}/operations/{operation}, got %q", name)
	}
	s.settleLocked(now)
	op := s.ops[name]
	if op == nil || s.expireIfDueLocked(op, now) || !s.visibleLocked(op, now) {
		return nil, status.Errorf(codes.NotFound, "Operation %s not found.", name)
	}
	return op, nil
}

func (o *opsServer) GetOperation(ctx context.Context, req *longrunningpb.GetOperationRequest) (*longrunningpb.Operation, error) {
	s := o.s
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	op, err := s.lookupOpLocked(req.GetName(), now)
	if err != nil {
		return nil, err
	}
	return op.toProto(now), nil
}

func (o *opsServer) CancelOperation(ctx context.Context, req *longrunningpb.CancelOperationRequest) (*emptypb.Empty, error) {
	s := o.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancelMode == CancelUnimplemented {
		return nil, status.Error(codes.Unimplemented, "CancelOperation is not supported by this service.")
	}
	now := s.clock.Now()
	op, err := s.lookupOpLocked(req.GetName(), now)
	if err != nil {
		return nil, err
	}
	if op.done {
		return &emptypb.Empty{}, nil
	}
	if s.cancelMode == CancelIgnore {
		s.log.Info("cancel ignored", zap.String("operation", op.name))
		return &emptypb.Empty{}, nil
	}
	s.cancelLocked(op, now)
	return &emptypb.Empty{}, nil
}

const (
	defaultPageSize = 50
	maxPageSize     = 1000
)

func (o *opsServer) ListOperations(ctx context.Context, req *longrunningpb.ListOperationsRequest) (*longrunningpb.ListOperationsResponse, error) {
	s := o.s
	parent := strings.TrimSuffix(req.GetName(), "/operations")
	if _, _, ok := parseParent(parent); !ok {
		return nil, status.Errorf(codes.InvalidArgument,
			"name: must be projects/{project}/locations/{location}, got %q", req.GetName())
	}
	var wantDone *bool
	switch f := strings.ToLower(strings.Join(strings.Fields(req.GetFilter()), "")); f {
	case "":
	case "done=true", "done:true":
		t := true
		wantDone = &t
	case "done=false", "done:false":
		f := false
		wantDone = &f
	default:
		return nil, status.Errorf(codes.InvalidArgument,
			"filter: unsupported filter %q (supported: \"\", \"done=true\", \"done=false\")", req.GetFilter())
	}
	size, after, err := pageOf(req, parent)
	if err != nil {
		return nil, err
	}

	now := s.lockSettled()
	defer s.mu.Unlock()
	list := s.opsByParent[parent]
	i := sort.Search(len(list), func(i int) bool { return list[i].seq > after })
	resp := &longrunningpb.ListOperationsResponse{}
	var expired []*operation
	var last uint64
	for ; i < len(list); i++ {
		op := list[i]
		if s.ttl > 0 && op.done && !now.Before(op.endTime.Add(s.ttl)) {
			expired = append(expired, op)
			continue
		}
		if !s.visibleLocked(op, now) || (wantDone != nil && op.done != *wantDone) {
			continue
		}
		if len(resp.Operations) == size {
			resp.NextPageToken = encodePageToken(parent, req.GetFilter(), last)
			break
		}
		resp.Operations = append(resp.Operations, op.toProto(now))
		last = op.seq
	}
	for _, op := range expired {
		s.removeOpLocked(op)
	}
	return resp, nil
}

// pageRequest is what the List RPCs share: a page size, a page token and
// the filter the token is bound to.
type pageRequest interface {
	GetPageSize() int32
	GetPageToken() string
	GetFilter() string
}

// pageOf validates req's page size and token for parent: the size clamped
// to maxPageSize (defaultPageSize for 0) and the sequence number to list
// after (0 without a token).
func pageOf(req pageRequest, parent string) (size int, after uint64, err error) {
	size = int(req.GetPageSize())
	switch {
	case size < 0:
		return 0, 0, status.Errorf(codes.InvalidArgument, "page_size: must not be negative, got %d", size)
	case size == 0:
		size = defaultPageSize
	case size > maxPageSize:
		size = maxPageSize
	}
	if tok := req.GetPageToken(); tok != "" {
		if after, err = decodePageToken(tok, parent, req.GetFilter()); err != nil {
			return 0, 0, status.Errorf(codes.InvalidArgument, "page_token: %v", err)
		}
	}
	return size, after, nil
}

type pageToken struct {
	V      int    `json:"v"`
	Parent string `json:"p"`
	Filter string `json:"f"`
	After  uint64 `json:"a"`
}

func encodePageToken(parent, filter string, after uint64) string {
	b, _ := json.Marshal(pageToken{V: 1, Parent: parent, Filter: filter, After: after})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodePageToken(tok, parent, filter string) (uint64, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return 0, fmt.Errorf("malformed page token")
	}
	var pt pageToken
	if err := json.Unmarshal(b, &pt); err != nil || pt.V != 1 {
		return 0, fmt.Errorf("malformed page token")
	}
	if pt.Parent != parent || pt.Filter != filter {
		return 0, fmt.Errorf("page token does not match the request's name and filter")
	}
	return pt.After, nil
}
