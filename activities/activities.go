// Package activities calls the Contact Center Insights API for the workflows. Each activity is
// one short API call (plus, where a retry could duplicate work, a lookup that makes it
// idempotent); retries and waiting belong to Temporal, so the Google client's own retries are
// switched off on every call.
package activities

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	contactcenterinsights "cloud.google.com/go/contactcenterinsights/apiv1"
	"cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"github.com/googleapis/gax-go/v2"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/issuemodels/durable-lro/insights"
)

// Activities holds the API clients the activities share. workflows.Register registers it (or
// worker.RegisterActivity(&Activities{Client: c}) on a worker of your own); workflows call its
// methods through a typed nil pointer.
type Activities struct {
	// Client, when Clients is nil, serves every location: one explicit client, e.g. of an emulator
	// dialled on a bare host:port (which serves all locations), or of one endpoint you chose.
	Client *contactcenterinsights.Client
	// Clients, when set, gives every call the client of the endpoint that serves the location of
	// the resource it acts on (parent, model or operation name): Google serves each location from
	// its own endpoint and refuses the others' resources. The worker's is an
	// *insightsclient.Regional; a location it does not know fails the activity with a
	// non-retryable InvalidArgument before any call.
	Clients ClientsByLocation
	// APITimeScale is how many seconds of the API's clock pass per second of the worker's: 0 or
	// 1 for the real API (real time); above 1 only for an emulator whose clock runs faster than
	// real time (its -time-scale). EstimateTraining divides the durations it reports, which it
	// reads off the API's timestamps, by it, so that the workflow waits them out in its own time;
	// the pipeline starts divide ListLagGrace, the operation list's lag, by it likewise.
	APITimeScale float64

	// listLagGrace and lookupLimit, when not zero, replace ListLagGrace and
	// maxLookupOperations (tests: export_test.go).
	listLagGrace time.Duration
	lookupLimit  int

	scansMu sync.Mutex
	scans   map[string]locationScan // by location: scanTrainings
}

// ClientsByLocation hands out the client of a location's endpoint; field names the input field
// that carries the resource, for the error of a location without one.
type ClientsByLocation interface {
	For(field, location string) (*contactcenterinsights.Client, error)
}

// clientFor is the client for a call on resource (a parent, model or operation name) that input
// field carries: Clients' for its location, else Client.
func (a *Activities) clientFor(field, resource string) (*contactcenterinsights.Client, error) {
	if a.Clients != nil {
		return a.Clients.For(field, insights.LocationOf(resource))
	}
	if a.Client == nil {
		return nil, errors.New("activities: Activities has neither Client nor Clients")
	}
	return a.Client, nil
}

// clientOf checks resource, the value of input field field, with valid (an InvalidArgument
// before any call) and returns the client for a call on it (clientFor).
func (a *Activities) clientOf(field, resource string, valid func(field, value string) error) (*contactcenterinsights.Client, error) {
	if err := valid(field, resource); err != nil {
		return nil, err
	}
	return a.clientFor(field, resource)
}

// callOn makes one call of the API, call(client, ctx, req), with the client of resource's
// location, resource (the value of input field field) first checked with valid (clientOf); an
// error the API answers is typed for the workflows under method's name (insights.FromAPIError).
func callOn[Q, R any](ctx context.Context, a *Activities, field, resource string, valid func(field, value string) error,
	method string, call func(*contactcenterinsights.Client, context.Context, Q, ...gax.CallOption) (R, error), req Q) (R, error) {
	c, err := a.clientOf(field, resource, valid)
	if err != nil {
		var none R
		return none, err
	}
	resp, err := call(c, ctx, req, noRetry)
	if err != nil {
		return resp, insights.FromAPIError(method, err)
	}
	return resp, nil
}

// noRetry turns off the client library's retries: one layer of retries (Temporal's) is visible
// in history and bounded by the activity's policy, and a hidden retry of a create after a lost
// reply would make a second issue model.
var noRetry = gax.WithRetry(nil)

// CreateSkew is how far before the workflow's own clock an operation's createTime may be and
// still count as ours: it absorbs clock differences between Temporal and Google.
const CreateSkew = 2 * time.Minute

// CreateIssueModelParams is the input of the CreateIssueModel activity.
type CreateIssueModelParams struct {
	Parent     string                  `json:"parent"`
	IssueModel insights.IssueModelSpec `json:"issueModel"`
	// LookFrom, when set, says an earlier attempt may have created the operation without our
	// learning its name (its reply was lost, or its worker died mid-call) and when that attempt
	// was scheduled: an identical creation from then on is adopted instead of creating another.
	LookFrom *time.Time `json:"lookFrom,omitempty"`
	// LookOnly adopts an earlier attempt's operation if there is one but creates nothing
	// (used when the run was cancelled while creating, and while the list may lag).
	LookOnly bool `json:"lookOnly,omitempty"`
}

