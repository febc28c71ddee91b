package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/issuemodels/durable-lro/insightsclient"
	"github.com/issuemodels/durable-lro/insightstest"
)

// TestOperationsListCallsTheLocationsEndpoint: `operations list` sends its call to the endpoint
// of the parent's location (the emulator sees it as the :authority), and refuses a location
// without an endpoint before calling.
func TestOperationsListCallsTheLocationsEndpoint(t *testing.T) {
	var mu sync.Mutex
	var authorities []string
	srv, err := insightstest.NewServer(insightstest.Options{Interceptors: []grpc.UnaryServerInterceptor{
		func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
			md, _ := metadata.FromIncomingContext(ctx)
			mu.Lock()
			authorities = append(authorities, md.Get(":authority")...)
			mu.Unlock()
			return handler(ctx, req)
		}}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	t.Setenv(insightsclient.EmulatorHostEnv, srv.Addr())
	t.Setenv(insightsclient.EndpointPatternEnv, "")

	var out, stderr bytes.Buffer
	code := run(context.Background(), []string{"operations", "list", "-parent", "projects/acme/locations/europe-west1"}, &out, &stderr, noDial(t))
	if code != exitOK || !strings.Contains(out.String(), `"operations": []`) {
		t.Fatalf("exit %d, stdout %s, stderr %s", code, out.String(), stderr.String())
	}
	if len(authorities) != 1 || authorities[0] != "europe-west1-contactcenterinsights.googleapis.com:443" {
		t.Errorf("the emulator saw :authority %q, want europe-west1's endpoint", authorities)
	}

	stderr.Reset()
	code = run(context.Background(), []string{"operations", "list", "-parent", "projects/acme/locations/asia-east1"}, &out, &stderr, noDial(t))
	if code != exitInvalid || !strings.Contains(stderr.String(), `location "asia-east1" has no Contact Center Insights endpoint`) {
		t.Errorf("asia-east1: exit %d, stderr %s", code, stderr.String())
	}
	if len(authorities) != 1 {
		t.Errorf("a call was made for asia-east1")
	}
}
