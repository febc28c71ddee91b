package insightstest

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"regexp"
	"strings"
	"time"

	contactcenterinsightspb "cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	longrunningpb "cloud.google.com/go/longrunning/autogen/longrunningpb"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

var (
	parentRE    = regexp.MustCompile(`^projects/([^/]+)/locations/([^/]+)$`)
	modelNameRE = regexp.MustCompile(`^(projects/[^/]+/locations/[^/]+)/issueModels/([^/]+)$`)
	opNameRE    = regexp.MustCompile(`^(projects/[^/]+/locations/[^/]+)/operations/([^/]+)$`)
)

// split2 matches s against re, a pattern of two groups, and returns them.
func split2(re *regexp.Regexp, s string) (first, second string, ok bool) {
	m := re.FindStringSubmatch(s)
	if m == nil {
		return "", "", false
	}
	return m[1], m[2], true
}

func parseParent(s string) (project, location string, ok bool) { return split2(parentRE, s) }

func parseModelName(s string) (parent, id string, ok bool) { return split2(modelNameRE, s) }

func parseOperationName(s string) (parent, id string, ok bool) { return split2(opNameRE, s) }

func badParent(field, got string) error {
	return status.Errorf(codes.InvalidArgument, "%s: must be projects/{project}/locations/{location}, got %q", field, got)
}

func badModelName(got string) error {
	return status.Errorf(codes.InvalidArgument,
		"name: must be projects/{project}/locations/{location}/issueModels/{issue_model}, got %q", got)
}

func modelNotFound(name string) error {
	return status.Errorf(codes.NotFound, "Issue model %s not found.", name)
}

// CreateIssueModel starts training. The model resource exists (state
// UNDEPLOYED, no training_stats) from the moment the request is accepted;
// it gets its training stats when the operation succeeds and disappears
// when the training fails or is cancelled.
func (s *Server) CreateIssueModel(ctx context.Context, req *contactcenterinsightspb.CreateIssueModelRequest) (*longrunningpb.Operation, error) {
	parent := req.GetParent()
	if _, _, ok := parseParent(parent); !ok {
		return nil, badParent("parent", parent)
	}
	in := req.GetIssueModel()
	if in == nil {
		return nil, status.Error(codes.InvalidArgument, "issue_model: required")
	}
	if strings.TrimSpace(in.GetDisplayName()) == "" {
		return nil, status.Error(codes.InvalidArgument, "issue_model.display_name: required, must not be empty")
	}

	now := s.lockSettled()
	defer s.mu.Unlock()
	if err := s.creationQuotaLocked(parent); err != nil {
		return nil, err
	}
	analyzed, dataOutcome, err := s.trainingDataLocked(parent, in)
	if err != nil {
		return nil, err
	}
	m := &model{pb: newIssueModel(parent+"/issueModels/"+s.nextIDLocked(), in, now), parent: parent, analyzed: analyzed}
	if analyzed >= 0 {
		m.pb.InputDataConfig.TrainingConversationsCount = analyzed
	}
	// The metadata echoes the request with the conversation count the server filled in, as
	// Google's does; the training-time model sees it too.
	req = echoedRequest(req, m.pb.GetInputDataConfig().GetTrainingConversationsCount())
	outcome, d := s.planTrainingLocked(req)
	if outcome == nil {
		outcome = dataOutcome
	}
	s.models[m.pb.Name] = m
	s.modelsByParent[parent] = append(s.modelsByParent[parent], m)
	s.stats.ModelsCreated[parent]++
	op := s.startOpLocked(parent, kindCreate, m.pb.Name, req, now, d)
	op.outcome = outcome
	m.training = op
	s.log.Info("issue model created", zap.String("model", m.pb.Name), zap.String("display_name", m.pb.DisplayName),
		zap.String("operation", op.name), zap.Duration("training_time", d), zap.Bool("will_fail", outcome != nil))
	return op.toProto(now), nil
}

