package reliability_test

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/issuemodels/durable-lro/insights"
	"github.com/issuemodels/durable-lro/insightstest"
	"github.com/issuemodels/durable-lro/workflows"
)

// The malformed inputs of the unit table (workflows/input_test.go), minus the four that are not
// JSON at all (empty, whitespace, truncated, trailing data): `temporal workflow start --input`
// refuses those before anything reaches the server (see TestNonJSONPayloads).
const okModel = `"issueModel":{"displayName":"weekly","inputDataConfig":{"medium":"CHAT","filter":"medium=\"CHAT\""}}`
const okParent = `"parent":"projects/acme/locations/us-central1"`

func withPolicy(policy string) string {
	return `{` + okParent + `,` + okModel + `,"polling":` + policy + `}`
}
func withModel(model string) string   { return `{` + okParent + `,"issueModel":` + model + `}` }
func withParent(parent string) string { return `{"parent":` + parent + `,` + okModel + `}` }

var badInputs = []struct {
	name, input, field string
}{
	{"null", `null`, "parent"},
	{"empty object", `{}`, "parent"},
	{"array", `[]`, "input"},
	{"string", `"hello"`, "input"},
	{"number", `42`, "input"},
	{"unknown top-level field", `{` + okParent + `,` + okModel + `,"color":"red"}`, "color"},
	{"unknown nested field", withModel(`{"displayName":"x","labels":{}}`), "labels"},
	{"snake_case field", `{` + okParent + `,"issue_model":{"displayName":"x"}}`, "issue_model"},
	{"missing parent", `{` + okModel + `}`, "parent"},
	{"empty parent", withParent(`""`), "parent"},
	{"parent wrong type", withParent(`5`), "parent"},
	{"parent without location", withParent(`"projects/acme"`), "parent"},
	{"parent empty project", withParent(`"projects//locations/us-central1"`), "parent"},
	{"parent trailing slash", withParent(`"projects/acme/locations/us-central1/"`), "parent"},
	{"parent is a model name", withParent(`"projects/acme/locations/us-central1/issueModels/1"`), "parent"},
	{"parent uppercase", withParent(`"projects/ACME/locations/us-central1"`), "parent"},
	{"parent spaces", withParent(`"projects/ac me/locations/us-central1"`), "parent"},
	{"parent wrong collection", withParent(`"project/acme/locations/us-central1"`), "parent"},
	{"parent url", withParent(`"https://contactcenterinsights.googleapis.com/v1/projects/a/locations/b"`), "parent"},
	{"parent huge", withParent(`"projects/` + strings.Repeat("a", 5000) + `/locations/x"`), "parent"},
	{"missing issueModel", `{` + okParent + `}`, "issueModel.displayName"},
	{"issueModel null", withModel(`null`), "issueModel.displayName"},
	{"issueModel wrong type", withModel(`"weekly"`), "issueModel"},
	{"empty displayName", withModel(`{"displayName":""}`), "issueModel.displayName"},
	{"blank displayName", withModel(`{"displayName":"   "}`), "issueModel.displayName"},
	{"displayName number", withModel(`{"displayName":7}`), "issueModel.displayName"},
	{"displayName huge", withModel(`{"displayName":"` + strings.Repeat("x", 300) + `"}`), "issueModel.displayName"},
	{"displayName control char", withModel(`{"displayName":"week\u0007ly"}`), "issueModel.displayName"},
	{"displayName newline", withModel(`{"displayName":"week\nly"}`), "issueModel.displayName"},
	{"displayName invalid utf8", withModel("{\"displayName\":\"week\xffly\"}"), "issueModel.displayName"},
	{"medium unknown", withModel(`{"displayName":"x","inputDataConfig":{"medium":"EMAIL"}}`), "issueModel.inputDataConfig.medium"},
	{"medium lowercase", withModel(`{"displayName":"x","inputDataConfig":{"medium":"chat"}}`), "issueModel.inputDataConfig.medium"},
	{"medium number", withModel(`{"displayName":"x","inputDataConfig":{"medium":2}}`), "issueModel.inputDataConfig.medium"},
	{"inputDataConfig wrong type", withModel(`{"displayName":"x","inputDataConfig":[]}`), "issueModel.inputDataConfig"},
	{"filter huge", withModel(`{"displayName":"x","inputDataConfig":{"filter":"` + strings.Repeat("a", 9000) + `"}}`), "issueModel.inputDataConfig.filter"},
	{"filter control char", withModel(`{"displayName":"x","inputDataConfig":{"filter":"a\u0000b"}}`), "issueModel.inputDataConfig.filter"},
	{"filter invalid utf8", withModel("{\"displayName\":\"x\",\"inputDataConfig\":{\"filter\":\"\xc3\x28\"}}"), "issueModel.inputDataConfig.filter"},
	{"modelType unknown", withModel(`{"displayName":"x","modelType":"TYPE_V3"}`), "issueModel.modelType"},
	{"modelType number", withModel(`{"displayName":"x","modelType":2}`), "issueModel.modelType"},
	{"languageCode bad", withModel(`{"displayName":"x","languageCode":"english"}`), "issueModel.languageCode"},
	{"languageCode underscore", withModel(`{"displayName":"x","languageCode":"en_US"}`), "issueModel.languageCode"},
	{"output-only field", withModel(`{"displayName":"x","state":"DEPLOYED"}`), "state"},
	{"polling wrong type", withPolicy(`"fast"`), "polling"},
	{"initialInterval not a duration", withPolicy(`{"initialInterval":"soon"}`), "polling.initialInterval"},
	{"initialInterval number", withPolicy(`{"initialInterval":30}`), "polling.initialInterval"},
	{"initialInterval zero", withPolicy(`{"initialInterval":"0s"}`), "polling.initialInterval"},
	{"initialInterval negative", withPolicy(`{"initialInterval":"-5s"}`), "polling.initialInterval"},
	{"initialInterval too small", withPolicy(`{"initialInterval":"10ms"}`), "polling.initialInterval"},
	{"initialInterval huge", withPolicy(`{"initialInterval":"100000h"}`), "polling.initialInterval"},
	{"initialInterval days unit", withPolicy(`{"initialInterval":"1d"}`), "polling.initialInterval"},
	{"maxInterval below initial", withPolicy(`{"initialInterval":"1m","maxInterval":"10s"}`), "polling.maxInterval"},
	{"maxInterval negative", withPolicy(`{"maxInterval":"-1m"}`), "polling.maxInterval"},
	{"multiplier below one", withPolicy(`{"multiplier":0.5}`), "polling.multiplier"},
	{"multiplier negative", withPolicy(`{"multiplier":-2}`), "polling.multiplier"},
	{"multiplier huge", withPolicy(`{"multiplier":1e9}`), "polling.multiplier"},
	{"multiplier string", withPolicy(`{"multiplier":"2"}`), "polling.multiplier"},
	{"timeout below initial", withPolicy(`{"initialInterval":"1h","timeout":"1m"}`), "polling.timeout"},
	{"timeout huge", withPolicy(`{"timeout":"10000000h"}`), "polling.timeout"},
	{"timeout zero", withPolicy(`{"timeout":"0"}`), "polling.timeout"},
	{"jitter above one", withPolicy(`{"jitter":1.5}`), "polling.jitter"},
	{"jitter negative", withPolicy(`{"jitter":-0.1}`), "polling.jitter"},
	{"notFoundGrace huge", withPolicy(`{"notFoundGrace":"48h"}`), "polling.notFoundGrace"},
	{"continueAsNewAfterPolls negative", withPolicy(`{"continueAsNewAfterPolls":-1}`), "polling.continueAsNewAfterPolls"},
	{"continueAsNewAfterPolls fraction", withPolicy(`{"continueAsNewAfterPolls":1.5}`), "polling.continueAsNewAfterPolls"},
	{"unknown polling field", withPolicy(`{"interval":"1s"}`), "interval"},
	{"deleteModelIfCancelFails string", `{` + okParent + `,` + okModel + `,"deleteModelIfCancelFails":"yes"}`, "deleteModelIfCancelFails"},
	{"continuation bad operation", `{` + okParent + `,` + okModel + `,"continuation":{"operation":"nope"}}`, "continuation.operation"},
}

