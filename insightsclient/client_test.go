package insightsclient

import (
	"context"
	"testing"
	"time"

	contactcenterinsightspb "cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	"github.com/issuemodels/durable-lro/insightstest"
)

func TestEmulatorOptionsUnset(t *testing.T) {
	t.Setenv(EmulatorHostEnv, "")
	if opts := EmulatorOptions(); opts != nil {
		t.Fatalf("got %d options with %s unset", len(opts), EmulatorHostEnv)
	}
}

// emulatorForTest starts an emulator on a fake clock for the test's life and points
// EmulatorHostEnv at it.
func emulatorForTest(t *testing.T) (*insightstest.Server, *insightstest.FakeClock) {
	t.Helper()
	clock := insightstest.NewFakeClock(time.Time{})
	srv, err := insightstest.NewServer(insightstest.Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	t.Setenv(EmulatorHostEnv, srv.Addr())
	return srv, clock
}

func TestNewWithEmulator(t *testing.T) {
	srv, clock := emulatorForTest(t)
	if n := len(EmulatorOptions()); n != 3 {
		t.Fatalf("got %d emulator options", n)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := New(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const parent = "projects/p/locations/us-central1"
	op, err := c.CreateIssueModel(ctx, &contactcenterinsightspb.CreateIssueModelRequest{
		Parent:     parent,
		IssueModel: &contactcenterinsightspb.IssueModel{DisplayName: "m"},
	})
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour)
	m, err := op.Wait(ctx)
	if err != nil || m.GetState() != contactcenterinsightspb.IssueModel_UNDEPLOYED {
		t.Fatalf("Wait: %v %v", m, err)
	}
	if got := srv.Stats().RPCs["CreateIssueModel"]; got != 1 {
		t.Fatalf("emulator saw %d CreateIssueModel calls", got)
	}
}
