package activities

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	contactcenterinsights "cloud.google.com/go/contactcenterinsights/apiv1"
	"cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"go.temporal.io/sdk/temporal"

	"github.com/issuemodels/durable-lro/insights"
)

// ImportedIssueModelParams is the input of ImportedIssueModel.
type ImportedIssueModelParams struct {
	// Operation is the finished ImportIssueModel operation.
	Operation string `json:"operation"`
	// DisplayName is the imported model's display name (the exported model's).
	DisplayName string `json:"displayName"`
	// Before lists the models the location had before the import started.
	Before []string `json:"before,omitempty"`
}

// ImportedIssueModel names the model an import created. The API does not say: the operation's
// response (ImportIssueModelResponse) is empty and its metadata holds only the request and the
// times. So the model is found the narrowest way the API allows:
//
//  1. the models of DisplayName that the location lists now and did not list before the import;
//  2. if several (another import or creation of that display name ran at the same time), those
//     whose createTime falls within the operation's createTime and endTime (± CreateSkew);
//  3. if that still leaves several, or none, it fails with the candidates named rather than
//     guess: taking "the last one" could hand this run another run's model (which it might then
//     deploy, or delete).
//
// Where this can still be wrong: a model of the same display name created outside this
// location's imports in the same window, while the import's own model was deleted before the
// listing. The result is non-retryable when ambiguous; API errors keep their retryability.
func (a *Activities) ImportedIssueModel(ctx context.Context, p ImportedIssueModelParams) (IssueModelSummary, error) {
	op, err := callOn(ctx, a, "operation", p.Operation, insights.ValidateOperationName,
		"GetOperation", (*contactcenterinsights.Client).GetOperation, &longrunningpb.GetOperationRequest{Name: p.Operation})
	if err != nil {
		return IssueModelSummary{}, err
	}
	md := &contactcenterinsightspb.ImportIssueModelMetadata{}
	if err := op.GetMetadata().UnmarshalTo(md); err != nil || !op.GetDone() || op.GetError() != nil {
		return IssueModelSummary{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("%s is not a finished, successful ImportIssueModel operation", p.Operation), insights.ErrOperationFailed, nil)
	}
	parent := md.GetRequest().GetParent()
	if parent == "" {
		parent = insights.ParentOf(p.Operation)
	}
	models, err := a.ListIssueModels(ctx, parent)
	if err != nil {
		return IssueModelSummary{}, err
	}
	var fresh []IssueModelSummary
	for _, m := range models {
		if m.DisplayName == p.DisplayName && !slices.Contains(p.Before, m.Name) {
			fresh = append(fresh, m)
		}
	}
	candidates := fresh
	if len(fresh) > 1 && md.GetCreateTime() != nil && md.GetEndTime() != nil {
		from, to := md.GetCreateTime().AsTime().Add(-CreateSkew), md.GetEndTime().AsTime().Add(CreateSkew)
		candidates = slices.DeleteFunc(slices.Clone(fresh), func(m IssueModelSummary) bool {
			c, ok := parseSummaryTime(m.CreateTime)
			return !ok || c.Before(from) || c.After(to)
		})
	}
	if len(candidates) == 1 {
		return candidates[0], nil
	}
	names := make([]string, len(fresh))
	for i, m := range fresh {
		names[i] = m.Name + " (created " + m.CreateTime + ")"
	}
	return IssueModelSummary{}, temporal.NewNonRetryableApplicationError(
		fmt.Sprintf("import %s finished, but %s lists %d new models named %q that it may have created: [%s]; not guessing which",
			p.Operation, parent, len(fresh), p.DisplayName, strings.Join(names, ", ")),
		insights.ErrOperationFailed, nil)
}

// parseSummaryTime reads IssueModelSummary.CreateTime (whole seconds, UTC).
func parseSummaryTime(s string) (time.Time, bool) {
	t, err := time.Parse("2006-01-02T15:04:05Z", s)
	return t, err == nil && t.Unix() > 0
}
