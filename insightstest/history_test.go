package insightstest

import (
	"testing"
	"time"

	contactcenterinsightspb "cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	longrunningpb "cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/api/iterator"
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
		if n < 1000 {
			t.Fatalf("metadata echoes trainingConversationsCount %d, want the server's count (>= 1000)", n)
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
	it := e.client.ListOperations(e.ctx, &longrunningpb.ListOperationsRequest{Name: parent, Filter: "done=true"}, noRetry)
	var got []time.Duration
	for {
		op, err := it.Next()
		if err == iterator.Done {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
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
