package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	contactcenterinsightspb "cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
)

// profiles are the emulators the scenarios run on (cmd/insights-emulator flags); each has its
// own worker on task queue "rec-<profile>". Training times are emulated time at -time-scale.
var profiles = map[string][]string{
	// Trainings of 4 s, deployments of 1 s of real time.
	"fast": {"-training-time", "2m", "-time-scale", "30", "-deploy-time", "30s", "-undeploy-time", "30s", "-delete-time", "10s"},
	// Nothing finishes while recording: runs caught in flight.
	"slow":        {"-training-time", "1000h", "-deploy-time", "1000h"},
	"unimpl":      {"-training-time", "2m", "-time-scale", "15", "-cancel-mode", "unimplemented"},
	"slow-unimpl": {"-training-time", "1000h", "-cancel-mode", "unimplemented"},
	"refuse":      {"-fault", "CreateIssueModel:PERMISSION_DENIED:1", "-fault", "GetOperation:PERMISSION_DENIED:1"},
	// Every mutating call is committed but answered UNAVAILABLE.
	"lossy": {"-training-time", "2m", "-time-scale", "10", "-lost-reply-rate", "1", "-deploy-time", "30s", "-undeploy-time", "30s"},
	// Ten models can train at once, to fill a location.
	"prune":         {"-training-time", "2m", "-time-scale", "60", "-max-concurrent-creates", "100", "-deploy-time", "30s", "-delete-time", "10s"},
	"slow-deploy":   {"-training-time", "2m", "-time-scale", "30", "-deploy-time", "3000h", "-undeploy-time", "30s"},
	"slow-retire":   {"-training-time", "2m", "-time-scale", "30", "-deploy-time", "30s", "-undeploy-time", "20m"},
	"stuck-retire":  {"-training-time", "2m", "-time-scale", "30", "-deploy-time", "30s", "-undeploy-time", "3000h"},
	"slow-creation": {"-latency", "CreateIssueModel:1h:1"},
	// The pipeline steps (ingest, analyze, export, import) on a fake bucket of 60 transcripts;
	// checkouts older than these steps lack the flags, and their scenarios are skipped.
	"pipeline": {"-training-time", "2m", "-time-scale", "30", "-deploy-time", "30s", "-ingest-time", "1m", "-analyze-time", "2m",
		"-export-time", "10s", "-import-time", "30s", "-min-training-conversations", "10",
		"-gcs-transcripts", "gs://rec-chats/weekly=60", "-gcs-bucket", "rec-models"},
	"slow-pipeline": {"-ingest-time", "1000h", "-min-training-conversations", "10", "-gcs-transcripts", "gs://rec-chats/weekly=60"},
	// Operations invisible for their first 2 s (NOT_FOUND, tolerated within notFoundGrace).
	"invisible": {"-training-time", "2m", "-time-scale", "30", "-visibility-delay", "1m"},
	// Half the GetOperation and CreateIssueModel calls fail UNAVAILABLE.
	"flaky": {"-training-time", "2m", "-time-scale", "30", "-fault", "GetOperation:UNAVAILABLE:0.5", "-fault", "CreateIssueModel:UNAVAILABLE:0.5"},
	// Its task queue serves each project two API calls a second (the server's fairness-key
	// limit): runs' polls wait in the queue for the budget.
	"throttled": {"-training-time", "2m", "-time-scale", "10"},
	// Locations that trained before (polling.learn): 60 finished trainings of 10-14 min each,
	// 20-28 s of real time, so a learned run skips from its early polls to ~19 s.
	"learned": {"-training-time", "uniform:10m-14m", "-time-scale", "30", "-max-concurrent-creates", "-1",
		"-finished-trainings", learnedParent + "=60", "-finished-trainings", learnedInflightParent + "=60"},
}

// The locations of profile "learned" that hold finished trainings.
const (
	learnedParent         = "projects/rec-learned/locations/us-central1"
	learnedInflightParent = "projects/rec-learned-inflight/locations/us-central1"
)

// workerArgs are extra worker flags of a profile.
var workerArgs = map[string][]string{
	"throttled": {"-project-requests-per-second", "2", "-task-queue-activities-per-second", "4"},
	"learned":   {"-api-time-scale", "30"},
}