// creationQuotaLocked checks the concurrent-creation quota, then the model
// count of parent.
func (s *Server) creationQuotaLocked(parent string) error {
	n := 0
	for _, m := range s.modelsByParent[parent] {
		if m.training != nil {
			n++
		}
	}
	if n >= s.maxCreates {
		s.log.Info("quota: concurrent creations", zap.String("parent", parent), zap.Int("limit", s.maxCreates))
		return status.Errorf(codes.ResourceExhausted,
			"Quota exceeded: at most %d concurrent issue model creation(s) per location; %d already running in %s.",
			s.maxCreates, n, parent)
	}
	if len(s.modelsByParent[parent]) >= s.maxModels {
		s.log.Info("quota: issue models", zap.String("parent", parent), zap.Int("limit", s.maxModels))
		return status.Errorf(codes.ResourceExhausted,
			"Quota exceeded: at most %d issue models per location; %s already has %d.",
			s.maxModels, parent, len(s.modelsByParent[parent]))
	}
	return nil
}

// planTrainingLocked decides how an accepted creation's training ends (nil
// for success) and how long it takes.
func (s *Server) planTrainingLocked(req *contactcenterinsightspb.CreateIssueModelRequest) (*status.Status, time.Duration) {
	var outcome *status.Status
	if f := s.trainingOutcome; f != nil {
		if st := f(proto.CloneOf(req)); st != nil && st.Code() != codes.OK {
			outcome = st
		}
	}
	var d time.Duration
	if f := s.trainingTimeFor; f != nil {
		d = f(proto.CloneOf(req))
	} else {
		d = s.trainingTime()
	}
	return outcome, max(d, 0)
}

// echoedRequest is req with the training conversation count filled in.
func echoedRequest(req *contactcenterinsightspb.CreateIssueModelRequest, conversations int64) *contactcenterinsightspb.CreateIssueModelRequest {
	out := proto.CloneOf(req)
	if out.IssueModel.InputDataConfig == nil {
		out.IssueModel.InputDataConfig = &contactcenterinsightspb.IssueModel_InputDataConfig{}
	}
	out.IssueModel.InputDataConfig.TrainingConversationsCount = conversations
	return out
}

// newIssueModel is the resource of a model whose training just started.
func newIssueModel(name string, in *contactcenterinsightspb.IssueModel, now time.Time) *contactcenterinsightspb.IssueModel {
	ts := timestamppb.New(now)
	pb := &contactcenterinsightspb.IssueModel{
		Name:         name,
		DisplayName:  in.GetDisplayName(),
		CreateTime:   ts,
		UpdateTime:   ts,
		State:        contactcenterinsightspb.IssueModel_UNDEPLOYED,
		ModelType:    in.GetModelType(),
		LanguageCode: in.GetLanguageCode(),
		InputDataConfig: &contactcenterinsightspb.IssueModel_InputDataConfig{
			//lint:ignore SA1019 medium is deprecated in favour of the filter, but the REST API still accepts and returns it
			Medium:                     in.GetInputDataConfig().GetMedium(),
			Filter:                     in.GetInputDataConfig().GetFilter(),
			TrainingConversationsCount: SyntheticTrainingConversations(in.GetInputDataConfig().GetFilter()),
		},
	}
	if pb.ModelType == contactcenterinsightspb.IssueModel_MODEL_TYPE_UNSPECIFIED {
		pb.ModelType = contactcenterinsightspb.IssueModel_TYPE_V2
	}
	return pb
}

// Synthetic training conversation counts (where the location has no conversations of its own):
// log-uniform over SyntheticConversationsMin..SyntheticConversationsMax, geometric mean 5,000.
const (
	SyntheticConversationsMin = 500
	SyntheticConversationsMax = 50_000
)

// SyntheticTrainingConversations is the trainingConversationsCount the emulator gives a
// training of this filter in a location without conversations: deterministic (a hash of the
// filter), log-uniform over SyntheticConversationsMin..SyntheticConversationsMax, so that
// filters such as labels.batch="00042" make data sizes that spread over a factor of 100.
func SyntheticTrainingConversations(filter string) int64 {
	h := fnv.New64a()
	h.Write([]byte(filter))
	// splitmix64's finalizer: filters that differ in one character spread evenly.
	x := h.Sum64()
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	u := float64(x>>11) / (1 << 53)
	return int64(math.Round(SyntheticConversationsMin * math.Pow(SyntheticConversationsMax/SyntheticConversationsMin, u)))
}