// viaCLI: these inputs are started with the Temporal CLI binary itself (`temporal workflow
// start --input`), the others as the raw JSON payload the CLI would send.
var viaCLI = map[string]bool{
	"null": true, "empty object": true, "unknown top-level field": true, "parent uppercase": true,
	"medium unknown": true, "initialInterval days unit": true,
}

// TestBadInputEndToEnd starts every malformed input through the real server: each run fails with
// a non-retryable ApplicationError of type InvalidArgument naming the field, the emulator sees no
// RPC at all, and no workflow task fails (no panic, no retry loop).
func TestBadInputEndToEnd(t *testing.T) {
	t.Parallel()
	if len(badInputs) < 50 {
		t.Fatalf("only %d inputs", len(badInputs))
	}
	emu := newEmulator(t, 60, insightstest.Options{})
	tq, prefix := names(t)
	f := newFleet(t, 1, workerEnv(devServer.HostPort, emu.Addr(), tq))
	defer f.stopAll()
	cli := filepath.Join(repoRoot, "bin", "temporal")

	var wg sync.WaitGroup
	var mu sync.Mutex
	failedOK, cliRuns, taskFailures := 0, 0, 0
	for i, tc := range badInputs {
		id := fmt.Sprintf("%s-%d", prefix, i)
		var run client.WorkflowRun
		if viaCLI[tc.name] {
			out, err := exec.Command(cli, "workflow", "start", "--address", devServer.HostPort, "--namespace", "default",
				"--task-queue", tq, "--type", workflows.CreateIssueModelWorkflowType, "--workflow-id", id,
				"--execution-timeout", "5m", "--input", tc.input).CombinedOutput()
			if err != nil {
				t.Errorf("%s: temporal workflow start: %v\n%s", tc.name, err, out)
				continue
			}
			cliRuns++
			t.Cleanup(func() { terminateIfRunning(devServer.Client, id) })
			run = devServer.Client.GetWorkflow(context.Background(), id, "")
		} else {
			run = startCreate(t, devServer.Client, id, tq, tc.input)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			err := run.Get(ctx, nil)
			var appErr *temporal.ApplicationError
			var fv insights.FieldViolation
			ok := true
			switch {
			case err == nil:
				t.Errorf("%s: the run succeeded", tc.name)
				ok = false
			case !errors.As(err, &appErr) || appErr.Type() != insights.ErrInvalidArgument || !appErr.NonRetryable():
				t.Errorf("%s: want a non-retryable InvalidArgument, got %v", tc.name, err)
				ok = false
			case appErr.Details(&fv) != nil || fv.Field != tc.field || !strings.HasPrefix(appErr.Error(), tc.field+": "):
				t.Errorf("%s: field %q, message %q; want field %q", tc.name, fv.Field, appErr.Error(), tc.field)
				ok = false
			}
			evs := history(t, devServer.Client, id, "")
			n := countEvents(evs, enumspb.EVENT_TYPE_WORKFLOW_TASK_FAILED)
			if n != 0 {
				t.Errorf("%s: %d WorkflowTaskFailed events", tc.name, n)
			}
			mu.Lock()
			defer mu.Unlock()
			taskFailures += n
			if ok {
				failedOK++
			}
		}()
	}
	wg.Wait()
	var rpcs int64
	for _, v := range emu.Stats().RPCs {
		rpcs += v
	}
	if rpcs != 0 {
		t.Errorf("the emulator saw %d RPCs, want 0: %v", rpcs, emu.Stats().RPCs)
	}
	t.Logf("FIGURE bad-input inputs=%d viaCLI=%d failedInvalidArgumentNamingField=%d emulatorRPCs=%d workflowTaskFailed=%d",
		len(badInputs), cliRuns, failedOK, rpcs, taskFailures)
}

