package insightstest

import (
	"fmt"
	"math"
	"testing"
	"time"

	contactcenterinsightspb "cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
)

// The metadata echoes the request with the conversation count the server filled in, and the
// data-size model makes a training on more conversations take longer.
func TestDataSizeTrainingTime(t *testing.T) {
	model := DataSizeTrainingTime(20*time.Minute, 10000, 0.3, 7)
	e := newEnv(t, Options{MaxConcurrentCreates: Unlimited, TrainingTimeFor: model})
	var counts []int64
	var lengths []time.Duration
	for _, filter := range []string{`medium="CHAT" AND labels.batch="a"`, `medium="CHAT" AND labels.batch="b"`, `medium="CHAT" AND labels.batch="c"`} {
		req := createReq(parent, "m")
		req.IssueModel.InputDataConfig.Filter = filter
		op, err := e.client.CreateIssueModel(e.ctx, req, noRetry)
		if err != nil {
			t.Fatal(err)
		}
		md, err := op.Metadata()
		if err != nil {
			t.Fatal(err)
		}
		n := md.GetRequest().GetIssueModel().GetInputDataConfig().GetTrainingConversationsCount()
		if n != SyntheticTrainingConversations(filter) {
			t.Fatalf("metadata echoes trainingConversationsCount %d, want the server's count %d", n, SyntheticTrainingConversations(filter))
		}
		echoed := echoedRequest(md.GetRequest(), n)
		want := model(echoed)
		pb, _ := e.srv.Operation(op.Name())
		if pb.GetDone() {
			t.Fatal("done at once")
		}
		counts = append(counts, n)
		lengths = append(lengths, want)
		// The same request takes the same time whatever the location.
		other := echoedRequest(md.GetRequest(), n)
		other.Parent = parent2
		if got := model(other); got != want {
			t.Errorf("same request in another location: %s, want %s", got, want)
		}
	}
	if counts[0] == counts[1] && counts[1] == counts[2] {
		t.Fatalf("all filters got %d conversations; want them to differ", counts[0])
	}
	for i, n := range counts {
		// Lognormal noise of sigma 0.3 stays inside ±4 sigma of the trend.
		trend := float64(20*time.Minute) * float64(n) / 10000
		if r := float64(lengths[i]) / trend; r < 0.3 || r > 3.4 {
			t.Errorf("training %d: %s for %d conversations, %.2f x the trend", i, lengths[i], n, r)
		}
	}
}

// Seeded trainings are listed as done CreateIssueModel operations with their times and requests.
func TestSeedFinishedTrainings(t *testing.T) {
	e := newEnv(t, Options{})
	now := e.srv.Clock().Now()
	req := createReq("", "old")
	req.IssueModel.InputDataConfig.TrainingConversationsCount = 4200
	if err := e.srv.SeedFinishedTrainings(parent, []FinishedTraining{
		{Request: req, Duration: 40 * time.Minute, EndedAgo: 24 * time.Hour},
		{Request: req, Duration: 50 * time.Minute, EndedAgo: time.Hour},
	}); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.SeedFinishedTrainings("projects/p1", nil); err == nil {
		t.Error("a bad parent was accepted")
	}
	ops, err := e.listOps(t, parent, "done=true", 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []time.Duration
	for _, op := range ops {
		var md contactcenterinsightspb.CreateIssueModelMetadata
		if err := op.GetMetadata().UnmarshalTo(&md); err != nil {
			t.Fatal(err)
		}
		if op.GetResponse() == nil || op.GetError() != nil {
			t.Errorf("%s: want a successful training", op.GetName())
		}
		if n := md.GetRequest().GetIssueModel().GetInputDataConfig().GetTrainingConversationsCount(); n != 4200 {
			t.Errorf("echoed count %d, want 4200", n)
		}
		if end := md.GetEndTime().AsTime(); end.After(now) {
			t.Errorf("ended at %s, after now %s", end, now)
		}
		got = append(got, md.GetEndTime().AsTime().Sub(md.GetCreateTime().AsTime()))
	}
	if len(got) != 2 || got[0] != 40*time.Minute || got[1] != 50*time.Minute {
		t.Errorf("listed durations %v, want [40m 50m]", got)
	}
	if n := len(e.srv.Models(parent)); n != 0 {
		t.Errorf("%d models, want none (seeded trainings' models are gone)", n)
	}
}

// The synthetic counts are deterministic, inside their bounds, and spread log-uniformly: over
// 1,000 batch filters they cover most of the factor of 100, about half below 5,000.
func TestSyntheticTrainingConversations(t *testing.T) {
	lo, hi, below := int64(math.MaxInt64), int64(0), 0
	for i := range 1000 {
		f := fmt.Sprintf(`medium="CHAT" AND labels.batch="%05d"`, i)
		n := SyntheticTrainingConversations(f)
		if n != SyntheticTrainingConversations(f) {
			t.Fatal("not deterministic")
		}
		if n < SyntheticConversationsMin || n > SyntheticConversationsMax {
			t.Fatalf("%s: %d outside %d..%d", f, n, SyntheticConversationsMin, SyntheticConversationsMax)
		}
		lo, hi = min(lo, n), max(hi, n)
		if n < 5000 {
			below++
		}
	}
	if hi < 50*lo || below < 430 || below > 570 {
		t.Errorf("counts %d..%d, %d of 1,000 below 5,000: want a log-uniform spread", lo, hi, below)
	}
}
