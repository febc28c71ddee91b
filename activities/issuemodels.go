package activities

import (
	"context"
	"encoding/json"

	contactcenterinsights "cloud.google.com/go/contactcenterinsights/apiv1"
	"cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"github.com/googleapis/gax-go/v2"
	"go.temporal.io/sdk/activity"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/issuemodels/durable-lro/insights"
)

// GetIssueModel returns the model in its REST JSON shape.
func (a *Activities) GetIssueModel(ctx context.Context, name string) (json.RawMessage, error) {
	m, err := callOn(ctx, a, "name", name, insights.ValidateIssueModelName,
		"GetIssueModel", (*contactcenterinsights.Client).GetIssueModel, &contactcenterinsightspb.GetIssueModelRequest{Name: name})
	if err != nil {
		return nil, err
	}
	return insights.MarshalREST(m), nil
}

// IssueModelSummary is what the lifecycle needs to know of each model in a location.
type IssueModelSummary struct {
	Name        string `json:"name"`
	DisplayName string `json:"displayName"`
	State       string `json:"state"`
	CreateTime  string `json:"createTime"`
}

// ListIssueModels lists the models of a location (the API does not page this call).
func (a *Activities) ListIssueModels(ctx context.Context, parent string) ([]IssueModelSummary, error) {
	resp, err := callOn(ctx, a, "parent", parent, insights.ValidateParent,
		"ListIssueModels", (*contactcenterinsights.Client).ListIssueModels, &contactcenterinsightspb.ListIssueModelsRequest{Parent: parent})
	if err != nil {
		return nil, err
	}
	out := make([]IssueModelSummary, 0, len(resp.GetIssueModels()))
	for _, m := range resp.GetIssueModels() {
		out = append(out, IssueModelSummary{
			Name: m.GetName(), DisplayName: m.GetDisplayName(), State: m.GetState().String(),
			CreateTime: m.GetCreateTime().AsTime().UTC().Format("2006-01-02T15:04:05Z"),
		})
	}
	return out, nil
}

// DeployIssueModel starts deploying the model. It is as idempotent as the API allows: a model
// already DEPLOYED needs nothing, and one DEPLOYING is adopted through its running operation
// (see transition).
func (a *Activities) DeployIssueModel(ctx context.Context, name string) (StartedOperation, error) {
	return transitionBy[*contactcenterinsightspb.DeployIssueModelMetadata](ctx, a, name, transition{
		method: "DeployIssueModel", done: contactcenterinsightspb.IssueModel_DEPLOYED,
		inFlight: contactcenterinsightspb.IssueModel_DEPLOYING,
	}, (*contactcenterinsights.Client).DeployIssueModel, &contactcenterinsightspb.DeployIssueModelRequest{Name: name})
}

// UndeployIssueModel starts undeploying the model; UNDEPLOYED needs nothing, UNDEPLOYING is
// adopted.
func (a *Activities) UndeployIssueModel(ctx context.Context, name string) (StartedOperation, error) {
	return transitionBy[*contactcenterinsightspb.UndeployIssueModelMetadata](ctx, a, name, transition{
		method: "UndeployIssueModel", done: contactcenterinsightspb.IssueModel_UNDEPLOYED,
		inFlight: contactcenterinsightspb.IssueModel_UNDEPLOYING,
	}, (*contactcenterinsights.Client).UndeployIssueModel, &contactcenterinsightspb.UndeployIssueModelRequest{Name: name})
}

// DeleteIssueModel starts deleting the model; a model that no longer exists needs nothing, one
// DELETING is adopted.
func (a *Activities) DeleteIssueModel(ctx context.Context, name string) (StartedOperation, error) {
	return transitionBy[*contactcenterinsightspb.DeleteIssueModelMetadata](ctx, a, name, transition{
		method: "DeleteIssueModel", gone: true,
		inFlight: contactcenterinsightspb.IssueModel_DELETING,
	}, (*contactcenterinsights.Client).DeleteIssueModel, &contactcenterinsightspb.DeleteIssueModelRequest{Name: name})
}

// transitionBy runs transition t of the model, started by call(ctx, req), whose operations
// carry metadata of type M with the request naming the model.
func transitionBy[M interface {
	proto.Message
	GetRequest() R
}, R interface{ GetName() string }, Q any, O interface{ Name() string }](
	ctx context.Context, a *Activities, name string, t transition,
	call func(*contactcenterinsights.Client, context.Context, Q, ...gax.CallOption) (O, error), req Q) (StartedOperation, error) {
	t.modelOf = func(op *longrunningpb.Operation) string {
		md := newMessage[M]()
		if op.GetMetadata().UnmarshalTo(md) != nil {
			return ""
		}
		return md.GetRequest().GetName()
	}
	t.start = func(c *contactcenterinsights.Client) (string, error) { return opName(call(c, ctx, req, noRetry)) }
	return a.transition(ctx, name, t)
}

type transition struct {
	method   string
	done     contactcenterinsightspb.IssueModel_State // state that means nothing is left to do
	gone     bool                                     // for delete: NOT_FOUND means done
	inFlight contactcenterinsightspb.IssueModel_State // state whose running operation we adopt
	modelOf  func(*longrunningpb.Operation) string    // the model an operation of this method acts on
	start    func(*contactcenterinsights.Client) (string, error)
}

// transition does nothing when the model is already where t leads (AlreadyDone), and otherwise
// starts t through startOnce: a model mid-change (t.inFlight) has a running operation of t,
// which is adopted once the list shows it, never started again.
func (a *Activities) transition(ctx context.Context, name string, t transition) (StartedOperation, error) {
	c, err := a.clientOf("name", name, insights.ValidateIssueModelName)
	if err != nil {
		return StartedOperation{}, err
	}
	logger := activity.GetLogger(ctx)
	m, err := c.GetIssueModel(ctx, &contactcenterinsightspb.GetIssueModelRequest{Name: name}, noRetry)
	switch {
	case t.gone && status.Code(err) == codes.NotFound:
		logger.Info("Nothing to do: the model no longer exists", "Method", t.method, "IssueModel", name)
		return StartedOperation{AlreadyDone: true}, nil
	case err != nil:
		return StartedOperation{}, insights.FromAPIError("GetIssueModel", err)
	case !t.gone && m.GetState() == t.done:
		logger.Info("Nothing to do: the model is already "+t.done.String(), "Method", t.method, "IssueModel", name)
		return StartedOperation{AlreadyDone: true}, nil
	}
	r := startRequest{
		method: t.method, parent: insights.ParentOf(name), known: knownNotRunning,
		state: name + " is " + m.GetState().String(),
		ours:  func(op *longrunningpb.Operation) bool { return !op.GetDone() && t.modelOf(op) == name },
		start: func() (string, error) { return t.start(c) },
	}
	if m.GetState() == t.inFlight {
		r.known = knownRunning
	}
	if isLooking(ctx) {
		if r.known != knownRunning {
			return StartedOperation{}, nil // nothing of t runs
		}
		r.lookOnly = true
	}
	return a.startOnce(ctx, r)
}
