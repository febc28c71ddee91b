package integration_test

import (
	"fmt"
	"testing"
	"time"

	"cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	"go.temporal.io/sdk/temporal"

	"github.com/issuemodels/durable-lro/insightstest"
	"github.com/issuemodels/durable-lro/internal/testkit"
	"github.com/issuemodels/durable-lro/workflows"
)

// prodParent is the second project a model is promoted to.
const prodParent = "projects/itest-prod/locations/us-central1"

// TestPipelineFromABucketThenPromotion runs, on the dev server with the real worker code and the
// real Google client: ingest 60 transcripts from the emulator's bucket → analyze → train →
// gate (60 analyzed conversations) → deploy → export to gs://, then a promotion that exports the
// staging model again, imports it into a second project, gates it and deploys it there.
func TestPipelineFromABucketThenPromotion(t *testing.T) {
	t.Parallel()
	const objects = 60
	e := newEnv(t, insightstest.Options{
		Objects: insightstest.Transcripts("gs://itest-chats/2026-11", objects), Buckets: []string{"itest-models"},
		MinTrainingConversations: 50,
	})
	run := e.start(workflows.IssueModelLifecycleWorkflowType, createInput("weekly", fastPolling,
		`"ingest":{"gcsSource":{"bucketUri":"gs://itest-chats/2026-11"},"transcriptObjectConfig":{"medium":"CHAT"}}`,
		`"analyze":{}`,
		`"qualityGate":{"minAnalyzedConversations":60,"minIssueCount":1}`,
		`"export":{"gcsDestination":{"objectUri":"gs://itest-models/weekly.json"}}`))
	var res workflows.LifecycleResult
	if err := run.Get(e.ctx(), &res); err != nil {
		t.Fatalf("pipeline: %v", err)
	}
	if res.Outcome != workflows.LifecycleDeployed || res.State != "DEPLOYED" || res.ExportedTo != "gs://itest-models/weekly.json" {
		t.Fatalf("result = %+v", res)
	}
	st := e.emu.Stats()
	if st.Conversations[parent] != objects || st.Analyses[parent] != objects || st.Exports["gs://itest-models/weekly.json"] != 1 {
		t.Errorf("emulator: %d conversations, %d analyses, %d exports; want %d, %d, 1", st.Conversations[parent], st.Analyses[parent],
			st.Exports["gs://itest-models/weekly.json"], objects, objects)
	}
	// What the user sees through the real client: every conversation analyzed, the model trained on them.
	it := e.google.ListConversations(e.ctx(), &contactcenterinsightspb.ListConversationsRequest{Parent: parent, Filter: "latest_analysis:*"})
	if n := len(testkit.All(t, it.Next)); n != objects {
		t.Errorf("analyzed conversations listed = %d, want %d", n, objects)
	}
	m, err := e.google.GetIssueModel(e.ctx(), &contactcenterinsightspb.GetIssueModelRequest{Name: res.Model})
	if err != nil || m.GetTrainingStats().GetAnalyzedConversationsCount() != objects || m.GetState() != contactcenterinsightspb.IssueModel_DEPLOYED {
		t.Errorf("trained model = %v, %v; want %d analyzed conversations, DEPLOYED", m, err, objects)
	}
	ls := e.lifecycleStatus(run.GetID())
	var names []string
	for _, s := range ls.Steps {
		names = append(names, s.Name)
		if s.State != workflows.StepStateDone {
			t.Errorf("step %s = %s", s.Name, s.State)
		}
	}
	if fmt.Sprint(names) != "[ingest analyze check-quotas create quality-gate deploy retire-previous export]" {
		t.Errorf("steps = %v", names)
	}
	if ls.Steps[0].Operation == "" || len(ls.Steps[0].Metadata) == 0 {
		t.Errorf("ingest step status = %+v, want its operation and metadata", ls.Steps[0])
	}

	// Promotion: export the staging model, import it into the second project, gate and deploy there.
	promo := e.start(workflows.IssueModelLifecycleWorkflowType, fmt.Sprintf(
		`{"parent":%q,"promote":{"fromModel":%q,"objectUri":"gs://itest-models/promoted.json"},%s,"qualityGate":{"minAnalyzedConversations":60}}`,
		prodParent, res.Model, fastPolling))
	var pres workflows.LifecycleResult
	if err := promo.Get(e.ctx(), &pres); err != nil {
		t.Fatalf("promotion: %v", err)
	}
	prod := e.emu.Models(prodParent)
	if len(prod) != 1 || prod[0].GetName() != pres.Model || prod[0].GetState() != contactcenterinsightspb.IssueModel_DEPLOYED ||
		prod[0].GetDisplayName() != "weekly" || prod[0].GetIssueCount() != m.GetIssueCount() {
		t.Fatalf("models in %s = %v, result %+v; want the imported model DEPLOYED", prodParent, prod, pres)
	}
	if st := e.emu.Stats(); st.ModelsImported[prodParent] != 1 || st.Exports["gs://itest-models/promoted.json"] != 1 {
		t.Errorf("imports %d, exports %d; want 1 each", st.ModelsImported[prodParent], st.Exports["gs://itest-models/promoted.json"])
	}
	if pres.ImportedFrom != "gs://itest-models/promoted.json" {
		t.Errorf("promotion result = %+v", pres)
	}
	// The staging model is untouched.
	if states := e.modelStates(); states[res.Model] != "DEPLOYED" {
		t.Errorf("staging models = %v", states)
	}
}

// TestPipelineCancelDuringIngestLeavesNoConversations cancels while the ingest runs: the run ends
// Canceled at the ingest step, nothing was trained, and (the emulator ingests at the end) no
// conversation was added.
func TestPipelineCancelDuringIngestLeavesNoConversations(t *testing.T) {
	t.Parallel()
	e := newEnv(t, insightstest.Options{Objects: insightstest.Transcripts("gs://itest-chats/x", 5), IngestTime: 10 * time.Hour})
	run := e.start(workflows.IssueModelLifecycleWorkflowType, createInput("weekly", fastPolling,
		`"ingest":{"gcsSource":{"bucketUri":"gs://itest-chats/x"}}`))
	e.waitFor("the ingest step's operation", func() bool {
		st := e.lifecycleStatus(run.GetID())
		return len(st.Steps) > 0 && st.Steps[0].Operation != ""
	})
	if err := e.c.CancelWorkflow(e.ctx(), run.GetID(), ""); err != nil {
		t.Fatal(err)
	}
	err := run.Get(e.ctx(), nil)
	if _, ok := errorsAs[*temporal.CanceledError](err); !ok {
		t.Fatalf("run ended with %v, want cancelled", err)
	}
	if n := len(e.emu.Conversations(parent)); n != 0 || len(e.models()) != 0 {
		t.Errorf("%d conversations, models %v after a cancelled ingest; want none", n, e.models())
	}
	if st := e.lifecycleStatus(run.GetID()); st.Steps[0].State != workflows.StepStateCancelled {
		t.Errorf("ingest step = %+v", st.Steps[0])
	}
}
