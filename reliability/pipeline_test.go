package reliability_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/issuemodels/durable-lro/insightstest"
	"github.com/issuemodels/durable-lro/workflows"
)

// startLifecycle starts an IssueModelLifecycleWorkflow by type name with input as a raw JSON
// payload, as `temporal workflow start --type IssueModelLifecycleWorkflow --input` does.
func startLifecycle(t *testing.T, c client.Client, id, taskQueue, input string) client.WorkflowRun {
	t.Helper()
	return startByType(t, c, workflows.IssueModelLifecycleWorkflowType, id, taskQueue, input)
}

// awaitLifecycles waits for every run and decodes its LifecycleResult.
func awaitLifecycles(runs []client.WorkflowRun, timeout time.Duration) ([]workflows.LifecycleResult, []error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	res, errs := make([]workflows.LifecycleResult, len(runs)), make([]error, len(runs))
	done := make(chan int)
	for i, r := range runs {
		go func() { errs[i] = r.Get(ctx, &res[i]); done <- i }()
	}
	for range runs {
		<-done
	}
	return res, errs
}

// TestPipelineLostRepliesAndWorkerKills runs full pipelines (ingest → analyze → train → gate →
// deploy → export) and then promotions (export → import into a second project → gate → deploy)
// while half of the IngestConversations, BulkAnalyzeConversations, ExportIssueModel and
// ImportIssueModel replies (and 30 % of CreateIssueModel's) are lost after the server committed,
// and real worker processes are SIGKILLed at random moments. Every run must complete, with 0
// duplicate conversations, analyses, exports or imported models.
func TestPipelineLostRepliesAndWorkerKills(t *testing.T) {
	t.Parallel()
	n, kills := size(4, 20), size(3, 8)
	const objects = 60
	objs := map[string][]byte{}
	for i := range n {
		for k, v := range insightstest.Transcripts(fmt.Sprintf("gs://relpipe-%d/chats", i), objects) {
			objs[k] = v
		}
	}
	// 60x clock: ingest and analysis take 2 s, a training 5 s.
	emu := newEmulator(t, 60, insightstest.Options{
		Objects: objs, Buckets: []string{"relpipe-models"}, MinTrainingConversations: objects,
		TrainingTime: fixed(5 * time.Minute), IngestTime: 2 * time.Minute, AnalyzeTime: 2 * time.Minute,
		ExportTime: time.Minute, ImportTime: time.Minute,
	})
	for _, m := range []string{"IngestConversations", "BulkAnalyzeConversations", "ExportIssueModel", "ImportIssueModel"} {
		emu.SetFaults(m, insightstest.Fault{Probability: 0.5, LostReplyAfterCommit: true})
	}
	emu.SetFaults("CreateIssueModel", insightstest.Fault{Probability: 0.3, LostReplyAfterCommit: true})
	tq, prefix := names(t)
	f := newFleet(t, 2, workerEnv(devServer.HostPort, emu.Addr(), tq))

	killsDone := f.killAtRandom(kills, 2*time.Second, 5*time.Second)
	const polling = `"polling":{"initialInterval":"2s","multiplier":1.5,"maxInterval":"4s"}`
	staging := func(i int) string { return fmt.Sprintf("projects/relpipe-%d/locations/us-central1", i) }
	prod := func(i int) string { return fmt.Sprintf("projects/relprod-%d/locations/us-central1", i) }
	exported := func(i int) string { return fmt.Sprintf("gs://relpipe-models/%d.json", i) }
	promoted := func(i int) string { return fmt.Sprintf("gs://relpipe-models/%d-promoted.json", i) }

	runs := make([]client.WorkflowRun, n)
	for i := range n {
		runs[i] = startLifecycle(t, devServer.Client, fmt.Sprintf("%s-pipeline-%d", prefix, i), tq, createInput(staging(i), fmt.Sprintf("pipe-%d", i), polling,
			fmt.Sprintf(`"ingest":{"gcsSource":{"bucketUri":"gs://relpipe-%d/chats"}},"analyze":{}`, i),
			fmt.Sprintf(`"qualityGate":{"minAnalyzedConversations":%d},"export":{"gcsDestination":{"objectUri":%q}}`, objects, exported(i))))
	}
	results, errs := awaitLifecycles(runs, 10*time.Minute)
	promos := make([]client.WorkflowRun, n)
	for i := range n {
		if errs[i] != nil || results[i].Outcome != workflows.LifecycleDeployed {
			t.Fatalf("pipeline %d: %+v, %v\nworker logs:\n%s", i, results[i], errs[i], f.logs())
		}
		promos[i] = startLifecycle(t, devServer.Client, fmt.Sprintf("%s-promote-%d", prefix, i), tq, fmt.Sprintf(
			`{"parent":%q,"promote":{"fromModel":%q,"objectUri":%q},%s}`, prod(i), results[i].Model, promoted(i), polling))
	}
	presults, perrs := awaitLifecycles(promos, 10*time.Minute)
	<-killsDone
	f.stopAll()

	st := emu.Stats()
	lost := 0
	for _, v := range st.Faults {
		lost += int(v)
	}
	for i := range n {
		if perrs[i] != nil || presults[i].Outcome != workflows.LifecycleDeployed {
			t.Errorf("promotion %d: %+v, %v", i, presults[i], perrs[i])
			continue
		}
		if c, a := st.Conversations[staging(i)], st.Analyses[staging(i)]; c != objects || a != objects {
			t.Errorf("%s: %d conversations, %d analyses; want %d each (no duplicates)", staging(i), c, a, objects)
		}
		if st.ModelsCreated[staging(i)] != 1 {
			t.Errorf("%s: %d models created, want 1", staging(i), st.ModelsCreated[staging(i)])
		}
		if e, p := st.Exports[exported(i)], st.Exports[promoted(i)]; e != 1 || p != 1 {
			t.Errorf("pipeline %d: exports %d and %d, want 1 each", i, e, p)
		}
		if m := emu.Models(prod(i)); st.ModelsImported[prod(i)] != 1 || len(m) != 1 || m[0].GetName() != presults[i].Model {
			t.Errorf("%s: %d imports, models %v; want one, %s", prod(i), st.ModelsImported[prod(i)], m, presults[i].Model)
		}
	}
	t.Logf("%d pipelines and %d promotions completed through %d lost replies and %d worker kills", n, n, lost, kills)
	if lost == 0 {
		t.Errorf("no reply was lost: the scenario tested nothing")
	}
}