// CreateIssueModel starts the CreateIssueModel operation and returns its name, through
// startOnce. The API has no request id, so the server cannot deduplicate a retried create. The
// workflow knows when an attempt's outcome is unknown (UNAVAILABLE, DEADLINE_EXCEEDED, a worker
// that died mid-call) and then sets LookFrom: this attempt first adopts a CreateIssueModel
// operation whose metadata.request equals ours (sameCreateRequest) and whose createTime is not
// before LookFrom-CreateSkew. After a definite refusal (e.g. RESOURCE_EXHAUSTED: another
// creation is running in the region) nothing was created and nothing is looked for, so a
// workflow never adopts another workflow's operation because it was refused. The workflow
// waits out the operation list's lag itself (running one attempt per activity); attempts that
// Temporal retries keep startOnce's records as well.
func (a *Activities) CreateIssueModel(ctx context.Context, p CreateIssueModelParams) (StartedOperation, error) {
	if err := insights.ValidateParent("parent", p.Parent); err != nil {
		return StartedOperation{}, err
	}
	if err := p.IssueModel.Validate("issueModel"); err != nil {
		return StartedOperation{}, err
	}
	c, err := a.clientFor("parent", p.Parent)
	if err != nil {
		return StartedOperation{}, err
	}
	req := &contactcenterinsightspb.CreateIssueModelRequest{Parent: p.Parent, IssueModel: p.IssueModel.Proto()}
	var since time.Time
	if p.LookFrom != nil {
		since = *p.LookFrom
	}
	created := a.createdSince(ctx, since)
	known := knownNothing
	if p.LookFrom != nil {
		known = knownMayHaveStarted
	}
	return a.startOnce(ctx, startRequest{
		known:  known,
		method: "CreateIssueModel", parent: p.Parent, lookOnly: p.LookOnly,
		ours: func(op *longrunningpb.Operation) bool {
			md := &contactcenterinsightspb.CreateIssueModelMetadata{}
			return op.GetMetadata().UnmarshalTo(md) == nil && sameCreateRequest(md.GetRequest(), req) && created(md.GetCreateTime())
		},
		start: func() (string, error) { return opName(c.CreateIssueModel(ctx, req, noRetry)) },
	})
}

// FindIssueModelCreation is CreateIssueModel's look-only step: it adopts the operation an
// earlier attempt created since p.LookFrom, if the list shows one, and never creates. It is an
// activity type of its own so that a worker of an earlier release, whose create loop reads an
// empty CreateIssueModel answer as "a cancel's look-up found nothing", cannot replay a history
// that has it: it fails that workflow task as non-deterministic, and a worker of this release
// takes the run.
func (a *Activities) FindIssueModelCreation(ctx context.Context, p CreateIssueModelParams) (StartedOperation, error) {
	if p.LookFrom == nil {
		return StartedOperation{}, insights.InvalidArgument("lookFrom", "is required: it says since when to look")
	}
	p.LookOnly = true
	return a.CreateIssueModel(ctx, p)
}

// sameCreateRequest compares the request an operation's metadata echoes with ours on the fields
// the user sets, tolerating a server that fills in defaults (model type, output-only fields).
func sameCreateRequest(echoed, ours *contactcenterinsightspb.CreateIssueModelRequest) bool {
	e, o := echoed.GetIssueModel(), ours.GetIssueModel()
	sameType := e.GetModelType() == o.GetModelType() ||
		e.GetModelType() == contactcenterinsightspb.IssueModel_MODEL_TYPE_UNSPECIFIED ||
		o.GetModelType() == contactcenterinsightspb.IssueModel_MODEL_TYPE_UNSPECIFIED
	//lint:ignore SA1019 medium is deprecated in favour of the filter, but the REST API still accepts and returns it
	sameMedium := e.GetInputDataConfig().GetMedium() == o.GetInputDataConfig().GetMedium()
	return echoed.GetParent() == ours.GetParent() &&
		e.GetDisplayName() == o.GetDisplayName() &&
		e.GetInputDataConfig().GetFilter() == o.GetInputDataConfig().GetFilter() &&
		sameMedium && sameType &&
		e.GetLanguageCode() == o.GetLanguageCode()
}

