package insights

import (
	"testing"

	"cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"github.com/stretchr/testify/require"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/types/known/anypb"
)

func TestOperationFromProtoEnforcesTheContract(t *testing.T) {
	resp, err := anypb.New(&contactcenterinsightspb.IssueModel{Name: "projects/p/locations/l/issueModels/1", State: contactcenterinsightspb.IssueModel_UNDEPLOYED})
	require.NoError(t, err)
	md, err := anypb.New(&contactcenterinsightspb.CreateIssueModelMetadata{})
	require.NoError(t, err)

	ok, err := OperationFromProto(&longrunningpb.Operation{Name: "op", Done: true, Metadata: md, Result: &longrunningpb.Operation_Response{Response: resp}})
	require.NoError(t, err)
	require.JSONEq(t, `{"@type":"type.googleapis.com/google.cloud.contactcenterinsights.v1.IssueModel","name":"projects/p/locations/l/issueModels/1","state":"UNDEPLOYED"}`, string(ok.Response))
	m, err := ok.IssueModel()
	require.NoError(t, err)
	require.Equal(t, "projects/p/locations/l/issueModels/1", m.GetName())

	cancelled, err := OperationFromProto(&longrunningpb.Operation{Name: "op", Done: true, Result: &longrunningpb.Operation_Error{Error: &spb.Status{Code: CodeCancelled, Message: "cancelled"}}})
	require.NoError(t, err)
	require.EqualValues(t, CodeCancelled, cancelled.Error.Code)

	for name, op := range map[string]*longrunningpb.Operation{
		"done without result":   {Name: "op", Done: true},
		"error with code 0":     {Name: "op", Done: true, Result: &longrunningpb.Operation_Error{Error: &spb.Status{}}},
		"running with a result": {Name: "op", Result: &longrunningpb.Operation_Response{Response: resp}},
		"running with an error": {Name: "op", Result: &longrunningpb.Operation_Error{Error: &spb.Status{Code: 2}}},
	} {
		_, err := OperationFromProto(op)
		require.Error(t, err, name)
	}
}

func TestNames(t *testing.T) {
	require.NoError(t, ValidateParent("parent", "projects/acme/locations/us-central1"))
	require.NoError(t, ValidateOperationName("op", "projects/123/locations/global/operations/456"))
	require.NoError(t, ValidateIssueModelName("m", "projects/example.com:p/locations/eu/issueModels/a-1"))
	require.Equal(t, "projects/a/locations/b", ParentOf("projects/a/locations/b/operations/1"))
	require.Equal(t, "projects/a/locations/b", ParentOf("projects/a/locations/b/issueModels/1"))
	require.Equal(t, "", ParentOf("projects/a/locations/b"))
	require.Error(t, ValidateOperationName("op", "projects/a/locations/b/issueModels/1"))
	require.Error(t, ValidateIssueModelName("m", "projects/a/locations/b/issueModels/"))
}
