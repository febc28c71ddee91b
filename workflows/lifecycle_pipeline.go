package workflows

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/issuemodels/durable-lro/activities"
	"github.com/issuemodels/durable-lro/insights"
)

// IngestStep ingests conversations before training: the REST body of IngestConversations
// (its parent is the lifecycle's).
type IngestStep struct {
	GcsSource              GCSBucket               `json:"gcsSource"`
	TranscriptObjectConfig *TranscriptObjectConfig `json:"transcriptObjectConfig,omitempty"`
	ConversationConfig     *ConversationConfig     `json:"conversationConfig,omitempty"`
	SampleSize             int32                   `json:"sampleSize,omitempty"`
}

// GCSBucket is gs://bucket[/prefix]; GCSObject gs://bucket/object.
type (
	GCSBucket struct {
		BucketURI string `json:"bucketUri"`
	}
	GCSObject struct {
		ObjectURI string `json:"objectUri"`
	}
	// TranscriptObjectConfig: the medium of the transcripts (CHAT, the default, or PHONE_CALL).
	TranscriptObjectConfig struct {
		Medium string `json:"medium"`
	}
	// ConversationConfig applies to every ingested conversation.
	ConversationConfig struct {
		AgentID string `json:"agentId,omitempty"`
	}
)

// AnalyzeStep analyzes conversations before training (BulkAnalyzeConversations). Filter defaults
// to the model's inputDataConfig.filter (what the training will read), AnalysisPercentage to 100.
type AnalyzeStep struct {
	Filter             string  `json:"filter,omitempty"`
	AnalysisPercentage float32 `json:"analysisPercentage,omitempty"`
}

// ExportStep exports the deployed model at the end of the run (ExportIssueModel).
type ExportStep struct {
	GcsDestination GCSObject `json:"gcsDestination"`
}

// PromoteStep replaces training: export FromModel (in another location) to ObjectURI, import it
// into the lifecycle's parent as a new model, then gate, deploy and retire there as usual.
type PromoteStep struct {
	FromModel string `json:"fromModel"`
	ObjectURI string `json:"objectUri"`
}

func (in *LifecycleInput) validatePromotion() error {
	p := in.Promote
	if err := insights.ValidateParent("parent", in.Parent); err != nil {
		return err
	}
	if _, err := in.Polling.parse("polling"); err != nil {
		return err
	}
	if err := insights.ValidateIssueModelName("promote.fromModel", p.FromModel); err != nil {
		return err
	}
	if insights.ParentOf(p.FromModel) == in.Parent {
		return insights.InvalidArgument("promote.fromModel", "is in "+in.Parent+", the location it would be promoted to")
	}
	if err := activities.ValidateGCSURI("promote.objectUri", p.ObjectURI, true); err != nil {
		return err
	}
	if in.IssueModel != (insights.IssueModelSpec{}) {
		return insights.InvalidArgument("issueModel", "must not be set with promote: the model is promote.fromModel's")
	}
	if in.Ingest != nil || in.Analyze != nil || in.Export != nil {
		return insights.InvalidArgument("promote", "cannot be combined with ingest, analyze or export: a promotion trains nothing and exports to promote.objectUri")
	}
	return nil
}

func (in *LifecycleInput) validatePipeline() error {
	if g := in.Ingest; g != nil {
		if err := activities.ValidateGCSURI("ingest.gcsSource.bucketUri", g.GcsSource.BucketURI, false); err != nil {
			return err
		}
		if c := g.TranscriptObjectConfig; c != nil && c.Medium != "CHAT" && c.Medium != "PHONE_CALL" {
			return insights.InvalidArgument("ingest.transcriptObjectConfig.medium", fmt.Sprintf("%q is not CHAT or PHONE_CALL", c.Medium))
		}
		if g.SampleSize < 0 {
			return insights.InvalidArgument("ingest.sampleSize", "must not be negative")
		}
	}
	if a := in.Analyze; a != nil && !(a.AnalysisPercentage >= 0 && a.AnalysisPercentage <= 100) {
		return insights.InvalidArgument("analyze.analysisPercentage", fmt.Sprintf("%v is not in (0, 100]", a.AnalysisPercentage))
	}
	if e := in.Export; e != nil {
		return activities.ValidateGCSURI("export.gcsDestination.objectUri", e.GcsDestination.ObjectURI, true)
	}
	return nil
}