// GetOperation reads the operation's current state.
func (a *Activities) GetOperation(ctx context.Context, name string) (insights.Operation, error) {
	op, err := callOn(ctx, a, "operation", name, insights.ValidateOperationName,
		"GetOperation", (*contactcenterinsights.Client).GetOperation, &longrunningpb.GetOperationRequest{Name: name})
	if err != nil {
		return insights.Operation{}, err
	}
	out, err := insights.OperationFromProto(op)
	if err != nil {
		// The server broke the google.longrunning contract: reported as INTERNAL, which the
		// activity's retry policy retries like any server fault (a later read may be whole).
		return out, insights.FromAPIError("GetOperation", status.Error(codes.Internal, err.Error()))
	}
	return out, nil
}

// PollResult is the result of PollOperation.
type PollResult struct {
	Operation insights.Operation `json:"operation"`
	// WorkerPace and NextPollAt were a per-worker poll budget's pacing; they stay zero and are
	// kept so that the other release, which may read them, decodes this result as before.
	WorkerPace time.Duration `json:"minInterval,omitempty"`
	NextPollAt time.Time     `json:"nextPollAt,omitzero"`
}

// PollOperation is GetOperation for the poll loop of the workflows. Its rate, like every other
// API call's, is held by the Temporal server's limits on the task queue (per Google project,
// the activity's fairness key), not by the worker.
func (a *Activities) PollOperation(ctx context.Context, name string) (PollResult, error) {
	if err := insights.ValidateOperationName("operation", name); err != nil {
		return PollResult{}, err
	}
	op, err := a.GetOperation(ctx, name)
	return PollResult{Operation: op}, err
}

// CancelResult says how the server took a cancellation request: without an error, it took it
// (best effort: it may still finish the operation) unless Unimplemented.
type CancelResult struct {
	// Unimplemented: the server does not support cancellation (google.rpc.Code.UNIMPLEMENTED).
	Unimplemented bool `json:"unimplemented,omitempty"`
}

// CancelOperation asks the server to cancel the operation. UNIMPLEMENTED is an answer, not an
// error: the caller keeps polling and reports that the operation could not be cancelled.
func (a *Activities) CancelOperation(ctx context.Context, name string) (CancelResult, error) {
	c, err := a.clientOf("operation", name, insights.ValidateOperationName)
	if err != nil {
		return CancelResult{}, err
	}
	err = c.CancelOperation(ctx, &longrunningpb.CancelOperationRequest{Name: name}, noRetry)
	if status.Code(err) == codes.Unimplemented {
		return CancelResult{Unimplemented: true}, nil
	}
	if err != nil {
		return CancelResult{}, insights.FromAPIError("CancelOperation", err)
	}
	return CancelResult{}, nil
}

// ListOperationsParams is the input of ListOperations; Name is the parent location.
type ListOperationsParams struct {
	Name      string `json:"name"`
	Filter    string `json:"filter,omitempty"`
	PageSize  int32  `json:"pageSize,omitempty"`
	PageToken string `json:"pageToken,omitempty"`
}

// ListOperationsResult is one page of operations.
type ListOperationsResult struct {
	Operations    []insights.Operation `json:"operations"`
	NextPageToken string               `json:"nextPageToken,omitempty"`
}

// ListOperations returns one page of the location's operations.
func (a *Activities) ListOperations(ctx context.Context, p ListOperationsParams) (ListOperationsResult, error) {
	if err := insights.ValidateParent("name", p.Name); err != nil {
		return ListOperationsResult{}, err
	}
	if p.PageSize < 0 || p.PageSize > 1000 {
		return ListOperationsResult{}, insights.InvalidArgument("pageSize", fmt.Sprintf("%d is outside 0..1000", p.PageSize))
	}
	c, err := a.clientFor("name", p.Name)
	if err != nil {
		return ListOperationsResult{}, err
	}
	it := c.ListOperations(ctx, &longrunningpb.ListOperationsRequest{
		Name: p.Name, Filter: p.Filter, PageSize: p.PageSize, PageToken: p.PageToken}, noRetry)
	var out ListOperationsResult
	size := int(p.PageSize)
	if size == 0 {
		size = 50
	}
	var ops []*longrunningpb.Operation
	token, err := iterator.NewPager(it, size, p.PageToken).NextPage(&ops)
	if err != nil {
		return out, insights.FromAPIError("ListOperations", err)
	}
	for _, op := range ops {
		o, _ := insights.OperationFromProto(op)
		out.Operations = append(out.Operations, o)
	}
	out.NextPageToken = token
	return out, nil
}
