package insightstest

import (
	"context"
	"strings"
	"testing"

	contactcenterinsights "cloud.google.com/go/contactcenterinsights/apiv1"
	contactcenterinsightspb "cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	longrunningpb "cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/grpc/status"

	"github.com/issuemodels/durable-lro/insights"
)

// rpcCall is one call of every RPC the project makes (and ListConversations), on resources of
// location parent p.
type rpcCall struct {
	method string
	call   func(ctx context.Context, c *contactcenterinsights.Client, p string) error
}

func everyRPC() []rpcCall {
	gcs := &contactcenterinsightspb.ImportIssueModelRequest_GcsSource_{GcsSource: &contactcenterinsightspb.ImportIssueModelRequest_GcsSource{ObjectUri: "gs://acme-models/m.json"}}
	dest := &contactcenterinsightspb.ExportIssueModelRequest_GcsDestination_{GcsDestination: &contactcenterinsightspb.ExportIssueModelRequest_GcsDestination{ObjectUri: "gs://acme-models/m.json"}}
	return []rpcCall{
		{"CreateIssueModel", func(ctx context.Context, c *contactcenterinsights.Client, p string) error {
			return errOf(c.CreateIssueModel(ctx, createReq(p, "m"), noRetry))
		}},
		{"GetIssueModel", func(ctx context.Context, c *contactcenterinsights.Client, p string) error {
			return errOf(c.GetIssueModel(ctx, &contactcenterinsightspb.GetIssueModelRequest{Name: p + "/issueModels/1"}, noRetry))
		}},
		{"ListIssueModels", func(ctx context.Context, c *contactcenterinsights.Client, p string) error {
			return errOf(c.ListIssueModels(ctx, &contactcenterinsightspb.ListIssueModelsRequest{Parent: p}, noRetry))
		}},
		{"DeployIssueModel", func(ctx context.Context, c *contactcenterinsights.Client, p string) error {
			return errOf(c.DeployIssueModel(ctx, &contactcenterinsightspb.DeployIssueModelRequest{Name: p + "/issueModels/1"}, noRetry))
		}},
		{"UndeployIssueModel", func(ctx context.Context, c *contactcenterinsights.Client, p string) error {
			return errOf(c.UndeployIssueModel(ctx, &contactcenterinsightspb.UndeployIssueModelRequest{Name: p + "/issueModels/1"}, noRetry))
		}},
		{"DeleteIssueModel", func(ctx context.Context, c *contactcenterinsights.Client, p string) error {
			return errOf(c.DeleteIssueModel(ctx, &contactcenterinsightspb.DeleteIssueModelRequest{Name: p + "/issueModels/1"}, noRetry))
		}},
		{"IngestConversations", func(ctx context.Context, c *contactcenterinsights.Client, p string) error {
			return errOf(c.IngestConversations(ctx, ingestReq(p, bucket), noRetry))
		}},
		{"BulkAnalyzeConversations", func(ctx context.Context, c *contactcenterinsights.Client, p string) error {
			return errOf(c.BulkAnalyzeConversations(ctx, &contactcenterinsightspb.BulkAnalyzeConversationsRequest{Parent: p, AnalysisPercentage: 100}, noRetry))
		}},
		{"ListConversations", func(ctx context.Context, c *contactcenterinsights.Client, p string) error {
			_, err := c.ListConversations(ctx, &contactcenterinsightspb.ListConversationsRequest{Parent: p}, noRetry).Next()
			return ignoreDone(err)
		}},
		{"ExportIssueModel", func(ctx context.Context, c *contactcenterinsights.Client, p string) error {
			return errOf(c.ExportIssueModel(ctx, &contactcenterinsightspb.ExportIssueModelRequest{Name: p + "/issueModels/1", Destination: dest}, noRetry))
		}},
		{"ImportIssueModel", func(ctx context.Context, c *contactcenterinsights.Client, p string) error {
			return errOf(c.ImportIssueModel(ctx, &contactcenterinsightspb.ImportIssueModelRequest{Parent: p, Source: gcs}, noRetry))
		}},
		{"GetOperation", func(ctx context.Context, c *contactcenterinsights.Client, p string) error {
			return errOf(c.GetOperation(ctx, &longrunningpb.GetOperationRequest{Name: p + "/operations/1"}, noRetry))
		}},
		{"ListOperations", func(ctx context.Context, c *contactcenterinsights.Client, p string) error {
			_, err := c.ListOperations(ctx, &longrunningpb.ListOperationsRequest{Name: p}, noRetry).Next()
			return ignoreDone(err)
		}},
		{"CancelOperation", func(ctx context.Context, c *contactcenterinsights.Client, p string) error {
			return c.CancelOperation(ctx, &longrunningpb.CancelOperationRequest{Name: p + "/operations/1"}, noRetry)
		}},
	}
}

