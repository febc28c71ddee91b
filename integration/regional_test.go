package integration_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	contactcenterinsights "cloud.google.com/go/contactcenterinsights/apiv1"
	"cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/issuemodels/durable-lro/activities"
	"github.com/issuemodels/durable-lro/insights"
	"github.com/issuemodels/durable-lro/insightsclient"
	"github.com/issuemodels/durable-lro/insightstest"
	"github.com/issuemodels/durable-lro/workflows"
)

// replaceWorker stops the env's worker (one client on the emulator's bare address, which serves
// every location) and starts one whose activities are acts.
func (e *env) replaceWorker(acts *activities.Activities) {
	e.t.Helper()
	e.worker.Stop()
	w := worker.New(e.c, e.taskQueue, worker.Options{})
	workflows.Register(w, acts)
	if err := w.Start(); err != nil {
		e.t.Fatalf("start worker: %v", err)
	}
	e.t.Cleanup(w.Stop)
	e.worker = w
}

// inLocation is a workflow input of createInput's with parent moved to project/location.
func inLocation(input, project, location string) string {
	return strings.Replace(input, fmt.Sprintf("%q", parent), fmt.Sprintf(`"projects/%s/locations/%s"`, project, location), 1)
}

// TestRunsInThreeRegionsAndAPromotionAcrossLocations runs the worker's production clients (one
// per endpoint, each naming its endpoint to the emulator, which refuses a resource of another
// location as Google does) end to end: a lifecycle in europe-west1 (train, deploy), a creation in
// us-central1 (the global endpoint), one in asia-south1 with the learned polling (its
// EstimateTraining scans asia-south1's operations), then a promotion of the europe-west1 model
// into us-central1 (export in europe-west1, import, deploy in us-central1).
func TestRunsInThreeRegionsAndAPromotionAcrossLocations(t *testing.T) {
	t.Parallel()
	e := newEnv(t, insightstest.Options{Buckets: []string{"itest-models"},
		// asia-south1's training lasts well past the early polls (12 s of real time, also on a
		// loaded machine), so that the learned polling decides.
		TrainingTimeFor: func(req *contactcenterinsightspb.CreateIssueModelRequest) time.Duration {
			if strings.Contains(req.GetParent(), "/asia-south1") {
				return 2 * time.Hour
			}
			return 10 * time.Minute
		}})
	r, err := insightsclient.NewRegional(context.Background(), insightsclient.RegionalOptions{
		EmulatorHost: e.emu.Addr(), ClientOptions: activities.ClientOptions()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	e.replaceWorker(&activities.Activities{Clients: r})

	europe := e.start(workflows.IssueModelLifecycleWorkflowType, inLocation(createInput("weekly", fastPolling), "itest", "europe-west1"))
	central := e.start(createType, inLocation(createInput("weekly", fastPolling), "itest", "us-central1"))
	mumbai := e.start(createType, inLocation(createInput("weekly", `"polling":{"initialInterval":"1s","maxInterval":"2s","learn":true}`), "itest", "asia-south1"))
	var lres workflows.LifecycleResult
	if err := europe.Get(e.ctx(), &lres); err != nil || lres.Outcome != workflows.LifecycleDeployed ||
		!strings.HasPrefix(lres.Model, "projects/itest/locations/europe-west1/issueModels/") {
		t.Fatalf("europe-west1 lifecycle: %+v, %v", lres, err)
	}
	for loc, run := range map[string]client.WorkflowRun{"us-central1": central, "asia-south1": mumbai} {
		res, err := e.result(run)
		if err != nil || res.Outcome != workflows.OutcomeSucceeded || !strings.HasPrefix(res.Operation, "projects/itest/locations/"+loc+"/operations/") {
			t.Errorf("%s: %+v, %v", loc, res, err)
		}
	}

	promo := e.start(workflows.IssueModelLifecycleWorkflowType, fmt.Sprintf(
		`{"parent":"projects/itest-prod/locations/us-central1","promote":{"fromModel":%q,"objectUri":"gs://itest-models/promoted.json"},%s}`,
		lres.Model, fastPolling))
	var pres workflows.LifecycleResult
	if err := promo.Get(e.ctx(), &pres); err != nil || pres.Outcome != workflows.LifecycleDeployed ||
		!strings.HasPrefix(pres.Model, "projects/itest-prod/locations/us-central1/issueModels/") {
		t.Fatalf("promotion from europe-west1 to us-central1: %+v, %v", pres, err)
	}
	st := e.emu.Stats()
	if st.RPCs["ListOperations"] == 0 {
		t.Error("no ListOperations: asia-south1's learned polling did not estimate")
	}
	if len(st.WrongEndpoint) != 0 {
		t.Errorf("calls refused as sent to the wrong endpoint: %v", st.WrongEndpoint)
	}
	if st.Exports["gs://itest-models/promoted.json"] != 1 || st.ModelsImported["projects/itest-prod/locations/us-central1"] != 1 {
		t.Errorf("exports %v, imports %v", st.Exports, st.ModelsImported)
	}
	want := []string{"asia-south1-contactcenterinsights.googleapis.com", "contactcenterinsights.googleapis.com", "europe-west1-contactcenterinsights.googleapis.com"}
	if got := r.Endpoints(); len(got) != len(want) {
		t.Errorf("clients for %v, want one for each of %v", got, want)
	}
}

// TestARunThroughTheGlobalEndpointIsRefused is the run that would have caught the bug: the
// worker as it was, with one client on the global endpoint, creating in europe-west1. The
// emulator refuses the creation as Google does, and the run fails at once with the error.
func TestARunThroughTheGlobalEndpointIsRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, insightstest.Options{})
	global, err := contactcenterinsights.NewClient(context.Background(), e.emu.ClientOptionsVia(insights.GlobalEndpoint+":443")...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = global.Close() })
	e.replaceWorker(&activities.Activities{Client: global})

	_, err = e.result(e.start(createType, inLocation(createInput("weekly", fastPolling), "itest", "europe-west1")))
	appErr, ok := errorsAs[*temporal.ApplicationError](err)
	if !ok || appErr.Type() != insightstest.WrongEndpointCode.String() || !appErr.NonRetryable() ||
		!strings.Contains(appErr.Error(), insightstest.WrongEndpointMessage) {
		t.Fatalf("run ended with %v, want the emulator's wrong-endpoint refusal", err)
	}
	if st := e.emu.Stats(); st.WrongEndpoint["CreateIssueModel"] != 1 || len(e.models()) != 0 {
		t.Errorf("refusals %v, models %v", st.WrongEndpoint, e.models())
	}
}
