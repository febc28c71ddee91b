package insightstest

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand"
	"time"

	"cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	"go.uber.org/zap"
)

// DataSizeTrainingTime is a training-time model (Options.TrainingTimeFor) in which a training's
// length follows its data: median × (conversations / atConversations), times lognormal noise of
// the given sigma. The conversations are the request's trainingConversationsCount as the server
// filled it in; the noise is drawn from seed, the display name and the filter, so the same request
// takes the same time in every location (side-by-side benchmarks see the same operations). An
// assumption about Google's service, not a measurement of it: insightstest/README.md.
func DataSizeTrainingTime(median time.Duration, atConversations int64, sigma float64, seed int64) func(*contactcenterinsightspb.CreateIssueModelRequest) time.Duration {
	return func(req *contactcenterinsightspb.CreateIssueModelRequest) time.Duration {
		in := req.GetIssueModel()
		n := in.GetInputDataConfig().GetTrainingConversationsCount()
		h := fnv.New64a()
		fmt.Fprintf(h, "%d/%s/%s", seed, in.GetDisplayName(), in.GetInputDataConfig().GetFilter())
		z := rand.New(rand.NewSource(int64(h.Sum64()))).NormFloat64()
		return time.Duration(float64(median) * float64(n) / float64(atConversations) * math.Exp(sigma*z)).Round(time.Second)
	}
}

// FinishedTraining is a CreateIssueModel that ended before the emulator started: a location's
// history, as a project that has trained before has one.
type FinishedTraining struct {
	// Request is what was asked; its trainingConversationsCount is echoed as given.
	Request *contactcenterinsightspb.CreateIssueModelRequest
	// Duration is how long the training took; EndedAgo how long before now it ended.
	Duration, EndedAgo time.Duration
}

// SeedFinishedTrainings adds done, successful CreateIssueModel operations to parent's operation
// list (ListOperations returns them with their createTime, endTime and request), without models:
// those have since been deleted. They are not counted in Stats.
func (s *Server) SeedFinishedTrainings(parent string, trainings []FinishedTraining) error {
	if _, _, ok := parseParent(parent); !ok {
		return fmt.Errorf("insightstest: SeedFinishedTrainings: %q is not projects/{project}/locations/{location}", parent)
	}
	now := s.lockSettled()
	defer s.mu.Unlock()
	for _, t := range trainings {
		if t.Request.GetIssueModel() == nil || t.Duration < 0 || t.EndedAgo < 0 {
			return fmt.Errorf("insightstest: SeedFinishedTrainings: want a request with an issue model and non-negative durations")
		}
		req := echoedRequest(t.Request, t.Request.GetIssueModel().GetInputDataConfig().GetTrainingConversationsCount())
		req.Parent = parent
		end := now.Add(-t.EndedAgo)
		m := newIssueModel(parent+"/issueModels/"+s.nextIDLocked(), req.GetIssueModel(), end.Add(-t.Duration))
		m.InputDataConfig.TrainingConversationsCount = req.GetIssueModel().GetInputDataConfig().GetTrainingConversationsCount()
		finishTraining(m, end, -1)
		op := &operation{
			name: parent + "/operations/" + s.nextIDLocked(), parent: parent, seq: s.seq,
			kind: kindCreate, model: m.Name, req: req,
			createTime: end.Add(-t.Duration), endTime: end, done: true, response: mustAny(m), hidx: -1,
		}
		s.ops[op.name] = op
		s.opsByParent[parent] = append(s.opsByParent[parent], op)
	}
	s.log.Info("seeded finished trainings", zap.String("parent", parent), zap.Int("count", len(trainings)))
	return nil
}