func (l *lifecycle) hasPipelineSteps() bool {
	return l.in.Ingest != nil || l.in.Analyze != nil || l.in.Promote != nil
}

// prepare runs the steps before check-quotas: ingest and analyze, or the promotion's export.
func (l *lifecycle) prepare() error {
	if l.in.Promote != nil {
		return l.exportSource()
	}
	if g := l.in.Ingest; g != nil {
		l.setStep(StepIngest)
		p := activities.IngestConversationsParams{Parent: l.in.Parent, BucketURI: g.GcsSource.BucketURI, SampleSize: g.SampleSize, Since: workflow.Now(l.ctx)}
		if g.TranscriptObjectConfig != nil {
			p.Medium = g.TranscriptObjectConfig.Medium
		}
		if g.ConversationConfig != nil {
			p.AgentID = g.ConversationConfig.AgentID
		}
		op, err := l.startAndAwaitOp(awaitedStep{suffix: StepIngest, start: acts.IngestConversations, params: p, lookUp: true, cancellable: true, progress: true})
		if err != nil || l.cancelled {
			return err
		}
		var md struct {
			Stats json.RawMessage `json:"ingestConversationsStats"`
		}
		_ = json.Unmarshal(op.Metadata, &md)
		l.result.Ingested = md.Stats
		l.endStep(StepStateDone, "ingestConversationsStats "+string(md.Stats))
	}
	if a := l.in.Analyze; a != nil {
		l.setStep(StepAnalyze)
		p := activities.BulkAnalyzeConversationsParams{Parent: l.in.Parent, Filter: a.Filter, AnalysisPercentage: a.AnalysisPercentage, Since: workflow.Now(l.ctx)}
		if p.Filter == "" {
			p.Filter = l.in.IssueModel.InputDataConfig.Filter
		}
		if p.AnalysisPercentage == 0 {
			p.AnalysisPercentage = 100
		}
		op, err := l.startAndAwaitOp(awaitedStep{suffix: StepAnalyze, start: acts.BulkAnalyzeConversations, params: p, lookUp: true, cancellable: true, progress: true})
		if err != nil || l.cancelled {
			return err
		}
		l.result.Analyzed = responseFields(op.Response)
		l.endStep(StepStateDone, string(l.result.Analyzed))
	}
	return nil
}

// responseFields is an operation's response without its "@type".
func responseFields(resp json.RawMessage) json.RawMessage {
	var m map[string]json.RawMessage
	if json.Unmarshal(resp, &m) != nil {
		return resp
	}
	delete(m, "@type")
	b, _ := json.Marshal(m)
	return b
}

// exportSource is a promotion's first step: export promote.fromModel to promote.objectUri. The
// run takes the source model's display name for the quota check and the models it replaces.
func (l *lifecycle) exportSource() error {
	l.setStep(StepExport)
	from := l.in.Promote.FromModel
	raw, err := l.getModel(from)
	if err != nil {
		return err
	}
	var src struct {
		DisplayName string `json:"displayName"`
	}
	_ = json.Unmarshal(raw, &src)
	l.in.IssueModel.DisplayName = src.DisplayName
	p := activities.ExportIssueModelParams{Name: from, ObjectURI: l.in.Promote.ObjectURI, Since: workflow.Now(l.ctx)}
	if _, err := l.startAndAwaitOp(awaitedStep{suffix: StepExport, start: acts.ExportIssueModel, params: p, lookUp: true, cancellable: true}); err != nil || l.cancelled {
		return err
	}
	l.result.ExportedTo = p.ObjectURI
	l.endStep(StepStateDone, from+" → "+p.ObjectURI)
	return nil
}