// finishTraining fills in what a successful training produces.
// analyzed is the number of analyzed conversations the training saw, or -1
// where the location has no conversations (synthetic statistics).
func finishTraining(pb *contactcenterinsightspb.IssueModel, end time.Time, analyzed int64) {
	h := fnv.New64a()
	h.Write([]byte(pb.GetInputDataConfig().GetFilter()))
	sum := h.Sum64()
	if analyzed < 0 {
		total := pb.GetInputDataConfig().GetTrainingConversationsCount()
		analyzed = total - total*int64(sum>>8%30)/100
	}
	issues := 3 + int64(sum>>16%8)
	stats := &contactcenterinsightspb.IssueModelLabelStats{
		AnalyzedConversationsCount: analyzed,
		IssueStats:                 map[string]*contactcenterinsightspb.IssueModelLabelStats_IssueStats{},
	}
	labeled := analyzed * 8 / 10
	var used int64
	for i := int64(0); i < issues; i++ {
		// Weights 1..issues, so issue 1 is the smallest.
		n := labeled * 2 * (i + 1) / (issues * (issues + 1))
		used += n
		issue := fmt.Sprintf("%s/issues/%d", pb.Name, (i+1)*1000+int64(sum>>24%1000))
		stats.IssueStats[issue] = &contactcenterinsightspb.IssueModelLabelStats_IssueStats{
			Issue:                     issue,
			LabeledConversationsCount: n,
			DisplayName:               fmt.Sprintf("Issue %d", i+1),
		}
	}
	stats.UnclassifiedConversationsCount = analyzed - used
	pb.TrainingStats = stats
	pb.IssueCount = issues
	pb.UpdateTime = timestamppb.New(end)
}

func (s *Server) GetIssueModel(ctx context.Context, req *contactcenterinsightspb.GetIssueModelRequest) (*contactcenterinsightspb.IssueModel, error) {
	if _, _, ok := parseModelName(req.GetName()); !ok {
		return nil, badModelName(req.GetName())
	}
	s.lockSettled()
	defer s.mu.Unlock()
	m := s.models[req.GetName()]
	if m == nil {
		return nil, modelNotFound(req.GetName())
	}
	return proto.CloneOf(m.pb), nil
}

func (s *Server) ListIssueModels(ctx context.Context, req *contactcenterinsightspb.ListIssueModelsRequest) (*contactcenterinsightspb.ListIssueModelsResponse, error) {
	if _, _, ok := parseParent(req.GetParent()); !ok {
		return nil, badParent("parent", req.GetParent())
	}
	s.lockSettled()
	defer s.mu.Unlock()
	resp := &contactcenterinsightspb.ListIssueModelsResponse{}
	for _, m := range s.modelsByParent[req.GetParent()] {
		resp.IssueModels = append(resp.IssueModels, proto.CloneOf(m.pb))
	}
	return resp, nil
}

// lookupModelForChangeLocked finds a model that is not training.
func (s *Server) lookupModelForChangeLocked(name, verb string) (*model, error) {
	if _, _, ok := parseModelName(name); !ok {
		return nil, badModelName(name)
	}
	m := s.models[name]
	if m == nil {
		return nil, modelNotFound(name)
	}
	if m.training != nil {
		return nil, status.Errorf(codes.FailedPrecondition,
			"Cannot %s issue model %s: it is still being trained (operation %s).", verb, name, m.training.name)
	}
	return m, nil
}

// change is what a deploy, undeploy or delete does to its model.
type change struct {
	during, after contactcenterinsightspb.IssueModel_State // a delete removes the model instead
	response      func() proto.Message
}