// Polling policies (JSON) the scenarios use; real-time seconds.
const (
	quick = `{"initialInterval":"1s","multiplier":1.5,"maxInterval":"2s"}`
	// sparse polls at 1s, 10s, 100s...: a run caught between polls stays put while recorded.
	sparse = `{"initialInterval":"1s","multiplier":10,"maxInterval":"24h"}`
	// learned is quick with the learned schedule.
	learned = `{"initialInterval":"1s","multiplier":1.5,"maxInterval":"2s","learn":true}`
)

type scenario struct {
	name string
	run  func(s *scene) error
}

func createInput(parent, displayName, polling, extra string) string {
	in := fmt.Sprintf(`{"parent":%q,"issueModel":{"displayName":%q,"inputDataConfig":{"medium":"CHAT","filter":"medium=\"CHAT\""}}`, parent, displayName)
	if polling != "" {
		in += `,"polling":` + polling
	}
	return in + extra + "}"
}

func lifecycleInput(parent, displayName, polling, extra string) string {
	return createInput(parent, displayName, polling, `,"qualityGate":{"minAnalyzedConversations":1}`+extra)
}

// pipelineInput is a lifecycle that ingests and analyzes the fake bucket before training and,
// with export, exports the deployed model to gs://rec-models/<name>.json.
func pipelineInput(parent, name, polling string, export bool) string {
	extra := `,"ingest":{"gcsSource":{"bucketUri":"gs://rec-chats/weekly"},"transcriptObjectConfig":{"medium":"CHAT"}},"analyze":{"analysisPercentage":100}`
	if export {
		extra += fmt.Sprintf(`,"export":{"gcsDestination":{"objectUri":"gs://rec-models/%s.json"}}`, name)
	}
	return lifecycleInput(parent, name, polling, extra)
}

func awaitInput(operation, polling string) string {
	in := fmt.Sprintf(`{"operation":%q`, operation)
	if polling != "" {
		in += `,"polling":` + polling
	}
	return in + "}"
}

func createRequest(parent, displayName string) *contactcenterinsightspb.CreateIssueModelRequest {
	return &contactcenterinsightspb.CreateIssueModelRequest{Parent: parent, IssueModel: &contactcenterinsightspb.IssueModel{
		DisplayName:     displayName,
		InputDataConfig: &contactcenterinsightspb.IssueModel_InputDataConfig{Filter: `medium="CHAT"`},
	}}
}

const (
	create    = "CreateIssueModelWorkflow"
	await     = "AwaitOperationWorkflow"
	lifecycle = "IssueModelLifecycleWorkflow"
)

var cancelReason = map[string]string{"reason": "recorded cancel"}

// done waits for the runs to close and records them.
func (s *scene) done(ids ...string) error {
	for _, id := range ids {
		must(s.waitClosed(id))
	}
	return s.now(ids...)
}

// now records the runs as they are.
func (s *scene) now(ids ...string) error {
	for _, id := range ids {
		if err := s.record(id); err != nil {
			return err
		}
	}
	return nil
}

// cancelAfterPoll starts a creation on profile, cancels it with how once it has polled, and
// records it when it has ended.
func (s *scene) cancelAfterPoll(profile, extra string, how func(id string)) error {
	id := s.start(profile, create, "", createInput(s.parent, "weekly", quick, extra))
	s.waitPolls(id, 1)
	how(id)
	return s.done(id)
}

// replaceDeployed runs a lifecycle to its end (it deploys, and has nothing to retire), then a
// second one of the same pipeline with polling, until the second is retiring the first.
func (s *scene) replaceDeployed(profile, polling string) (second string) {
	must(s.done(s.start(profile, lifecycle, "first", lifecycleInput(s.parent, "weekly", quick, ""))))
	second = s.start(profile, lifecycle, "second", lifecycleInput(s.parent, "weekly", polling, ""))
	s.waitStep(second, "retire-previous")
	return second
}

// cancelDuringStep starts a lifecycle on profile, cancels it with how once the step's child has
// polled, and records it when it has ended.
func (s *scene) cancelDuringStep(profile, step string, how func(id string)) error {
	id := s.start(profile, lifecycle, "", lifecycleInput(s.parent, "weekly", quick, ""))
	s.waitStep(id, step)
	s.waitPolls(id+"-"+step, 1)
	how(id)
	return s.done(id)
}

// signalCancel cancels with the cancel signal and its payload.
func (s *scene) signalCancel(payload any) func(id string) {
	return func(id string) { s.signal(id, "cancel", payload) }
}