// trainOrImport is the create step, or a promotion's import.
func (l *lifecycle) trainOrImport() (*CreateIssueModelResult, error) {
	if l.in.Promote == nil {
		return l.create()
	}
	return l.importModel()
}

// importedModelChange: the import's model is named by ImportedIssueModel (one activity) instead
// of a second ListIssueModels and "the last new model of the display name".
const (
	importedModelChange  = "imported-model-by-operation"
	importedModelVersion = 1
)

// importModel imports the promoted model as a new model of the parent. The import's response
// does not name the model, so it is the one model of the source's display name that the
// location lists afterwards and did not list before.
func (l *lifecycle) importModel() (*CreateIssueModelResult, error) {
	l.setStep(StepImport)
	before, err := l.listModels()
	if err != nil {
		return nil, err
	}
	p := activities.ImportIssueModelParams{Parent: l.in.Parent, ObjectURI: l.in.Promote.ObjectURI, CreateNewModel: true, Since: workflow.Now(l.ctx)}
	op, err := l.startAndAwaitOp(awaitedStep{suffix: StepImport, start: acts.ImportIssueModel, params: p, lookUp: true, cancellable: true})
	if err != nil {
		return nil, err
	}
	name := ""
	if workflow.GetVersion(l.ctx, importedModelChange, workflow.DefaultVersion, importedModelVersion) == importedModelVersion {
		// The model the operation created (its times narrow the new models of the display name),
		// never the last one listed, which may be another run's.
		var names []string
		for _, b := range before {
			names = append(names, b.Name)
		}
		var m activities.IssueModelSummary
		err := workflow.ExecuteActivity(withChangeActivity(l.ctx, op.Name, 5*time.Minute), acts.ImportedIssueModel,
			activities.ImportedIssueModelParams{Operation: op.Name, DisplayName: l.in.IssueModel.DisplayName, Before: names}).Get(l.ctx, &m)
		if err != nil {
			return nil, err
		}
		name = m.Name
	} else {
		after, err := l.listModels()
		if err != nil {
			return nil, err
		}
		for _, m := range after {
			if m.DisplayName == l.in.IssueModel.DisplayName && !slices.ContainsFunc(before, func(b activities.IssueModelSummary) bool { return b.Name == m.Name }) {
				name = m.Name
			}
		}
	}
	if name == "" {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("import %s finished but %s lists no new model named %q",
			op.Name, l.in.Parent, l.in.IssueModel.DisplayName), insights.ErrOperationFailed, nil)
	}
	raw, err := l.getModel(name)
	if err != nil {
		return nil, err
	}
	l.result.Model, l.result.State, l.result.IssueModel, l.result.ImportedFrom = name, stateUndeployed, raw, p.ObjectURI
	l.status.Model = name
	if l.cancelled {
		return nil, nil // the import finished despite the cancel: the model is kept, undeployed
	}
	l.endStep(StepStateDone, name)
	return &CreateIssueModelResult{Operation: op.Name, Outcome: OutcomeSucceeded, IssueModel: raw}, nil
}

// export writes the deployed model to export.gcsDestination.objectUri, the last step.
func (l *lifecycle) export() error {
	l.setStep(StepExport)
	p := activities.ExportIssueModelParams{Name: l.result.Model, ObjectURI: l.in.Export.GcsDestination.ObjectURI, Since: workflow.Now(l.ctx)}
	if _, err := l.startAndAwaitOp(awaitedStep{suffix: StepExport, start: acts.ExportIssueModel, params: p, lookUp: true, cancellable: true}); err != nil || l.cancelled {
		return err
	}
	l.result.ExportedTo = p.ObjectURI
	l.endStep(StepStateDone, p.ObjectURI)
	return nil
}