var changes = map[opKind]change{
	kindDeploy: {contactcenterinsightspb.IssueModel_DEPLOYING, contactcenterinsightspb.IssueModel_DEPLOYED,
		func() proto.Message { return &contactcenterinsightspb.DeployIssueModelResponse{} }},
	kindUndeploy: {contactcenterinsightspb.IssueModel_UNDEPLOYING, contactcenterinsightspb.IssueModel_UNDEPLOYED,
		func() proto.Message { return &contactcenterinsightspb.UndeployIssueModelResponse{} }},
	kindDelete: {contactcenterinsightspb.IssueModel_DELETING, contactcenterinsightspb.IssueModel_STATE_UNSPECIFIED,
		func() proto.Message { return &emptypb.Empty{} }},
}

func (s *Server) DeployIssueModel(ctx context.Context, req *contactcenterinsightspb.DeployIssueModelRequest) (*longrunningpb.Operation, error) {
	return s.startChange(kindDeploy, req.GetName(), req, func(m *model) error {
		if m.pb.State != contactcenterinsightspb.IssueModel_UNDEPLOYED {
			return status.Errorf(codes.FailedPrecondition,
				"Cannot deploy issue model %s in state %s: only an UNDEPLOYED model can be deployed.", m.pb.Name, m.pb.State)
		}
		n := 0
		for _, x := range s.modelsByParent[m.parent] {
			if st := x.pb.State; st == contactcenterinsightspb.IssueModel_DEPLOYED || st == contactcenterinsightspb.IssueModel_DEPLOYING {
				n++
			}
		}
		if n >= s.maxDeployed {
			s.log.Info("quota: deployed models", zap.String("parent", m.parent), zap.Int("limit", s.maxDeployed))
			return status.Errorf(codes.ResourceExhausted,
				"Quota exceeded: at most %d deployed issue models per location; %s already has %d deployed or deploying.",
				s.maxDeployed, m.parent, n)
		}
		return nil
	})
}

func (s *Server) UndeployIssueModel(ctx context.Context, req *contactcenterinsightspb.UndeployIssueModelRequest) (*longrunningpb.Operation, error) {
	return s.startChange(kindUndeploy, req.GetName(), req, func(m *model) error {
		if m.pb.State != contactcenterinsightspb.IssueModel_DEPLOYED {
			return status.Errorf(codes.FailedPrecondition,
				"Cannot undeploy issue model %s in state %s: only a DEPLOYED model can be undeployed.", m.pb.Name, m.pb.State)
		}
		return nil
	})
}

func (s *Server) DeleteIssueModel(ctx context.Context, req *contactcenterinsightspb.DeleteIssueModelRequest) (*longrunningpb.Operation, error) {
	return s.startChange(kindDelete, req.GetName(), req, func(m *model) error {
		switch m.pb.State {
		case contactcenterinsightspb.IssueModel_UNDEPLOYED:
			return nil
		case contactcenterinsightspb.IssueModel_DELETING:
			return status.Errorf(codes.FailedPrecondition,
				"Cannot delete issue model %s: it is already being deleted (operation %s).", m.pb.Name, m.busy.name)
		}
		return status.Errorf(codes.FailedPrecondition,
			"Cannot delete issue model %s in state %s: undeploy it first.", m.pb.Name, m.pb.State)
	})
}

// startChange starts a deploy, undeploy or delete of the named model once
// check, called with the server lock held, accepts the model.
func (s *Server) startChange(kind opKind, name string, req proto.Message, check func(*model) error) (*longrunningpb.Operation, error) {
	now := s.lockSettled()
	defer s.mu.Unlock()
	m, err := s.lookupModelForChangeLocked(name, kind.String())
	if err != nil {
		return nil, err
	}
	if err := check(m); err != nil {
		return nil, err
	}
	op := s.startOpLocked(m.parent, kind, m.pb.Name, req, now, s.changeTime[kind])
	op.prevState = m.pb.State
	m.busy = op
	m.pb.State = changes[kind].during
	m.pb.UpdateTime = timestamppb.New(now)
	s.log.Info("issue model state changed", zap.String("model", m.pb.Name), zap.Stringer("state", m.pb.State),
		zap.String("operation", op.name))
	return op.toProto(now), nil
}
