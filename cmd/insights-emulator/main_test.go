package main

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	contactcenterinsights "cloud.google.com/go/contactcenterinsights/apiv1"
	contactcenterinsightspb "cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"github.com/googleapis/gax-go/v2"
	"github.com/issuemodels/durable-lro/insightsclient"
	"github.com/issuemodels/durable-lro/insightstest"
	"github.com/issuemodels/durable-lro/internal/testkit"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestRunServesAndShutsDown(t *testing.T) {
	addr, statusAddr := testkit.FreeAddr(t), testkit.FreeAddr(t)
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
			"-finished-trainings", "projects/p/locations/us-central1=25",
		})
	}()
	url := "http://" + statusAddr + "/status"
	waitHealthy(t, statusAddr)

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

	checkSeededHistory(t, ctx, c, parent, op.Name())
	checkStatus(t, url, parent)

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

// waitHealthy waits for the emulator's status server to answer.
func waitHealthy(t *testing.T, statusAddr string) {
	t.Helper()
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
}

// checkSeededHistory checks the location's history: 25 finished trainings of -training-time's
// lengths, and ours (own).
func checkSeededHistory(t *testing.T, ctx context.Context, c *contactcenterinsights.Client, parent, own string) {
	t.Helper()
	it := c.LROClient.ListOperations(ctx, &longrunningpb.ListOperationsRequest{Name: parent})
	finished := 0
	for _, op := range testkit.All(t, it.Next) {
		md := &contactcenterinsightspb.CreateIssueModelMetadata{}
		if err := op.GetMetadata().UnmarshalTo(md); err != nil {
			t.Fatal(err)
		}
		d := md.GetEndTime().AsTime().Sub(md.GetCreateTime().AsTime())
		if op.GetName() != own && !op.GetDone() || d < time.Minute || d > 2*time.Minute || op.GetName() != own && md.GetCreateTime().AsTime().After(time.Now().Add(-time.Hour)) {
			t.Errorf("history operation %s: done %v, duration %s, created %s", op.GetName(), op.GetDone(), d, md.GetCreateTime().AsTime())
		}
		finished++
	}
	if finished != 26 {
		t.Errorf("ListOperations: %d operations, want 25 seeded + 1", finished)
	}
}

// checkStatus checks /status counted the model, the operation and both injected faults.
func checkStatus(t *testing.T, url, parent string) {
	t.Helper()
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
		{"-finished-trainings", "projects/p=3"},
		{"-finished-trainings", "projects/p/locations/l=0"},
	} {
		if err := run(context.Background(), append(args, "-status-addr", "", "-addr", "127.0.0.1:0")); err == nil {
			t.Errorf("run(%v) succeeded", args)
		}
	}
}

// A busy gRPC or status address fails run at once, without serving.
func TestRunReportsBusyAddresses(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	busy := l.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // run would serve until ctx is done if it started
	for _, args := range [][]string{
		{"-addr", busy, "-status-addr", ""},
		{"-addr", "127.0.0.1:0", "-status-addr", busy},
	} {
		err := run(ctx, append(args, "-log-level", "error"))
		if !errors.Is(err, syscall.EADDRINUSE) {
			t.Errorf("run(%v) = %v, want an address-in-use error", args, err)
		}
	}
}

// The flags keep their meaning: 0 is the default, a negative limit is no
// limit and a 0 duration is instant.
func TestFlagsToOptions(t *testing.T) {
	f, err := parseFlags([]string{"-rpm", "-1", "-max-concurrent-creates", "0", "-max-models", "-1",
		"-max-deployed", "7", "-deploy-time", "0", "-undeploy-time", "-1s", "-fault", "GetOperation:UNAVAILABLE:0.5",
		"-latency", "GetOperation:1s:1", "-lost-reply-rate", "0.1"})
	if err != nil {
		t.Fatal(err)
	}
	opts, faults, err := f.options()
	if err != nil {
		t.Fatal(err)
	}
	if opts.RequestsPerMinute != insightstest.Unlimited || opts.MaxConcurrentCreates != 0 ||
		opts.MaxModels != insightstest.Unlimited || opts.MaxDeployed != 7 {
		t.Errorf("limits: rpm %d, creates %d, models %d, deployed %d", opts.RequestsPerMinute,
			opts.MaxConcurrentCreates, opts.MaxModels, opts.MaxDeployed)
	}
	if opts.DeployTime != insightstest.Instant || opts.UndeployTime != insightstest.Instant ||
		opts.DeleteTime != insightstest.DefaultDeleteTime {
		t.Errorf("durations: %v %v %v", opts.DeployTime, opts.UndeployTime, opts.DeleteTime)
	}
	// GetOperation first: its latency, then its error; then the lost replies of the mutating methods.
	if len(faults) != 1+len(insightstest.MutatingMethods) || faults[0].method != "GetOperation" ||
		len(faults[0].faults) != 2 || faults[0].faults[0].Latency != time.Second || faults[0].faults[1].Code != codes.Unavailable {
		t.Fatalf("faults: %+v", faults)
	}
	for i, m := range insightstest.MutatingMethods {
		if mf := faults[i+1]; mf.method != m || len(mf.faults) != 1 || !mf.faults[0].LostReplyAfterCommit {
			t.Errorf("faults[%d] = %+v, want a lost reply on %s", i+1, mf, m)
		}
	}
	srv, err := insightstest.NewServer(opts)
	if err != nil {
		t.Fatalf("the options the flags give: %v", err)
	}
	srv.Close()
}

func TestPipelineFlagsSeedTheFakeCloudStorage(t *testing.T) {
	f, err := parseFlags([]string{"-gcs-transcripts", "gs://acme-chats/nov=3", "-gcs-bucket", "acme-models", "-min-training-conversations", "2", "-ingest-time", "0"})
	if err != nil {
		t.Fatal(err)
	}
	opts, _, err := f.options()
	if err != nil {
		t.Fatal(err)
	}
	if len(opts.Objects) != 3 || len(opts.Buckets) != 1 || opts.MinTrainingConversations != 2 || opts.IngestTime != insightstest.Instant {
		t.Errorf("options = %+v", opts)
	}
	if _, ok := opts.Objects["gs://acme-chats/nov/conversation-00001.json"]; !ok {
		t.Errorf("objects = %v", opts.Objects)
	}
	f, _ = parseFlags([]string{"-gcs-transcripts", "acme=x"})
	if _, _, err := f.options(); err == nil {
		t.Error("a malformed -gcs-transcripts was accepted")
	}
}
