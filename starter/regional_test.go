package main

import (
	"strings"
	"testing"

	"github.com/issuemodels/durable-lro/insightsclient"
	"github.com/issuemodels/durable-lro/insightstest"
)

// TestOperationsListCallsTheLocationsEndpoint: `operations list` sends its call to the endpoint
// of the parent's location (the emulator sees it as the :authority), and refuses a location
// without an endpoint before calling.
func TestOperationsListCallsTheLocationsEndpoint(t *testing.T) {
	srv, err := insightstest.NewServer(insightstest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	t.Setenv(insightsclient.EmulatorHostEnv, srv.Addr())
	t.Setenv(insightsclient.EndpointPatternEnv, "")

	code, out, stderr := runStarter(noDial(t), "operations", "list", "-parent", "projects/acme/locations/europe-west1")
	if code != exitOK || !strings.Contains(out, `"operations": []`) {
		t.Fatalf("exit %d, stdout %s, stderr %s", code, out, stderr)
	}
	want := map[string]int64{"europe-west1-contactcenterinsights.googleapis.com:443": 1}
	if got := srv.Stats().Authorities; len(got) != 1 || got["europe-west1-contactcenterinsights.googleapis.com:443"] != 1 {
		t.Errorf("the emulator saw calls naming %v, want %v", got, want)
	}

	code, _, stderr = runStarter(noDial(t), "operations", "list", "-parent", "projects/acme/locations/asia-east1")
	if code != exitInvalid || !strings.Contains(stderr, `location "asia-east1" has no Contact Center Insights endpoint`) {
		t.Errorf("asia-east1: exit %d, stderr %s", code, stderr)
	}
	if n := srv.Stats().RPCs["ListOperations"]; n != 1 {
		t.Errorf("%d ListOperations calls, want only europe-west1's", n)
	}
}