// must ends the scenario on err (safeRun turns the panic into the scenario's error), so that
// the scenarios read as the steps they take.
func must(err error) {
	if err != nil {
		panic(err)
	}
}

func (sc scenario) safeRun(s *scene) (err error) {
	defer func() {
		if p := recover(); p != nil {
			if e, ok := p.(error); ok {
				err = e
				return
			}
			err = fmt.Errorf("%v", p)
		}
	}()
	return sc.run(s)
}

var scenarios = []scenario{
	// CreateIssueModelWorkflow, to its end.
	{"create-succeeded", func(s *scene) error {
		return s.done(s.start("fast", create, "", createInput(s.parent, "weekly", quick, "")))
	}},
	{"create-default-policy", func(s *scene) error {
		return s.done(s.start("fast", create, "", createInput(s.parent, "weekly", "", "")))
	}},
	{"create-poll-now", func(s *scene) error {
		id := s.start("fast", create, "", createInput(s.parent, "weekly", `{"initialInterval":"30s","maxInterval":"30s"}`, ""))
		s.waitFor(id, "a timer", func(st map[string]any) bool { return st["phase"] == "polling" && st["nextPollAt"] != nil })
		s.sleep(5 * time.Second) // the training is done: poll-now sees it
		s.signal(id, "poll-now", nil)
		return s.done(id)
	}},
	// The cancel and poll-now updates (releases with updates-cancel-poll-now).
	{"create-cancel-update", func(s *scene) error {
		return s.cancelAfterPoll("slow", "", func(id string) { s.update(id, "cancel", cancelReason) })
	}},
	{"create-poll-now-update", func(s *scene) error {
		id := s.start("fast", create, "", createInput(s.parent, "weekly", `{"initialInterval":"30s","maxInterval":"30s"}`, ""))
		s.waitFor(id, "a timer", func(st map[string]any) bool { return st["phase"] == "polling" && st["nextPollAt"] != nil })
		s.update(id, "poll-now", nil)
		s.sleep(5 * time.Second) // the training is done: the next poll-now sees it
		s.update(id, "poll-now", nil)
		return s.done(id)
	}},
	{"create-continue-as-new", func(s *scene) error {
		return s.done(s.start("fast", create, "", createInput(s.parent, "weekly", `{"initialInterval":"1s","maxInterval":"1s","jitter":0,"continueAsNewAfterPolls":1}`, "")))
	}},
	{"create-quota-wait", func(s *scene) error {
		// One creation per location at a time: the second waits out RESOURCE_EXHAUSTED.
		a := s.start("fast", create, "first", createInput(s.parent, "weekly", quick, ""))
		s.waitFor(a, "the operation", func(st map[string]any) bool { return st["operation"] != nil })
		b := s.start("fast", create, "second", createInput(s.parent, "weekly", quick, ""))
		return s.done(a, b)
	}},
	{"create-cancel-signal", func(s *scene) error { return s.cancelAfterPoll("slow", "", s.signalCancel(cancelReason)) }},
	{"create-temporal-cancel", func(s *scene) error { return s.cancelAfterPoll("slow", "", s.cancel) }},
	{"inflight-create-temporal-cancel-while-creating", func(s *scene) error {
		// Temporal's cancel arrives while CreateIssueModel is still running (slow to answer).
		id := s.start("slow-creation", create, "", createInput(s.parent, "weekly", quick, ""))
		s.waitFor(id, "creating", func(st map[string]any) bool { return st["phase"] == "creating" })
		s.cancel(id)
		return s.now(id) // in flight: the activity runs to its 2m timeout
	}},
	{"create-poll-timeout", func(s *scene) error {
		return s.done(s.start("slow", create, "", createInput(s.parent, "weekly", `{"initialInterval":"1s","maxInterval":"1s","timeout":"4s"}`, "")))
	}},
	{"create-cancel-unimplemented", func(s *scene) error { return s.cancelAfterPoll("unimpl", "", s.signalCancel(cancelReason)) }},
	{"create-cancel-unimplemented-delete", func(s *scene) error {
		return s.cancelAfterPoll("unimpl", `,"deleteModelIfCancelFails":true`, s.signalCancel(nil))
	}},
	{"create-temporal-cancel-unimplemented", func(s *scene) error { return s.cancelAfterPoll("unimpl", "", s.cancel) }},
	{"create-refused", func(s *scene) error {
		return s.done(s.start("refuse", create, "", createInput(s.parent, "weekly", quick, "")))
	}},
	{"create-lost-replies", func(s *scene) error {
		return s.done(s.start("lossy", create, "", createInput(s.parent, "weekly", quick, "")))
	}},
	{"create-lost-replies-cancel", func(s *scene) error {
		id := s.start("lossy", create, "", createInput(s.parent, "weekly", quick, ""))
		s.waitPolls(id, 1)
		s.signal(id, "cancel", cancelReason)
		return s.done(id)
	}},
	{"create-bad-input", func(s *scene) error {
		return s.done(
			s.start("fast", create, "empty-display-name", createInput(s.parent, "", "", "")),
			s.start("fast", create, "unknown-field", createInput(s.parent, "weekly", "", `,"color":"red"`)),
			s.start("fast", create, "bad-parent", createInput("projects/x", "weekly", "", "")),
			s.start("fast", create, "bad-policy", createInput(s.parent, "weekly", `{"multiplier":100}`, "")),
			s.start("fast", create, "null", `null`),
			s.start("fast", create, "wrong-type", `{"parent":42}`),
		)
	}},

	// AwaitOperationWorkflow.
	{"await-succeeded", func(s *scene) error {
		op := s.startOperation("fast", s.parent, "weekly")
		return s.done(s.start("fast", await, "", awaitInput(op, quick)))
	}},
	{"await-continue-as-new", func(s *scene) error {
		op := s.startOperation("fast", s.parent, "weekly")
		return s.done(s.start("fast", await, "", awaitInput(op, `{"initialInterval":"1s","maxInterval":"1s","continueAsNewAfterPolls":2}`)))
	}},
	{"await-operation-lost", func(s *scene) error {
		return s.done(s.start("fast", await, "", awaitInput(s.parent+"/operations/missing", `{"initialInterval":"1s","notFoundGrace":"0s"}`)))
	}},
	{"await-refused", func(s *scene) error {
		return s.done(s.start("refuse", await, "", awaitInput(s.parent+"/operations/any", quick)))
	}},
	{"await-cancel-signal", func(s *scene) error {
		op := s.startOperation("slow", s.parent, "weekly")
		id := s.start("slow", await, "", awaitInput(op, quick))
		s.waitPolls(id, 2)
		s.signal(id, "cancel", cancelReason)
		return s.done(id)
	}},
	{"await-bad-input", func(s *scene) error {
		return s.done(
			s.start("fast", await, "bad-name", awaitInput("operations/nope", "")),
			s.start("fast", await, "unknown-field", `{"operation":"projects/p/locations/l/operations/o","extra":1}`),
		)
	}},

	// IssueModelLifecycleWorkflow and its child runs.
	{"lifecycle-deployed-then-replaced", func(s *scene) error {
		first := s.start("fast", lifecycle, "first", lifecycleInput(s.parent, "weekly", quick, ""))
		s.done(first)
		return s.done(s.start("fast", lifecycle, "second", lifecycleInput(s.parent, "weekly", quick, `,"deleteReplaced":true`)))
	}},
	{"lifecycle-gate-rejects-and-deletes", func(s *scene) error {
		return s.done(s.start("fast", lifecycle, "", createInput(s.parent, "weekly", quick, `,"qualityGate":{"minIssueCount":1000000},"deleteRejected":true`)))
	}},
	{"lifecycle-gate-rejects-and-keeps", func(s *scene) error {
		return s.done(s.start("fast", lifecycle, "", createInput(s.parent, "weekly", quick, `,"qualityGate":{"minAnalyzedConversations":1000000000}`)))
	}},
	{"lifecycle-prunes-old-models", func(s *scene) error {
		// A full location (10 models of this pipeline): the run deletes the oldest first.
		for range 10 {
			s.startOperation("prune", s.parent, "weekly")
		}
		s.sleep(4 * time.Second) // trainings of 2 s
		return s.done(s.start("prune", lifecycle, "", lifecycleInput(s.parent, "weekly", quick, `,"deleteReplaced":true`)))
	}},
	{"lifecycle-replaces-named", func(s *scene) error {
		first := s.start("fast", lifecycle, "first", lifecycleInput(s.parent, "weekly", quick, ""))
		s.done(first)
		var res struct {
			Model string `json:"model"`
		}
		must(s.r.tc.GetWorkflow(s.ctx, first, "").Get(s.ctx, &res))
		replaces, _ := json.Marshal([]string{res.Model})
		return s.done(s.start("fast", lifecycle, "second", lifecycleInput(s.parent, "other", quick, `,"replaces":`+string(replaces))))
	}},
	{"lifecycle-cancel-during-create", func(s *scene) error {
		return s.cancelDuringStep("slow", "create", s.signalCancel(cancelReason))
	}},
	{"lifecycle-temporal-cancel-during-deploy", func(s *scene) error {
		return s.cancelDuringStep("slow-deploy", "deploy", s.cancel)
	}},
	{"lifecycle-cancel-during-retire", func(s *scene) error {
		second := s.replaceDeployed("slow-retire", quick)
		s.signal(second, "cancel", cancelReason)
		return s.done(second)
	}},
	{"lifecycle-lost-replies", func(s *scene) error {
		return s.done(s.start("lossy", lifecycle, "", lifecycleInput(s.parent, "weekly", quick, "")))
	}},
	{"lifecycle-bad-input", func(s *scene) error {
		return s.done(
			s.start("fast", lifecycle, "bad-parent", lifecycleInput("projects/x", "weekly", "", "")),
			s.start("fast", lifecycle, "negative-gate", createInput(s.parent, "weekly", "", `,"qualityGate":{"minIssueCount":-1}`)),
		)
	}},

	// The pipeline steps of the lifecycle, and a promotion between projects.
	{"pipeline-then-promotion", func(s *scene) error {
		staging := s.start("pipeline", lifecycle, "staging", pipelineInput(s.parent, "weekly", quick, true))
		must(s.done(staging))
		var res struct {
			Model string `json:"model"`
		}
		must(s.r.tc.GetWorkflow(s.ctx, staging, "").Get(s.ctx, &res))
		prod := strings.Replace(s.parent, "projects/", "projects/prod-", 1)
		return s.done(s.start("pipeline", lifecycle, "promotion", fmt.Sprintf(
			`{"parent":%q,"promote":{"fromModel":%q,"objectUri":"gs://rec-models/promoted.json"},"polling":%s,"qualityGate":{"minIssueCount":1}}`,
			prod, res.Model, quick)))
	}},
	{"pipeline-cancel-during-ingest", func(s *scene) error {
		id := s.start("slow-pipeline", lifecycle, "", pipelineInput(s.parent, "weekly", quick, false))
		s.waitStep(id, "ingest")
		s.waitPolls(id+"-ingest", 1)
		s.signal(id, "cancel", cancelReason)
		return s.done(id)
	}},

	// The learned schedule: applied (a location with history), and on thin history.
	{"create-learned", func(s *scene) error {
		return s.done(s.start("learned", create, "", createInput(learnedParent, "weekly", learned, "")))
	}},
	{"create-learned-thin-history", func(s *scene) error {
		return s.done(s.start("fast", create, "", createInput(s.parent, "weekly", learned, "")))
	}},

	// Runs caught in flight: what an upgraded worker meets.
	{"inflight-create-learned", func(s *scene) error {
		// A training beside it (a running peer), so that the skip re-checks its estimate.
		peer := s.start("learned", create, "peer", createInput(learnedInflightParent, "peer", quick, ""))
		s.waitFor(peer, "the peer's operation", func(st map[string]any) bool { return st["operation"] != nil })
		id := s.start("learned", create, "", createInput(learnedInflightParent, "weekly", learned, ""))
		s.waitFor(id, "a re-check of the learned skip", func(st map[string]any) bool {
			l, _ := st["learned"].(map[string]any)
			return l["applied"] == true && l["rechecks"] != nil
		})
		return s.now(id)
	}},
	{"inflight-pipeline-ingest", func(s *scene) error {
		id := s.start("slow-pipeline", lifecycle, "", pipelineInput(s.parent, "weekly", sparse, true))
		s.waitStep(id, "ingest")
		s.waitPolls(id+"-ingest", 2)
		return s.now(id)
	}},
	{"inflight-create-polling", func(s *scene) error {
		id := s.start("slow", create, "", createInput(s.parent, "weekly", sparse, ""))
		s.waitPolls(id, 2)
		return s.now(id)
	}},
	{"inflight-create-default-policy", func(s *scene) error {
		id := s.start("slow", create, "", createInput(s.parent, "weekly", "", ""))
		s.waitPolls(id, 1)
		return s.now(id)
	}},
	{"inflight-create-after-poll-now", func(s *scene) error {
		id := s.start("slow", create, "", createInput(s.parent, "weekly", `{"initialInterval":"1h"}`, ""))
		s.waitFor(id, "a timer", func(st map[string]any) bool { return st["nextPollAt"] != nil })
		s.signal(id, "poll-now", nil)
		s.waitPolls(id, 1)
		return s.now(id)
	}},
	{"inflight-create-quota-wait", func(s *scene) error {
		a := s.start("slow", create, "first", createInput(s.parent, "weekly", sparse, ""))
		s.waitPolls(a, 1)
		b := s.start("slow", create, "second", createInput(s.parent, "weekly", sparse, ""))
		s.waitFor(b, "a refused creation", func(st map[string]any) bool { return st["lastError"] != nil })
		s.sleep(6 * time.Second) // a second attempt, refused again
		return s.now(a, b)
	}},
	{"inflight-create-activity-running", func(s *scene) error {
		id := s.start("slow-creation", create, "", createInput(s.parent, "weekly", quick, ""))
		s.waitFor(id, "creating", func(st map[string]any) bool { return st["phase"] == "creating" })
		s.sleep(time.Second)
		return s.now(id)
	}},
	{"inflight-create-cancel-signal-while-creating", func(s *scene) error {
		id := s.start("slow-creation", create, "", createInput(s.parent, "weekly", quick, ""))
		s.waitFor(id, "creating", func(st map[string]any) bool { return st["phase"] == "creating" })
		s.signal(id, "cancel", cancelReason)
		s.waitFor(id, "cancel requested", func(st map[string]any) bool { return st["cancelRequested"] == true })
		return s.now(id)
	}},
	{"inflight-create-cancelling-unimplemented", func(s *scene) error {
		id := s.start("slow-unimpl", create, "", createInput(s.parent, "weekly", sparse, ""))
		s.waitPolls(id, 1)
		s.signal(id, "cancel", cancelReason)
		s.waitFor(id, "UNIMPLEMENTED", func(st map[string]any) bool { return st["cancelUnimplemented"] == true })
		s.sleep(2 * time.Second)
		return s.now(id)
	}},
	{"inflight-create-temporal-cancel-unimplemented", func(s *scene) error {
		id := s.start("slow-unimpl", create, "", createInput(s.parent, "weekly", sparse, ""))
		s.waitPolls(id, 1)
		s.cancel(id)
		s.waitFor(id, "UNIMPLEMENTED", func(st map[string]any) bool { return st["cancelUnimplemented"] == true })
		s.sleep(2 * time.Second)
		return s.now(id)
	}},
	{"inflight-create-continued-as-new", func(s *scene) error {
		id := s.start("slow", create, "", createInput(s.parent, "weekly", `{"initialInterval":"1s","maxInterval":"1s","continueAsNewAfterPolls":2}`, ""))
		s.waitFor(id, "two continuations", func(st map[string]any) bool { n, _ := st["continuedAsNew"].(float64); return n >= 2 })
		return s.now(id)
	}},
	{"inflight-await-polling", func(s *scene) error {
		op := s.startOperation("slow", s.parent, "weekly")
		id := s.start("slow", await, "", awaitInput(op, sparse))
		s.waitPolls(id, 2)
		return s.now(id)
	}},
	{"inflight-await-after-poll-now", func(s *scene) error {
		op := s.startOperation("slow", s.parent, "weekly")
		id := s.start("slow", await, "", awaitInput(op, `{"initialInterval":"1h"}`))
		s.waitPolls(id, 1)
		s.signal(id, "poll-now", nil)
		s.waitPolls(id, 2)
		return s.now(id)
	}},
	{"inflight-lifecycle-create", func(s *scene) error {
		id := s.start("slow", lifecycle, "", lifecycleInput(s.parent, "weekly", sparse, ""))
		s.waitStep(id, "create")
		s.waitPolls(id+"-create", 2)
		return s.now(id)
	}},
	{"inflight-lifecycle-deploy", func(s *scene) error {
		id := s.start("slow-deploy", lifecycle, "", lifecycleInput(s.parent, "weekly", sparse, ""))
		s.waitStep(id, "deploy")
		s.waitPolls(id+"-deploy", 2)
		return s.now(id)
	}},
	{"inflight-lifecycle-retire", func(s *scene) error {
		second := s.replaceDeployed("stuck-retire", sparse)
		s.sleep(3 * time.Second) // the undeploy's child has polled
		return s.now(second)
	}},
	{"inflight-lifecycle-cancelling", func(s *scene) error {
		id := s.start("slow-unimpl", lifecycle, "", lifecycleInput(s.parent, "weekly", sparse, ""))
		s.waitStep(id, "create")
		s.waitPolls(id+"-create", 1)
		s.signal(id, "cancel", cancelReason)
		s.waitFor(id+"-create", "UNIMPLEMENTED", func(st map[string]any) bool { return st["cancelUnimplemented"] == true })
		s.sleep(2 * time.Second)
		return s.now(id)
	}},

	// Paths added after the first recording (recorded for every release since).
	{"lifecycle-deploy-quota-full-undeploys-first", func(s *scene) error {
		// Five deployed models fill the location; the sixth run replaces "weekly" by undeploying it first.
		for _, name := range []string{"a", "b", "c", "d", "weekly"} {
			must(s.done(s.start("fast", lifecycle, name, lifecycleInput(s.parent, name, quick, ""))))
		}
		return s.done(s.start("fast", lifecycle, "replacement", lifecycleInput(s.parent, "weekly", quick, "")))
	}},
	{"lifecycle-deploy-quota-full-refused", func(s *scene) error {
		for _, name := range []string{"a", "b", "c", "d", "e"} {
			must(s.done(s.start("fast", lifecycle, name, lifecycleInput(s.parent, name, quick, ""))))
		}
		return s.done(s.start("fast", lifecycle, "sixth", lifecycleInput(s.parent, "f", quick, "")))
	}},
	{"lifecycle-location-full-refused", func(s *scene) error {
		for range 10 {
			s.startOperation("prune", s.parent, "weekly")
		}
		s.sleep(4 * time.Second)
		return s.done(s.start("prune", lifecycle, "", lifecycleInput(s.parent, "weekly", quick, "")))
	}},
	{"lifecycle-temporal-cancel-during-create", func(s *scene) error {
		return s.cancelDuringStep("slow", "create", s.cancel)
	}},
	{"create-not-found-at-first", func(s *scene) error {
		return s.done(s.start("invisible", create, "", createInput(s.parent, "weekly", quick, "")))
	}},
	{"create-cancel-before-listed", func(s *scene) error {
		// The cancel reaches CancelOperation while the new operation is not listed yet (NOT_FOUND):
		// it is tried again before each poll until the server takes it.
		id := s.start("invisible", create, "", createInput(s.parent, "weekly", quick, ""))
		s.signal(id, "cancel", cancelReason)
		return s.done(id)
	}},
	{"create-transient-faults", func(s *scene) error {
		return s.done(s.start("flaky", create, "", createInput(s.parent, "weekly", quick, "")))
	}},
	{"create-poll-budget-spent", func(s *scene) error {
		var ids []string
		for i := range 8 {
			ids = append(ids, s.start("throttled", create, fmt.Sprint(i), createInput(strings.Replace(s.parent, "/locations/", fmt.Sprintf("-%d/locations/", i), 1), "weekly", `{"initialInterval":"1s","multiplier":1,"maxInterval":"1s","jitter":0}`, "")))
		}
		return s.done(ids...)
	}},
	{"create-age-fraction", func(s *scene) error {
		return s.done(s.start("fast", create, "", createInput(s.parent, "weekly", `{"initialInterval":"1s","maxInterval":"1s","ageFraction":0.5}`, "")))
	}},
	{"await-poll-timeout", func(s *scene) error {
		op := s.startOperation("slow", s.parent, "weekly")
		return s.done(s.start("slow", await, "", awaitInput(op, `{"initialInterval":"1s","maxInterval":"1s","timeout":"3s"}`)))
	}},
	{"await-temporal-cancel", func(s *scene) error {
		op := s.startOperation("slow", s.parent, "weekly")
		id := s.start("slow", await, "", awaitInput(op, quick))
		s.waitPolls(id, 1)
		s.cancel(id)
		return s.done(id)
	}},
}
