package main

import (
	"context"
	"maps"
	"testing"

	contactcenterinsightspb "cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	"go.uber.org/zap"

	"github.com/issuemodels/durable-lro/insightsclient"
	"github.com/issuemodels/durable-lro/insightstest"
)

// TestInsightsClientsNameEachLocationsEndpoint: the worker's clients, on the emulator, name the
// endpoint of each call's location as its :authority (Google's, or the operator's pattern's).
func TestInsightsClientsNameEachLocationsEndpoint(t *testing.T) {
	for _, tc := range []struct {
		pattern string
		want    []string
	}{
		{"", []string{"contactcenterinsights.googleapis.com:443", "europe-west1-contactcenterinsights.googleapis.com:443", "asia-south1-contactcenterinsights.googleapis.com:443"}},
		{"{location}.insights.internal:8443", []string{"us-central1.insights.internal:8443", "europe-west1.insights.internal:8443", "asia-south1.insights.internal:8443"}},
	} {
		emu, err := insightstest.NewServer(insightstest.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer emu.Close()
		t.Setenv(insightsclient.EmulatorHostEnv, emu.Addr())
		cfg, err := parseFlags([]string{"-insights-endpoint-pattern", tc.pattern}, func(string) string { return "" })
		if err != nil {
			t.Fatal(err)
		}
		r, err := newInsightsClients(context.Background(), cfg, zap.NewNop())
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		for _, loc := range []string{"us-central1", "europe-west1", "asia-south1"} {
			c, err := r.For("parent", loc)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.ListIssueModels(context.Background(), &contactcenterinsightspb.ListIssueModelsRequest{Parent: "projects/p/locations/" + loc}); err != nil {
				t.Errorf("pattern %q, %s: %v", tc.pattern, loc, err)
			}
		}
		want := map[string]int64{tc.want[0]: 1, tc.want[1]: 1, tc.want[2]: 1}
		if got := emu.Stats().Authorities; !maps.Equal(got, want) {
			t.Errorf("pattern %q: the emulator saw calls naming %v, want %v", tc.pattern, got, want)
		}
	}
}

// TestMissingCredentialsStopTheWorkerAtStartup: without credentials for the real API, building
// the clients fails (the worker exits) instead of every activity failing later.
func TestMissingCredentialsStopTheWorkerAtStartup(t *testing.T) {
	t.Setenv(insightsclient.EmulatorHostEnv, "")
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", t.TempDir()+"/missing.json")
	cfg, err := parseFlags(nil, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if r, err := newInsightsClients(context.Background(), cfg, zap.NewNop()); err == nil {
		_ = r.Close()
		t.Fatal("clients built without credentials")
	}
}
