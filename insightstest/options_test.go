package insightstest

import (
	"strings"
	"testing"

	contactcenterinsightspb "cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	longrunningpb "cloud.google.com/go/longrunning/autogen/longrunningpb"
)

// A negative quota was "unlimited" once; now it is an error that names Unlimited.
func TestNegativeQuotaRejected(t *testing.T) {
	for _, opts := range []Options{
		{RequestsPerMinute: -1}, {MaxConcurrentCreates: -1}, {MaxModels: -1}, {MaxDeployed: -5},
	} {
		srv, err := NewServer(opts)
		if err == nil {
			srv.Close()
			t.Errorf("NewServer(%+v) succeeded", opts)
		} else if !strings.Contains(err.Error(), "Unlimited") {
			t.Errorf("NewServer(%+v): %v does not say what to use instead", opts, err)
		}
	}
}

func TestUnlimitedQuotas(t *testing.T) {
	e := newEnv(t, Options{MaxConcurrentCreates: Unlimited, MaxModels: Unlimited, MaxDeployed: Unlimited})
	for range DefaultMaxModels + 1 {
		e.create(t, parent, "m") // all training at once, more than the default model count
	}
	if n := len(e.srv.Models(parent)); n != DefaultMaxModels+1 {
		t.Fatalf("%d models", n)
	}
}

// Instant changes are done at the first read, without the clock moving.
func TestInstantChanges(t *testing.T) {
	e := newEnv(t, Options{DeployTime: Instant, UndeployTime: Instant, DeleteTime: Instant})
	name := e.trained(t, parent, "m").GetName()
	done := func(op interface{ Name() string }, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.client.LROClient.GetOperation(e.ctx, &longrunningpb.GetOperationRequest{Name: op.Name()}, noRetry)
		if err != nil || !got.GetDone() || got.GetError() != nil {
			t.Fatalf("operation %v, %v: want done without error", got, err)
		}
	}
	dop, err := e.client.DeployIssueModel(e.ctx, &contactcenterinsightspb.DeployIssueModelRequest{Name: name}, noRetry)
	done(dop, err)
	e.wantState(t, name, contactcenterinsightspb.IssueModel_DEPLOYED)
	uop, err := e.client.UndeployIssueModel(e.ctx, &contactcenterinsightspb.UndeployIssueModelRequest{Name: name}, noRetry)
	done(uop, err)
	delop, err := e.client.DeleteIssueModel(e.ctx, &contactcenterinsightspb.DeleteIssueModelRequest{Name: name}, noRetry)
	done(delop, err)
	// Each kind's metadata names its request (the handles hold the first reply: no end time yet).
	if md, err := dop.Metadata(); err != nil || md.GetRequest().GetName() != name || md.GetCreateTime() == nil {
		t.Errorf("deploy metadata %v, %v", md, err)
	}
	if md, err := uop.Metadata(); err != nil || md.GetRequest().GetName() != name || md.GetCreateTime() == nil {
		t.Errorf("undeploy metadata %v, %v", md, err)
	}
	if md, err := delop.Metadata(); err != nil || md.GetRequest().GetName() != name || md.GetCreateTime() == nil {
		t.Errorf("delete metadata %v, %v", md, err)
	}
	if n := len(e.srv.Models(parent)); n != 0 {
		t.Fatalf("%d models left after an instant delete", n)
	}
}