func ignoreDone(err error) error {
	if err == iterator.Done {
		return nil
	}
	return err
}

func clientWith(t *testing.T, e *env, opts []option.ClientOption) *contactcenterinsights.Client {
	t.Helper()
	c, err := contactcenterinsights.NewClient(e.ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestWrongEndpointRefusesEveryRPC: a client that addresses an endpoint of Google's (its
// :authority) is refused, on every RPC, a resource of a location that endpoint does not serve,
// before anything happens; the message names the location and the endpoint to call.
func TestWrongEndpointRefusesEveryRPC(t *testing.T) {
	e := newEnv(t, Options{Objects: Transcripts(bucket, 3), Buckets: []string{"acme-models"}})
	for _, tc := range []struct {
		name, via, location string
	}{
		{"europe-west1 through the global endpoint", "contactcenterinsights.googleapis.com:443", "europe-west1"},
		{"us-central1 through europe-west1's", "europe-west1-contactcenterinsights.googleapis.com:443", "us-central1"},
		{"asia-south1 through eu's, no port", "eu-contactcenterinsights.googleapis.com", "asia-south1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := clientWith(t, e, e.srv.ClientOptionsVia(tc.via))
			want, _ := insights.EndpointOf(tc.location)
			before := e.srv.Stats().WrongEndpoint
			for _, r := range everyRPC() {
				err := r.call(e.ctx, c, "projects/p1/locations/"+tc.location)
				wantCode(t, err, WrongEndpointCode)
				msg := status.Convert(err).Message()
				if !strings.HasPrefix(msg, WrongEndpointMessage) || !strings.Contains(msg, `"`+tc.location+`"`) || !strings.Contains(msg, "call "+want) {
					t.Errorf("%s: message %q does not name the location and %s", r.method, msg, want)
				}
				if got := e.srv.Stats().WrongEndpoint[r.method]; got != before[r.method]+1 {
					t.Errorf("%s: Stats.WrongEndpoint = %d, want %d", r.method, got, before[r.method]+1)
				}
			}
		})
	}
	st := e.srv.Stats()
	if len(st.ModelsCreated) != 0 || len(st.Conversations) != 0 || st.Operations["running"] != 0 {
		t.Errorf("refused calls changed state: %+v", st)
	}
}

// TestEndpointsServeTheirLocations: each endpoint serves its own location on every RPC; a bare
// host:port, as tools dial the emulator, serves every location, even one without an endpoint;
// a host of Google's form that is no endpoint of Google's table is refused.
func TestEndpointsServeTheirLocations(t *testing.T) {
	e := newEnv(t, Options{Objects: Transcripts(bucket, 3), Buckets: []string{"acme-models"}, MaxConcurrentCreates: Unlimited})
	served := func(t *testing.T, c *contactcenterinsights.Client, location string) {
		t.Helper()
		for _, r := range everyRPC() {
			// NOT_FOUND and the like are the handler's answers: the call got through.
			if err := r.call(e.ctx, c, "projects/p1/locations/"+location); strings.HasPrefix(status.Convert(err).Message(), WrongEndpointMessage) {
				t.Errorf("%s in %s: refused: %v", r.method, location, err)
			}
		}
	}
	for _, location := range []string{"us-central1", "europe-west1", "asia-south1", "eu", "australia-southeast1"} {
		t.Run(location, func(t *testing.T) { served(t, clientWith(t, e, e.srv.ClientOptionsFor(location)), location) })
	}
	t.Run("bare host:port", func(t *testing.T) {
		bare := clientWith(t, e, e.srv.ClientOptions())
		for _, location := range []string{"us-central1", "europe-west1", "asia-east1"} {
			served(t, bare, location)
		}
	})
	t.Run("no such endpoint", func(t *testing.T) {
		// asia-east1 has no Insights endpoint; us-central1's is the global one.
		for _, loc := range []string{"asia-east1", "us-central1"} {
			c := clientWith(t, e, e.srv.ClientOptionsVia(loc+"-contactcenterinsights.googleapis.com:443"))
			err := errOf(c.ListIssueModels(e.ctx, &contactcenterinsightspb.ListIssueModelsRequest{Parent: "projects/p1/locations/" + loc}, noRetry))
			wantCode(t, err, WrongEndpointCode)
			if msg := status.Convert(err).Message(); !strings.Contains(msg, "not a Contact Center Insights endpoint") {
				t.Errorf("message %q", msg)
			}
		}
	})
	if st := e.srv.Stats(); st.WrongEndpoint["ListIssueModels"] != 2 || len(st.WrongEndpoint) != 1 {
		t.Errorf("Stats.WrongEndpoint = %v, want only the two refusals", st.WrongEndpoint)
	}
}

// regionalSuite is the emulator's conformance tests of the RPCs the project calls, run again by
// TestSuiteOnOtherRegions in locations served by regional endpoints only.
var regionalSuite = []struct {
	name string
	test func(*testing.T)
}{
	{"CreateAndWait", TestCreateAndWait},
	{"ResumeByName", TestResumeByName},
	{"ListOperationsPagingAndFilter", TestListOperationsPagingAndFilter},
	{"CancelHonor", TestCancelHonor},
	{"CancelHonorRevertsDeploy", TestCancelHonorRevertsDeploy},
	{"CancelUnimplemented", TestCancelUnimplemented},
	{"CancelIgnore", TestCancelIgnore},
	{"OtherOperationsMethodsUnimplemented", TestOtherOperationsMethodsUnimplemented},
	{"QuotaConcurrentCreate", TestQuotaConcurrentCreate},
	{"QuotaMaxModels", TestQuotaMaxModels},
	{"QuotaMaxDeployed", TestQuotaMaxDeployed},
	{"FaultCodes", TestFaultCodes},
	{"FaultLostReplyAfterCommit", TestFaultLostReplyAfterCommit},
	{"BadNames", TestBadNames},
	{"TrainingFailure", TestTrainingFailure},
	{"StateMachine", TestStateMachine},
	{"VisibilityDelayAndTTL", TestVisibilityDelayAndTTL},
	{"Concurrency", TestConcurrency},
	{"SeedFinishedTrainings", TestSeedFinishedTrainings},
	{"IngestFromTheFakeBucketSkipsDuplicates", TestIngestFromTheFakeBucketSkipsDuplicates},
	{"IngestErrorsNameTheResource", TestIngestErrorsNameTheResource},
	{"BulkAnalyzeAndDataDrivenTraining", TestBulkAnalyzeAndDataDrivenTraining},
	{"CancelledIngestAndAnalysisChangeNothing", TestCancelledIngestAndAnalysisChangeNothing},
	// From asia-south1 to us-central1: a promotion across locations, each through its endpoint.
	{"ExportThenImportIntoAnotherProject", TestExportThenImportIntoAnotherProject},
	{"ExportImportErrorsNameTheResource", TestExportImportErrorsNameTheResource},
}

// TestSuiteOnOtherRegions runs the conformance tests with parent in asia-south1 and parent2 in
// the eu multi-region: every call goes through its location's regional endpoint (routedOptions)
// and the emulator checks it, as the tests' usual us-central1 calls go through the global one.
func TestSuiteOnOtherRegions(t *testing.T) {
	defer func(p, p2 string) { parent, parent2 = p, p2 }(parent, parent2)
	parent, parent2 = "projects/p1/locations/asia-south1", "projects/p1/locations/eu"
	for _, tc := range regionalSuite {
		t.Run(tc.name, tc.test)
	}
}
