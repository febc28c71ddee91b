package reliability_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	failurepb "go.temporal.io/api/failure/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/issuemodels/durable-lro/codec"
	"github.com/issuemodels/durable-lro/insightstest"
)

// TestSecretsStayOut runs a worker process holding fake secrets — a Temporal API key
// (TEMPORAL_API_KEY, sent as a header; TEMPORAL_TLS=false because the dev server has no TLS),
// a Google credentials file (GOOGLE_APPLICATION_CREDENTIALS) and a made-up token variable — at
// debug log level, runs a successful and a failing workflow, and scans every history event (binary
// and JSON forms, so payload bytes are covered), the worker's logs and the dev server's log for
// the secrets and their base64 forms.
func TestSecretsStayOut(t *testing.T) {
	t.Parallel()
	secret := func(prefix string) string {
		b := make([]byte, 12)
		_, _ = rand.Read(b)
		return prefix + hex.EncodeToString(b)
	}
	apiKey, googleKey, token := secret("fake-api-key-"), secret("fake-private-key-"), secret("fake-token-")
	dir := t.TempDir()
	credFile := filepath.Join(dir, "credentials.json")
	if err := os.WriteFile(credFile, []byte(fmt.Sprintf(`{"type":"service_account","private_key":%q}`, googleKey)), 0o600); err != nil {
		t.Fatal(err)
	}
	emu := newEmulator(t, 60, insightstest.Options{TrainingTime: fixed(5 * time.Minute)})
	tq, prefix := names(t)
	f := newFleet(t, 1, workerEnv(devServer.HostPort, emu.Addr(), tq,
		"TEMPORAL_API_KEY="+apiKey, "TEMPORAL_TLS=false", "GOOGLE_APPLICATION_CREDENTIALS="+credFile,
		"INSIGHTS_API_TOKEN="+token, "LOG_LEVEL=debug"))

	ok := startCreate(t, devServer.Client, prefix+"-ok", tq, createInput("projects/secrets/locations/us-central1", "secrets-ok",
		`"polling":{"initialInterval":"1s"}`))
	var res createResult
	if err := get(ok, &res); err != nil {
		t.Fatalf("the worker with an API key did not run the workflow: %v", err)
	}
	emu.SetFaults("CreateIssueModel", insightstest.Fault{Code: codes.PermissionDenied, Probability: 1})
	bad := startCreate(t, devServer.Client, prefix+"-denied", tq, createInput("projects/secrets/locations/us-central1", "secrets-denied"))
	if err := get(bad, nil); err == nil {
		t.Fatal("the denied run succeeded")
	}
	emu.ClearFaults()
	f.stopAll()

	needles := map[string][]byte{}
	for name, s := range map[string]string{"api key": apiKey, "google key": googleKey, "token": token} {
		needles[name] = []byte(s)
		needles[name+" (base64)"] = []byte(base64.StdEncoding.EncodeToString([]byte(s)))
	}
	var haystacks []struct {
		what string
		data []byte
	}
	events := 0
	for _, id := range []string{ok.GetID(), bad.GetID()} {
		for _, ev := range history(t, devServer.Client, id, "") {
			events++
			b, _ := proto.Marshal(ev)
			j, _ := protojson.Marshal(ev)
			haystacks = append(haystacks, struct {
				what string
				data []byte
			}{fmt.Sprintf("%s event %d (%v)", id, ev.GetEventId(), ev.GetEventType()), append(b, j...)})
		}
	}
	logs := f.logs()
	serverLog, _ := os.ReadFile(devServer.LogFile)
	haystacks = append(haystacks, struct {
		what string
		data []byte
	}{"worker logs", []byte(logs)}, struct {
		what string
		data []byte
	}{"dev server log", serverLog})
	found := 0
	for _, h := range haystacks {
		for name, n := range needles {
			if bytes.Contains(h.data, n) {
				found++
				t.Errorf("the %s appears in %s", name, h.what)
			}
		}
	}
	if !strings.Contains(logs, `"api_key": true`) && !strings.Contains(logs, `"api_key":true`) {
		t.Errorf("the worker's log does not show it was configured with an API key; log:\n%s", logs[:min(len(logs), 2000)])
	}
	t.Logf("FIGURE secrets secrets=3 historyEvents=%d workerLogBytes=%d serverLogBytes=%d found=%d",
		events, len(logs), len(serverLog), found)
}

// TestFailuresEncrypted: with payload encryption on, a worker's failures — whose messages name
// the project, location and model — reach the history encrypted ("Encoded failure", the text in
// encoded attributes), and a client with the key reads the real message back.
func TestFailuresEncrypted(t *testing.T) {
	t.Parallel()
	keyBytes := make([]byte, codec.KeySize)
	_, _ = rand.Read(keyBytes)
	key := base64.StdEncoding.EncodeToString(keyBytes)
	emu := newEmulator(t, 60, insightstest.Options{TrainingTime: fixed(5 * time.Minute)})
	tq, prefix := names(t)
	project := fmt.Sprintf("enc%d", time.Now().UnixNano())
	parent := "projects/" + project + "/locations/us-central1"
	f := newFleet(t, 1, workerEnv(devServer.HostPort, emu.Addr(), tq, "ISSUE_MODELS_CODEC_KEY="+key))
	defer f.stopAll()
	emu.SetFaults("CreateIssueModel", insightstest.Fault{Code: codes.PermissionDenied, Probability: 1})
	// A plain JSON input, as `temporal workflow start --input` sends it: the worker reads it.
	bad := startCreate(t, devServer.Client, prefix+"-denied", tq, createInput(parent, "secret-display-name"))
	err := get(bad, nil)
	if err == nil {
		t.Fatal("the denied run succeeded")
	}
	// With the key, the failure reads as it was written.
	c, cerr := codec.New("default", map[string][]byte{"default": keyBytes})
	if cerr != nil {
		t.Fatal(cerr)
	}
	dc := codec.NewDataConverter(c)
	keyed, cerr := client.NewClientFromExisting(devServer.Client, client.Options{DataConverter: dc,
		FailureConverter: temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{DataConverter: dc})})
	if cerr != nil {
		t.Fatal(cerr)
	}
	defer keyed.Close()
	kerr := get(keyed.GetWorkflow(context.Background(), bad.GetID(), ""), nil)
	if kerr == nil || !strings.Contains(kerr.Error(), "CreateIssueModel: PERMISSION_DENIED") {
		t.Errorf("a client with the key reads %v", kerr)
	}
	failures := 0
	for _, ev := range history(t, devServer.Client, bad.GetID(), "") {
		for _, fl := range []*failurepb.Failure{ev.GetActivityTaskFailedEventAttributes().GetFailure(),
			ev.GetWorkflowExecutionFailedEventAttributes().GetFailure(), ev.GetMarkerRecordedEventAttributes().GetFailure()} {
			for ; fl != nil; fl = fl.GetCause() {
				failures++
				if fl.GetMessage() != "Encoded failure" || fl.GetStackTrace() != "" || strings.Contains(fl.String(), project) {
					t.Errorf("event %d (%v): failure in the clear: %q %q", ev.GetEventId(), ev.GetEventType(), fl.GetMessage(), fl.GetStackTrace())
				}
				if string(fl.GetEncodedAttributes().GetMetadata()["encoding"]) != codec.Encoding {
					t.Errorf("event %d: encoded attributes missing or not encrypted", ev.GetEventId())
				}
			}
		}
	}
	if failures == 0 {
		t.Fatal("no failure in the history")
	}
}
