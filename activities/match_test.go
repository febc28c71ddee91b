package activities

import (
	"testing"

	"cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	"google.golang.org/protobuf/proto"
)

func TestSameCreateRequestToleratesServerDefaults(t *testing.T) {
	ours := &contactcenterinsightspb.CreateIssueModelRequest{
		Parent: "projects/p/locations/l",
		IssueModel: &contactcenterinsightspb.IssueModel{DisplayName: "weekly",
			InputDataConfig: &contactcenterinsightspb.IssueModel_InputDataConfig{Filter: `medium="CHAT"`}},
	}
	echoed := proto.Clone(ours).(*contactcenterinsightspb.CreateIssueModelRequest)
	echoed.IssueModel.ModelType = contactcenterinsightspb.IssueModel_TYPE_V2 // filled in by the server
	echoed.IssueModel.InputDataConfig.TrainingConversationsCount = 1200      // output only
	if !sameCreateRequest(echoed, ours) {
		t.Fatal("a request the server echoed with defaults filled in must match")
	}
	for name, change := range map[string]func(r *contactcenterinsightspb.CreateIssueModelRequest){
		"parent":       func(r *contactcenterinsightspb.CreateIssueModelRequest) { r.Parent = "projects/p/locations/m" },
		"display name": func(r *contactcenterinsightspb.CreateIssueModelRequest) { r.IssueModel.DisplayName = "daily" },
		"filter":       func(r *contactcenterinsightspb.CreateIssueModelRequest) { r.IssueModel.InputDataConfig.Filter = "" },
		"language":     func(r *contactcenterinsightspb.CreateIssueModelRequest) { r.IssueModel.LanguageCode = "fr" },
		"model type": func(r *contactcenterinsightspb.CreateIssueModelRequest) {
			r.IssueModel.ModelType = contactcenterinsightspb.IssueModel_TYPE_V1
		},
	} {
		other := proto.Clone(echoed).(*contactcenterinsightspb.CreateIssueModelRequest)
		change(other)
		o := proto.Clone(ours).(*contactcenterinsightspb.CreateIssueModelRequest)
		o.IssueModel.ModelType = contactcenterinsightspb.IssueModel_TYPE_V2
		if sameCreateRequest(other, o) {
			t.Errorf("a different %s must not match", name)
		}
	}
}
