package insightsclient

import (
	"context"
	"strings"
	"testing"
	"time"

	contactcenterinsightspb "cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/grpc/status"

	"github.com/issuemodels/durable-lro/insights"
	"github.com/issuemodels/durable-lro/insightstest"
)

// TestEndpointOfEachLocation: us-central1 is the global endpoint's, every other location of
// Google's table has its own; the operator's pattern replaces them all.
func TestEndpointOfEachLocation(t *testing.T) {
	r, err := NewRegional(context.Background(), RegionalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for loc, want := range map[string]string{
		"us-central1":          "contactcenterinsights.googleapis.com",
		"europe-west1":         "europe-west1-contactcenterinsights.googleapis.com",
		"eu":                   "eu-contactcenterinsights.googleapis.com",
		"asia-south1":          "asia-south1-contactcenterinsights.googleapis.com",
		"australia-southeast1": "australia-southeast1-contactcenterinsights.googleapis.com",
	} {
		if got, err := r.Endpoint("parent", loc); got != want || err != nil {
			t.Errorf("Endpoint(%s) = %q, %v; want %q", loc, got, err, want)
		}
	}
	if len(insights.Locations()) != 17 {
		t.Errorf("Google's table lists %d locations, want 17", len(insights.Locations()))
	}
	for _, loc := range insights.Locations() {
		host, _ := r.Endpoint("parent", loc)
		if served, ok := insights.ServedBy(host + ":443"); !ok || served != loc {
			t.Errorf("ServedBy(%s) = %q, %v; want %s", host, served, ok, loc)
		}
	}
	for host, want := range map[string]struct {
		location     string
		insightsHost bool
	}{
		"127.0.0.1:9090":                                   {"", false},
		"[::1]:9090":                                       {"", false},
		"insights-proxy.internal:8443":                     {"", false},
		"CONTACTCENTERINSIGHTS.googleapis.com.":            {"us-central1", true},
		"eu-contactcenterinsights.googleapis.com":          {"eu", true},
		"asia-east1-contactcenterinsights.googleapis.com":  {"", true},
		"us-central1-contactcenterinsights.googleapis.com": {"", true},
	} {
		if l, ok := insights.ServedBy(host); l != want.location || ok != want.insightsHost {
			t.Errorf("ServedBy(%s) = %q, %v; want %q, %v", host, l, ok, want.location, want.insightsHost)
		}
	}
	p, err := NewRegional(context.Background(), RegionalOptions{Pattern: "{location}-contactcenterinsights-psc.p.googleapis.com"})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := p.Endpoint("parent", "us-central1"); got != "us-central1-contactcenterinsights-psc.p.googleapis.com" {
		t.Errorf("pattern: %q", got)
	}
}

// TestUnknownLocationIsATypedInvalidArgument: a location without an endpoint (asia-east1, a
// Google Cloud region Insights does not serve; a typo) is refused before any client is built,
// with or without an override, naming the location and the known ones.
func TestUnknownLocationIsATypedInvalidArgument(t *testing.T) {
	for _, pattern := range []string{"", "insights-proxy.internal:8443"} {
		r, err := NewRegional(context.Background(), RegionalOptions{Pattern: pattern})
		if err != nil {
			t.Fatal(err)
		}
		for _, loc := range []string{"asia-east1", "europe-west", ""} {
			_, err := r.For("parent", loc)
			appErr, ok := err.(*temporal.ApplicationError)
			if !ok || appErr.Type() != insights.ErrInvalidArgument || !appErr.NonRetryable() ||
				!strings.Contains(err.Error(), `"`+loc+`"`) || !strings.Contains(err.Error(), "us-central1, us-east1") {
				t.Errorf("pattern %q, location %q: %v", pattern, loc, err)
			}
		}
		if len(r.Endpoints()) != 0 {
			t.Errorf("clients built for unknown locations: %v", r.Endpoints())
		}
	}
}

func TestCheckPattern(t *testing.T) {
	for _, ok := range []string{"", "{location}-contactcenterinsights.googleapis.com", "{location}-x.p.googleapis.com:443", "proxy:8443", "[::1]:9090"} {
		if err := CheckPattern(ok); err != nil {
			t.Errorf("CheckPattern(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"https://{location}-contactcenterinsights.googleapis.com", "{region}-x.googleapis.com", "host/path", ":443", "a b"} {
		if err := CheckPattern(bad); err == nil {
			t.Errorf("CheckPattern(%q) accepted", bad)
		}
	}
}

// TestRegionalOnTheEmulator: with the emulator's address, each location's client dials it and
// names its endpoint, which the emulator checks; clients are built once per endpoint.
func TestRegionalOnTheEmulator(t *testing.T) {
	emulatorForTest(t)
	t.Setenv(EndpointPatternEnv, "")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := NewRegional(ctx, RegionalOptionsFromEnv())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, loc := range []string{"europe-west1", "us-central1", "asia-south1", "europe-west1"} {
		c, err := r.For("parent", loc)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.ListIssueModels(ctx, &contactcenterinsightspb.ListIssueModelsRequest{Parent: "projects/p/locations/" + loc}); err != nil {
			t.Errorf("%s: %v", loc, err)
		}
		// The same client, on another location's resource, is refused as Google would.
		_, err = c.ListIssueModels(ctx, &contactcenterinsightspb.ListIssueModelsRequest{Parent: "projects/p/locations/us-west1"})
		if status.Code(err) != insightstest.WrongEndpointCode {
			t.Errorf("%s's client on a us-west1 resource: %v", loc, err)
		}
	}
	if n := len(r.Endpoints()); n != 3 {
		t.Errorf("%d clients for 3 endpoints: %v", n, r.Endpoints())
	}
	c1, _ := r.For("parent", "eu")
	c2, _ := r.For("parent", "eu")
	if c1 != c2 {
		t.Error("a second client for one endpoint")
	}
	if err := r.Close(); err != nil {
		t.Error(err)
	}
	if _, err := r.For("parent", "eu"); err == nil {
		t.Error("For after Close")
	}
}
