// Package activities calls the Contact Center Insights API for the workflows. Each activity is
// one short API call (plus, where a retry could duplicate work, a lookup that makes it
// idempotent); retries and waiting belong to Temporal, so the Google client's own retries are
// switched off on every call.
package activities

import (
	"context"
	"fmt"
	"time"

	contactcenterinsights "cloud.google.com/go/contactcenterinsights/apiv1"
	"cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"github.com/googleapis/gax-go/v2"
	"go.temporal.io/sdk/activity"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/issuemodels/durable-lro/insights"
)

// Activities holds the API client the activities share. Register it with
// worker.RegisterActivity(&Activities{Client: c}); workflows call its methods through a typed
// nil pointer.
type Activities struct {
	Client *contactcenterinsights.Client
}

// noRetry turns off the client library's retries: one layer of retries (Temporal's) is visible
// in history and bounded by the activity's policy, and a hidden retry of a create after a lost
// reply would make a second issue model.
var noRetry = gax.WithRetry(nil)

// CreateSkew is how far before the workflow's own clock an operation's createTime may be and
// still count as ours: it absorbs clock differences between Temporal and Google.
const CreateSkew = 2 * time.Minute

// maxScannedOperations bounds the duplicate lookup in a location with a long operation history.
const maxScannedOperations = 5000

// CreateIssueModelParams is the input of the CreateIssueModel activity.
type CreateIssueModelParams struct {
	Parent     string                  `json:"parent"`
	IssueModel insights.IssueModelSpec `json:"issueModel"`
	// NotBefore is the workflow time at which the creation was first scheduled. It stays the same
	// on every retry, so only operations created after it can be this workflow's.
	NotBefore time.Time `json:"notBefore"`
}

// StartedOperation names the long-running operation an activity started or found.
type StartedOperation struct {
	Operation string `json:"operation"`
	// Adopted is true when a retried attempt found the operation an earlier attempt had started
	// (its reply was lost) instead of starting another.
	Adopted bool `json:"adopted,omitempty"`
	// AlreadyDone is true when there was nothing to start (the model was already in the wanted
	// state); Operation is then empty.
	AlreadyDone bool `json:"alreadyDone,omitempty"`
}

// CreateIssueModel starts the CreateIssueModel operation and returns its name.
//
// The API has no request id, so a retry cannot be deduplicated by the server. Every attempt
// after the first therefore looks first for an operation an earlier attempt started: a
// CreateIssueModel operation in the same location whose metadata.request equals ours and whose
// createTime is not before NotBefore-CreateSkew. Where this cannot help: two workflows sending
// byte-identical requests at the same moment (they would adopt one operation), an operation
// list that has not caught up yet (eventual consistency), or operations that expired.
func (a *Activities) CreateIssueModel(ctx context.Context, p CreateIssueModelParams) (StartedOperation, error) {
	if err := insights.ValidateParent("parent", p.Parent); err != nil {
		return StartedOperation{}, err
	}
	if err := p.IssueModel.Validate("issueModel"); err != nil {
		return StartedOperation{}, err
	}
	req := &contactcenterinsightspb.CreateIssueModelRequest{Parent: p.Parent, IssueModel: p.IssueModel.Proto()}
	logger := activity.GetLogger(ctx)
	if activity.GetInfo(ctx).Attempt > 1 {
		name, err := a.findOperation(ctx, p.Parent, func(op *longrunningpb.Operation) bool {
			md := &contactcenterinsightspb.CreateIssueModelMetadata{}
			if op.GetMetadata().UnmarshalTo(md) != nil {
				return false
			}
			return proto.Equal(md.GetRequest(), req) && !md.GetCreateTime().AsTime().Before(p.NotBefore.Add(-CreateSkew))
		})
		if err != nil {
			return StartedOperation{}, err
		}
		if name != "" {
			logger.Info("Adopted the operation an earlier attempt started", "Operation", name)
			return StartedOperation{Operation: name, Adopted: true}, nil
		}
	}
	op, err := a.Client.CreateIssueModel(ctx, req, noRetry)
	if err != nil {
		return StartedOperation{}, insights.FromAPIError("CreateIssueModel", err)
	}
	logger.Info("Started CreateIssueModel", "Operation", op.Name())
	return StartedOperation{Operation: op.Name()}, nil
}

// findOperation returns the name of the earliest operation in parent that match accepts.
func (a *Activities) findOperation(ctx context.Context, parent string, match func(*longrunningpb.Operation) bool) (string, error) {
	it := a.Client.ListOperations(ctx, &longrunningpb.ListOperationsRequest{Name: parent, PageSize: 1000}, noRetry)
	var found *longrunningpb.Operation
	for n := 0; n < maxScannedOperations; n++ {
		op, err := it.Next()
		if err == iterator.Done {
			break
		}
		if err != nil {
			return "", insights.FromAPIError("ListOperations", err)
		}
		if match(op) && (found == nil || insights.CreateTimeOf(op).Before(insights.CreateTimeOf(found))) {
			found = op
		}
	}
	return found.GetName(), nil
}

// GetOperation reads the operation's current state.
func (a *Activities) GetOperation(ctx context.Context, name string) (insights.Operation, error) {
	if err := insights.ValidateOperationName("operation", name); err != nil {
		return insights.Operation{}, err
	}
	op, err := a.Client.GetOperation(ctx, &longrunningpb.GetOperationRequest{Name: name}, noRetry)
	if err != nil {
		return insights.Operation{}, insights.FromAPIError("GetOperation", err)
	}
	out, err := insights.OperationFromProto(op)
	if err != nil {
		// The server broke the google.longrunning contract; retrying will not mend it.
		return out, insights.FromAPIError("GetOperation", status.Error(codes.Internal, err.Error()))
	}
	return out, nil
}

// CancelResult says how the server took a cancellation request.
type CancelResult struct {
	// Accepted: the server took the request (it may still finish the operation: best effort).
	Accepted bool `json:"accepted"`
	// Unimplemented: the server does not support cancellation (google.rpc.Code.UNIMPLEMENTED).
	Unimplemented bool `json:"unimplemented,omitempty"`
}

// CancelOperation asks the server to cancel the operation. UNIMPLEMENTED is an answer, not an
// error: the caller keeps polling and reports that the operation could not be cancelled.
func (a *Activities) CancelOperation(ctx context.Context, name string) (CancelResult, error) {
	if err := insights.ValidateOperationName("operation", name); err != nil {
		return CancelResult{}, err
	}
	err := a.Client.CancelOperation(ctx, &longrunningpb.CancelOperationRequest{Name: name}, noRetry)
	if status.Code(err) == codes.Unimplemented {
		return CancelResult{Unimplemented: true}, nil
	}
	if err != nil {
		return CancelResult{}, insights.FromAPIError("CancelOperation", err)
	}
	return CancelResult{Accepted: true}, nil
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
	it := a.Client.ListOperations(ctx, &longrunningpb.ListOperationsRequest{
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
