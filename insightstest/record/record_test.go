package record_test

import (
	"context"
	"testing"
	"time"

	contactcenterinsights "cloud.google.com/go/contactcenterinsights/apiv1"
	"cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"github.com/googleapis/gax-go/v2"
	"github.com/issuemodels/durable-lro/insightstest"
	"github.com/issuemodels/durable-lro/insightstest/record"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

const parent = "projects/p1/locations/us-central1"

var noRetry = gax.WithRetry(nil)

// start serves an emulator on a FakeClock with a Recorder installed, and a
// client on it.
func start(t *testing.T, opts insightstest.Options) (*record.Recorder, *contactcenterinsights.Client, *insightstest.FakeClock) {
	t.Helper()
	clock := insightstest.NewFakeClock(time.Time{})
	rec := record.New(clock)
	opts.Clock, opts.Interceptors, opts.Seed = clock, []grpc.UnaryServerInterceptor{rec.Intercept}, 1
	srv, err := insightstest.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	client, err := contactcenterinsights.NewClient(context.Background(), srv.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return rec, client, clock
}

func TestOperationsAndCallsPerSecond(t *testing.T) {
	rec, client, clock := start(t, insightstest.Options{
		MaxConcurrentCreates: insightstest.Unlimited,
		RequestsPerMinute:    7, // the eighth call is rejected
		TrainingTimeFor: func(req *contactcenterinsightspb.CreateIssueModelRequest) time.Duration {
			if req.GetIssueModel().GetDisplayName() == "long" {
				return time.Hour
			}
			return 10 * time.Minute
		},
	})
	ctx := t.Context()
	create := func(name string) string {
		t.Helper()
		op, err := client.CreateIssueModel(ctx, &contactcenterinsightspb.CreateIssueModelRequest{
			Parent: parent, IssueModel: &contactcenterinsightspb.IssueModel{DisplayName: name}}, noRetry)
		if err != nil {
			t.Fatal(err)
		}
		return op.Name()
	}
	get := func(name string) (*longrunningpb.Operation, error) {
		return client.LROClient.GetOperation(ctx, &longrunningpb.GetOperationRequest{Name: name}, noRetry)
	}
	mustGet := func(name string) *longrunningpb.Operation {
		t.Helper()
		op, err := get(name)
		if err != nil {
			t.Fatal(err)
		}
		return op
	}
	start := clock.Now()
	short, long := create("short"), create("long")
	mustGet(short)
	clock.Advance(15 * time.Minute) // short ended 5 minutes ago
	if !mustGet(short).GetDone() || mustGet(long).GetDone() {
		t.Fatal("short should be done, long not")
	}
	mustGet(short) // a second done answer does not move FirstDoneServed
	clock.Advance(time.Minute)
	mustGet(short)
	// Seven calls so far: the eighth is rate limited, counted per second but not answered.
	if _, err := get(short); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("eighth call: %v, want RESOURCE_EXHAUSTED", err)
	}

	recs := rec.Operations(parent)
	if len(recs) != 2 || recs[0].Name != short || recs[1].Name != long {
		t.Fatalf("records = %+v", recs)
	}
	r := recs[0]
	if r.Kind != "create" || r.Parent != parent || r.DisplayName != "short" || r.GetOperationCalls != 4 ||
		!r.CreateTime.Equal(start) || !r.EndTime.Equal(start.Add(10*time.Minute)) ||
		!r.FirstDoneServed.Equal(start.Add(15*time.Minute)) {
		t.Errorf("short record = %+v", r)
	}
	r = recs[1]
	if r.DisplayName != "long" || r.GetOperationCalls != 1 || !r.FirstDoneServed.IsZero() || !r.EndTime.IsZero() {
		t.Errorf("long record = %+v", r)
	}
	if got := rec.Operations("projects/other/locations/x"); len(got) != 0 {
		t.Errorf("other parent: %+v", got)
	}
	if got := rec.Operations(""); len(got) != 2 {
		t.Errorf("all parents: %d records", len(got))
	}

	checkCallCounts(t, rec)
}

// TestDeployKind: a deploy is recorded with its kind from its first reply.
func TestDeployKind(t *testing.T) {
	rec, client, clock := start(t, insightstest.Options{})
	ctx := t.Context()
	op, err := client.CreateIssueModel(ctx, &contactcenterinsightspb.CreateIssueModelRequest{
		Parent: parent, IssueModel: &contactcenterinsightspb.IssueModel{DisplayName: "m"}}, noRetry)
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(insightstest.DefaultTrainingTime)
	m, err := op.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.DeployIssueModel(ctx, &contactcenterinsightspb.DeployIssueModelRequest{Name: m.GetName()}, noRetry); err != nil {
		t.Fatal(err)
	}
	recs := rec.Operations(parent)
	if len(recs) != 2 || recs[0].Kind != "create" || recs[1].Kind != "deploy" || recs[1].DisplayName != "" {
		t.Fatalf("records = %+v", recs)
	}
}

// checkCallCounts checks the counts of TestOperationsAndCallsPerSecond's calls: 2 creations and
// 6 polls of project p1, the last refused.
func checkCallCounts(t *testing.T, rec *record.Recorder) {
	t.Helper()
	if calls := sumCalls(t, rec.CallsPerSecond("GetOperation", "p1")); calls != 6 {
		t.Errorf("GetOperation calls per second sum to %d, want 6 (the rejected one too)", calls)
	}
	if got := rec.CallsPerSecond("GetOperation", "nope"); len(got) != 0 {
		t.Errorf("other project: %+v", got)
	}
	if got := rec.CallsPerSecond("CreateIssueModel", ""); sumCalls(t, got) != 2 {
		t.Errorf("CreateIssueModel per second = %+v", got)
	}
	all := rec.AllCallsPerSecond("p1")
	if n := sumCalls(t, all); n != 8 {
		t.Errorf("all calls of p1 per second sum to %d, want 8 (2 creations, 6 polls with the refused one)", n)
	}
	if peak := record.PeakWindow(all, 1_000_000); peak != 8 {
		t.Errorf("PeakWindow over everything = %d, want 8", peak)
	}
	if peak := record.PeakWindow([]record.SecondCount{{Second: 1, Calls: 2}, {Second: 2, Calls: 3}, {Second: 5, Calls: 4}}, 2); peak != 5 {
		t.Errorf("PeakWindow of 2 s = %d, want 5 (seconds 1 and 2)", peak)
	}
	if rec.Refused("p1") != 1 || rec.Refused("") != 1 || rec.Refused("nope") != 0 {
		t.Errorf("refused: p1 %d, all %d, other %d; want 1, 1, 0", rec.Refused("p1"), rec.Refused(""), rec.Refused("nope"))
	}
}

func sumCalls(t *testing.T, s []record.SecondCount) int64 {
	t.Helper()
	var n int64
	for i, c := range s {
		if i > 0 && c.Second <= s[i-1].Second {
			t.Fatalf("CallsPerSecond is not in time order: %+v", s)
		}
		n += c.Calls
	}
	return n
}