// TestNonJSONPayloads documents what the CLI protects against: `temporal workflow start
// --input` refuses input that is not JSON, so such bytes can only come from a client that
// builds payloads by hand. The SDK then fails the run at once (no workflow task failure loop, no
// RPC), though with the SDK's untyped decode error rather than InvalidArgument.
func TestNonJSONPayloads(t *testing.T) {
	t.Parallel()
	cli := filepath.Join(repoRoot, "bin", "temporal")
	out, err := exec.Command(cli, "workflow", "start", "--address", devServer.HostPort, "--namespace", "default",
		"--task-queue", "rel-nonjson-unused", "--type", workflows.CreateIssueModelWorkflowType,
		"--workflow-id", fmt.Sprintf("rel-nonjson-cli-%d", time.Now().UnixNano()), "--input", `{"parent":`).CombinedOutput()
	if err == nil {
		t.Errorf("the CLI accepted truncated JSON: %s", out)
	}
	emu := newEmulator(t, 60, insightstest.Options{})
	tq, prefix := names(t)
	f := newFleet(t, 1, workerEnv(devServer.HostPort, emu.Addr(), tq))
	defer f.stopAll()
	var results []string
	for i, raw := range []string{`{"parent":`, `{"parent":"projects/a/locations/b"} {}`, ``} {
		id := fmt.Sprintf("%s-%d", prefix, i)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		run, err := devServer.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: tq, WorkflowExecutionTimeout: 20 * time.Second},
			workflows.CreateIssueModelWorkflowType, rawJSON([]byte(raw)))
		cancel()
		if err != nil {
			t.Fatalf("start: %v", err)
		}
		t.Cleanup(func() { terminateIfRunning(devServer.Client, id) })
		ctx, cancel = context.WithTimeout(context.Background(), 8*time.Second)
		err = run.Get(ctx, nil)
		cancel()
		n := countEvents(history(t, devServer.Client, id, ""), enumspb.EVENT_TYPE_WORKFLOW_TASK_FAILED)
		results = append(results, fmt.Sprintf("%q:type=%s/workflowTaskFailed=%d", raw, errType(err), n))
		if err == nil || n != 0 {
			t.Errorf("%q: error %v, %d WorkflowTaskFailed; want a failed run and none", raw, err, n)
		}
	}
	var rpcs int64
	for _, v := range emu.Stats().RPCs {
		rpcs += v
	}
	if rpcs != 0 {
		t.Errorf("the emulator saw %d RPCs", rpcs)
	}
	t.Logf("FIGURE non-json-payloads cliRefuses=true emulatorRPCs=%d %s", rpcs, strings.Join(results, " "))
}
