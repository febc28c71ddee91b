package insightstest

import (
	"testing"
	"time"

	contactcenterinsightspb "cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	longrunningpb "cloud.google.com/go/longrunning/autogen/longrunningpb"
)

func TestOperationRecordsAndCallsPerSecond(t *testing.T) {
	e := newEnv(t, Options{
		MaxConcurrentCreates: -1,
		TrainingTimeFor: func(req *contactcenterinsightspb.CreateIssueModelRequest) time.Duration {
			if req.GetIssueModel().GetDisplayName() == "long" {
				return time.Hour
			}
			return 10 * time.Minute
		},
	})
	create := func(name string) string {
		t.Helper()
		op, err := e.client.CreateIssueModel(e.ctx, &contactcenterinsightspb.CreateIssueModelRequest{
			Parent: parent, IssueModel: &contactcenterinsightspb.IssueModel{DisplayName: name}}, noRetry)
		if err != nil {
			t.Fatal(err)
		}
		return op.Name()
	}
	get := func(name string) *longrunningpb.Operation {
		t.Helper()
		op, err := e.client.LROClient.GetOperation(e.ctx, &longrunningpb.GetOperationRequest{Name: name}, noRetry)
		if err != nil {
			t.Fatal(err)
		}
		return op
	}
	start := e.clock.Now()
	short, long := create("short"), create("long")
	get(short)
	e.clock.Advance(15 * time.Minute) // short ended 5 minutes ago
	if !get(short).GetDone() || get(long).GetDone() {
		t.Fatal("short should be done, long not")
	}
	get(short) // a second done answer does not move FirstDoneServed
	e.clock.Advance(time.Minute)
	get(short)

	recs := e.srv.OperationRecords(parent)
	if len(recs) != 2 || recs[0].Name != short || recs[1].Name != long {
		t.Fatalf("records = %+v", recs)
	}
	r := recs[0]
	if r.Kind != "create" || r.DisplayName != "short" || !r.Done || r.GetOperationCalls != 4 ||
		!r.CreateTime.Equal(start) || !r.EndTime.Equal(start.Add(10*time.Minute)) ||
		!r.FirstDoneServed.Equal(start.Add(15*time.Minute)) {
		t.Errorf("short record = %+v", r)
	}
	r = recs[1]
	if r.DisplayName != "long" || r.Done || r.GetOperationCalls != 1 || !r.FirstDoneServed.IsZero() ||
		!r.EndTime.Equal(start.Add(time.Hour)) {
		t.Errorf("long record = %+v", r)
	}
	if got := e.srv.OperationRecords("projects/other/locations/x"); len(got) != 0 {
		t.Errorf("other parent: %+v", got)
	}
	if got := e.srv.OperationRecords(""); len(got) != 2 {
		t.Errorf("all parents: %d records", len(got))
	}

	if calls := sumCalls(e.srv.CallsPerSecond("GetOperation", "p1")); calls != 5 {
		t.Errorf("GetOperation calls per second sum to %d, want 5", calls)
	}
	if got := e.srv.CallsPerSecond("GetOperation", "nope"); len(got) != 0 {
		t.Errorf("other project: %+v", got)
	}
	if got := e.srv.CallsPerSecond("CreateIssueModel", ""); sumCalls(got) != 2 {
		t.Errorf("CreateIssueModel per second = %+v", got)
	}
}

func sumCalls(s []SecondCount) int64 {
	var n int64
	for i, c := range s {
		if i > 0 && c.Second <= s[i-1].Second {
			panic("CallsPerSecond is not in time order")
		}
		n += c.Calls
	}
	return n
}
