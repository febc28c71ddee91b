package workflows

import (
	"fmt"

	"github.com/issuemodels/durable-lro/insights"
)

// QualityGate is the minimum a trained model must reach to be deployed.
type QualityGate struct {
	MinAnalyzedConversations int64 `json:"minAnalyzedConversations,omitempty"`
	MinIssueCount            int64 `json:"minIssueCount,omitempty"`
}

// LifecycleInput is the input of IssueModelLifecycleWorkflow.
type LifecycleInput struct {
	Parent      string                  `json:"parent"`
	IssueModel  insights.IssueModelSpec `json:"issueModel"`
	Polling     *PollingPolicy          `json:"polling,omitempty"`
	QualityGate QualityGate             `json:"qualityGate"`
	// Replaces names the models to undeploy once the new one is deployed. Empty: every DEPLOYED
	// model of the location with the same displayName.
	Replaces []string `json:"replaces,omitempty"`
	// DeleteReplaced deletes the replaced models after undeploying them.
	DeleteReplaced bool `json:"deleteReplaced,omitempty"`
	// DeleteRejected deletes a model that fails the quality gate (default: keep it to inspect).
	DeleteRejected bool `json:"deleteRejected,omitempty"`
	// The pipeline's optional steps (lifecycle_pipeline.go): ingest and analyze conversations
	// before training, export the deployed model after; or, instead of training, promote a
	// model from another location (export there, import here). Absent, the lifecycle runs as
	// it always has.
	Ingest  *IngestStep  `json:"ingest,omitempty"`
	Analyze *AnalyzeStep `json:"analyze,omitempty"`
	Export  *ExportStep  `json:"export,omitempty"`
	Promote *PromoteStep `json:"promote,omitempty"`

	decoding decoding
}

// UnmarshalJSON decodes strictly but never fails; see decodeKeepingError.
func (in *LifecycleInput) UnmarshalJSON(b []byte) error {
	type plain LifecycleInput
	return decodeKeepingError(b, (*plain)(in), &in.decoding)
}

// Validate checks the input as a person typed it; errors are InvalidArgument naming the field.
func (in *LifecycleInput) Validate() error { return in.validate(in.decoding.strict) }

// validate checks the input given the decoding error that counts (see decoding).
func (in *LifecycleInput) validate(decodeErr error) error {
	if decodeErr != nil {
		return decodeErr
	}
	if in.Promote != nil {
		if err := in.validatePromotion(); err != nil {
			return err
		}
	} else {
		create := CreateIssueModelInput{Parent: in.Parent, IssueModel: in.IssueModel, Polling: in.Polling}
		if _, err := create.Validate(); err != nil {
			return err
		}
	}
	if err := in.validatePipeline(); err != nil {
		return err
	}
	if in.QualityGate.MinAnalyzedConversations < 0 {
		return insights.InvalidArgument("qualityGate.minAnalyzedConversations", "must not be negative")
	}
	if in.QualityGate.MinIssueCount < 0 {
		return insights.InvalidArgument("qualityGate.minIssueCount", "must not be negative")
	}
	for i, name := range in.Replaces {
		field := fmt.Sprintf("replaces[%d]", i)
		if err := insights.ValidateIssueModelName(field, name); err != nil {
			return err
		}
		if insights.ParentOf(name) != in.Parent {
			return insights.InvalidArgument(field, "is not in parent "+in.Parent)
		}
	}
	return nil
}
