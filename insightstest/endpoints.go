package insightstest

import (
	"context"
	"fmt"
	"regexp"

	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/issuemodels/durable-lro/insights"
)

// WrongEndpointCode is the code of the emulator's refusal of a call sent to an endpoint that does
// not serve the location of the resource it names (a europe-west1 model through the global
// endpoint, say). Google does not document what its endpoints answer; this is an ASSUMPTION,
// chosen as the most plausible: the request is malformed for that endpoint, and retrying it
// unchanged cannot succeed (README.md, "Regional endpoints").
const WrongEndpointCode = codes.InvalidArgument

// WrongEndpointMessage starts the message of every such refusal.
const WrongEndpointMessage = "insightstest: wrong regional endpoint"

// checkEndpoint refuses a request whose resource's location is not served by the endpoint the
// client addressed, read from its :authority as Google's front end reads it. An authority that
// names no Insights endpoint (a bare host:port, as tools and tests dial the emulator) is served
// whatever the location, as are requests that name no location (the handler judges them).
func checkEndpoint(ctx context.Context, req any) error {
	auth := authorityOf(ctx)
	if auth == "" {
		return nil
	}
	served, insightsHost := insights.ServedBy(auth)
	if !insightsHost {
		return nil
	}
	location := locationOf(resourceOf(req))
	if location == "" {
		return nil
	}
	if served == "" {
		return status.Errorf(WrongEndpointCode, "%s: %s is not a Contact Center Insights endpoint (Google's \"Regionalization\" page lists none of that name)",
			WrongEndpointMessage, auth)
	}
	if location == served {
		return nil
	}
	want, known := insights.EndpointOf(location)
	if !known {
		return status.Errorf(WrongEndpointCode, "%s: location %q is not served by %s, which serves %s; Contact Center Insights has no endpoint for %q",
			WrongEndpointMessage, location, auth, served, location)
	}
	return status.Errorf(WrongEndpointCode, "%s: location %q is not served by %s, which serves %s only; call %s",
		WrongEndpointMessage, location, auth, served, want)
}

// anyLocation reads the location of any resource name under projects/P/locations/L (a
// conversation's too), whether or not the rest of the name is well formed: the handler judges it.
var anyLocation = regexp.MustCompile(`^projects/[^/]+/locations/([^/]+)(/|$)`)

func locationOf(name string) string {
	if m := anyLocation.FindStringSubmatch(name); m != nil {
		return m[1]
	}
	return ""
}

// authorityOf is the :authority of an incoming call: the endpoint its client named.
func authorityOf(ctx context.Context) string {
	md, _ := metadata.FromIncomingContext(ctx)
	if a := md.Get(":authority"); len(a) > 0 {
		return a[0]
	}
	return ""
}

// resourceOf is the parent or name a request acts on.
func resourceOf(req any) string {
	switch r := req.(type) {
	case interface{ GetParent() string }:
		return r.GetParent()
	case interface{ GetName() string }:
		return r.GetName()
	}
	return ""
}

// ClientOptionsVia returns the options that point the real client at this server presenting
// endpoint (a host of Google's, e.g. "europe-west1-contactcenterinsights.googleapis.com") as
// its :authority, as a client of that endpoint would: the server then serves it only the
// locations that endpoint serves.
func (s *Server) ClientOptionsVia(endpoint string) []option.ClientOption {
	return append(s.ClientOptions(), option.WithGRPCDialOption(grpc.WithAuthority(endpoint)))
}

// ClientOptionsFor is ClientOptionsVia Google's endpoint for location (the global endpoint for
// us-central1). It panics for a location without one: a test's mistake.
func (s *Server) ClientOptionsFor(location string) []option.ClientOption {
	endpoint, ok := insights.EndpointOf(location)
	if !ok {
		panic(fmt.Sprintf("insightstest: location %q has no Contact Center Insights endpoint", location))
	}
	return s.ClientOptionsVia(endpoint)
}
