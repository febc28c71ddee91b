package main

import (
	"context"
	"sync"
	"testing"

	contactcenterinsightspb "cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/issuemodels/durable-lro/insightsclient"
	"github.com/issuemodels/durable-lro/insightstest"
)

// TestInsightsClientsNameEachLocationsEndpoint: the worker's clients, on the emulator, name the
// endpoint of each call's location as its :authority (Google's, or the operator's pattern's).
func TestInsightsClientsNameEachLocationsEndpoint(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	emu, err := insightstest.NewServer(insightstest.Options{Interceptors: []grpc.UnaryServerInterceptor{
		func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
			md, _ := metadata.FromIncomingContext(ctx)
			mu.Lock()
			seen = append(seen, md.Get(":authority")...)
			mu.Unlock()
			return handler(ctx, req)
		}}})
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	t.Setenv(insightsclient.EmulatorHostEnv, emu.Addr())
	for _, tc := range []struct {
		pattern string
		want    []string
	}{
		{"", []string{"contactcenterinsights.googleapis.com:443", "europe-west1-contactcenterinsights.googleapis.com:443", "asia-south1-contactcenterinsights.googleapis.com:443"}},
		{"{location}.insights.internal:8443", []string{"us-central1.insights.internal:8443", "europe-west1.insights.internal:8443", "asia-south1.insights.internal:8443"}},
	} {
		cfg, err := parseFlags([]string{"-insights-endpoint-pattern", tc.pattern}, func(string) string { return "" })
		if err != nil {
			t.Fatal(err)
		}
		r, err := newInsightsClients(context.Background(), cfg, zap.NewNop())
		if err != nil {
			t.Fatal(err)
		}
		seen = nil
		for _, loc := range []string{"us-central1", "europe-west1", "asia-south1"} {
			c, err := r.For("parent", loc)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.ListIssueModels(context.Background(), &contactcenterinsightspb.ListIssueModelsRequest{Parent: "projects/p/locations/" + loc}); err != nil {
				t.Errorf("pattern %q, %s: %v", tc.pattern, loc, err)
			}
		}
		if len(seen) != 3 || seen[0] != tc.want[0] || seen[1] != tc.want[1] || seen[2] != tc.want[2] {
			t.Errorf("pattern %q: the emulator saw %q, want %q", tc.pattern, seen, tc.want)
		}
		_ = r.Close()
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
