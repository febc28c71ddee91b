package insightstest

import (
	"context"
	"testing"
	"time"

	contactcenterinsights "cloud.google.com/go/contactcenterinsights/apiv1"
	contactcenterinsightspb "cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	longrunningpb "cloud.google.com/go/longrunning/autogen/longrunningpb"
	"github.com/googleapis/gax-go/v2"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/issuemodels/durable-lro/insights"
)

// parent and parent2 are the locations the tests work in: one served by the global endpoint,
// one by a regional endpoint. TestSuiteOnOtherRegions runs the tests again with others.
var (
	parent  = "projects/p1/locations/us-central1"
	parent2 = "projects/p1/locations/europe-west1"
)

// noRetry disables the client's own retries so a test sees raw errors.
var noRetry = gax.WithRetry(nil)

type env struct {
	srv    *Server
	client *contactcenterinsights.Client
	clock  *FakeClock
	ctx    context.Context
}

func newEnv(t *testing.T, opts Options) *env {
	t.Helper()
	var fc *FakeClock
	if opts.Clock == nil {
		fc = NewFakeClock(time.Time{})
		opts.Clock = fc
	}
	if opts.Logger == nil {
		opts.Logger = zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel))
	}
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	srv, err := NewServer(opts)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	client, err := contactcenterinsights.NewClient(ctx, routedOptions(srv)...)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() { client.Close() })
	return &env{srv: srv, client: client, clock: fc, ctx: ctx}
}

func createReq(p, display string) *contactcenterinsightspb.CreateIssueModelRequest {
	return &contactcenterinsightspb.CreateIssueModelRequest{
		Parent: p,
		IssueModel: &contactcenterinsightspb.IssueModel{
			DisplayName: display,
			InputDataConfig: &contactcenterinsightspb.IssueModel_InputDataConfig{
				//lint:ignore SA1019 medium is deprecated in favour of the filter, but the REST API still accepts and returns it
				Medium: contactcenterinsightspb.Conversation_CHAT,
				Filter: `medium="CHAT"`,
			},
		},
	}
}

func (e *env) create(t *testing.T, p, display string) *contactcenterinsights.CreateIssueModelOperation {
	t.Helper()
	op, err := e.client.CreateIssueModel(e.ctx, createReq(p, display), noRetry)
	if err != nil {
		t.Fatalf("CreateIssueModel: %v", err)
	}
	return op
}

// trained creates a model and finishes its training.
func (e *env) trained(t *testing.T, p, display string) *contactcenterinsightspb.IssueModel {
	t.Helper()
	op := e.create(t, p, display)
	e.clock.Advance(DefaultTrainingTime)
	m, err := op.Poll(e.ctx, noRetry)
	if err != nil || m == nil {
		t.Fatalf("Poll after training: model=%v err=%v", m, err)
	}
	return m
}

func (e *env) state(t *testing.T, name string) contactcenterinsightspb.IssueModel_State {
	t.Helper()
	m, err := e.client.GetIssueModel(e.ctx, &contactcenterinsightspb.GetIssueModelRequest{Name: name}, noRetry)
	if err != nil {
		t.Fatalf("GetIssueModel(%s): %v", name, err)
	}
	return m.GetState()
}

// wantState fails the test unless the model name is in state want.
func (e *env) wantState(t *testing.T, name string, want contactcenterinsightspb.IssueModel_State) {
	t.Helper()
	if s := e.state(t, name); s != want {
		t.Fatalf("%s: state %v, want %v", name, s, want)
	}
}

func (e *env) listOps(t *testing.T, p, filter string, pageSize int32) ([]*longrunningpb.Operation, error) {
	t.Helper()
	it := e.client.ListOperations(e.ctx, &longrunningpb.ListOperationsRequest{Name: p, Filter: filter, PageSize: pageSize}, noRetry)
	var out []*longrunningpb.Operation
	for {
		op, err := it.Next()
		if err == iterator.Done {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, op)
	}
}

func wantCode(t *testing.T, err error, want codes.Code) {
	t.Helper()
	if got := status.Code(err); got != want {
		t.Fatalf("got code %v (err %v), want %v", got, err, want)
	}
}

func (e *env) cancel(name string) error {
	return e.client.CancelOperation(e.ctx, &longrunningpb.CancelOperationRequest{Name: name}, noRetry)
}

// routedOptions point a client at srv that presents, on every call, the :authority of Google's
// endpoint for the location the request names (a bare host:port when it names none or one
// without an endpoint), as a client per location would: the tests' calls meet the emulator's
// endpoint check in every location they use.
func routedOptions(srv *Server) []option.ClientOption {
	return append(srv.ClientOptions(), option.WithGRPCDialOption(grpc.WithChainUnaryInterceptor(
		func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			if endpoint, ok := insights.EndpointOf(insights.LocationOf(resourceOf(req))); ok {
				opts = append(opts, grpc.CallAuthority(endpoint+":443"))
			}
			return invoker(ctx, method, req, reply, cc, opts...)
		})))
}
