package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"testing"
	"time"

	contactcenterinsightspb "cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	"github.com/googleapis/gax-go/v2"
	"github.com/issuemodels/durable-lro/insightsclient"
	"github.com/issuemodels/durable-lro/insightstest"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func TestRunServesAndShutsDown(t *testing.T) {
	addr, statusAddr := freeAddr(t), freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{
			"-addr", addr, "-status-addr", statusAddr,
			"-time-scale", "600", "-training-time", "uniform:1m-2m",
			"-fault", "DeployIssueModel:PERMISSION_DENIED:1",
			"-latency", "GetIssueModel:1ms:1",
			"-log-level", "warn", "-seed", "3",
		})
	}()
	url := "http://" + statusAddr + "/status"
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get("http://" + statusAddr + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("emulator did not come up: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}

	t.Setenv(insightsclient.EmulatorHostEnv, addr)
	c, err := insightsclient.New(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const parent = "projects/p/locations/us-central1"
	op, err := c.CreateIssueModel(ctx, &contactcenterinsightspb.CreateIssueModelRequest{
		Parent: parent, IssueModel: &contactcenterinsightspb.IssueModel{DisplayName: "m"}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := op.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetIssueModel(ctx, &contactcenterinsightspb.GetIssueModelRequest{Name: m.GetName()}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DeployIssueModel(ctx, &contactcenterinsightspb.DeployIssueModelRequest{Name: m.GetName()}, gax.WithRetry(nil))
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("deploy: %v", err)
	}

	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	var st insightstest.Stats
	err = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if st.ModelsCreated[parent] != 1 || st.Operations["succeeded"] != 1 || st.Faults["DeployIssueModel"] != 1 || st.Faults["GetIssueModel"] != 1 {
		t.Fatalf("status: %+v", st)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after shutdown")
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-cancel-mode", "sometimes"},
		{"-training-time", "soon"},
		{"-fault", "x"},
		{"-latency", "GetOperation:x:1"},
		{"-fail-training-rate", "2"},
		{"-time-scale", "0"},
		{"-log-level", "loud"},
	} {
		if err := run(context.Background(), append(args, "-status-addr", "", "-addr", "127.0.0.1:0")); err == nil {
			t.Errorf("run(%v) succeeded", args)
		}
	}
}
