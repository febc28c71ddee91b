package insights

import (
	"fmt"
	"slices"
	"strings"
)

// Contact Center Insights serves each location from its own endpoint. Source: Google Cloud,
// "Regionalization" for Contact Center AI Insights, table "Available regions"
// (https://cloud.google.com/contact-center/insights/docs/regionalization), read 2026-12:
// contactcenterinsights.googleapis.com ("Global serving, data-at-rest in US") serves us-central1
// only, and every other location L is served by L-contactcenterinsights.googleapis.com. A call
// for a resource of another location is refused, so the endpoint must follow the resource.
const (
	// GlobalEndpoint is the host of the endpoint that serves GlobalLocation.
	GlobalEndpoint = "contactcenterinsights.googleapis.com"
	// GlobalLocation is the one location the global endpoint serves.
	GlobalLocation = "us-central1"
	// regionalSuffix follows the location in the host of every other location's endpoint.
	regionalSuffix = "-" + GlobalEndpoint
)

// locations are the locations of the table above, in its order. A location Google adds is one
// more line here (until then, refused before any call).
var locations = []string{
	"us-central1",
	"us-east1",
	"us-west1",
	"northamerica-northeast1",
	"us",
	"europe-west1",
	"europe-west2",
	"europe-west3",
	"eu",
	"europe-west4",
	"europe-west6",
	"asia-northeast1",
	"asia-northeast3",
	"asia-south1",
	"asia-southeast1",
	"asia-southeast2",
	"australia-southeast1",
}

// Locations returns the locations Contact Center Insights serves, as Google's table lists them.
func Locations() []string { return slices.Clone(locations) }

// KnownLocation reports whether Google's table lists the location.
func KnownLocation(location string) bool { return slices.Contains(locations, location) }

// EndpointOf returns the host of Google's endpoint for a location of the table (no port), or
// false for a location the table does not list.
func EndpointOf(location string) (string, bool) {
	switch {
	case location == GlobalLocation:
		return GlobalEndpoint, true
	case KnownLocation(location):
		return location + regionalSuffix, true
	}
	return "", false
}

// ServedBy says which location a host (a gRPC :authority, with or without its port) serves.
// insightsHost is false for a host that is not of an Insights endpoint's form (an emulator's
// host:port, a proxy). For one of that form, location is the location Google's table serves
// there: GlobalLocation for the global endpoint, L for L-contactcenterinsights.googleapis.com,
// and "" for a host of the form that is no endpoint of the table (asia-east1-…, or
// us-central1-…: us-central1 is the global endpoint's).
func ServedBy(host string) (location string, insightsHost bool) {
	host = strings.ToLower(strings.TrimSuffix(hostOnly(host), "."))
	if host == GlobalEndpoint {
		return GlobalLocation, true
	}
	l, found := strings.CutSuffix(host, regionalSuffix)
	if !found || l == "" || strings.Contains(l, ".") {
		return "", false
	}
	if e, ok := EndpointOf(l); !ok || e != host {
		return "", true
	}
	return l, true
}

// hostOnly drops a :port from host:port (and the brackets of an IPv6 literal).
func hostOnly(hostport string) string {
	if i := strings.LastIndexByte(hostport, ':'); i >= 0 && !strings.Contains(hostport[i:], "]") {
		hostport = hostport[:i]
	}
	return strings.Trim(hostport, "[]")
}

// UnknownLocation is the typed InvalidArgument for a resource whose location has no endpoint:
// field names the input field that carries the resource.
func UnknownLocation(field, location string) error {
	return InvalidArgument(field, fmt.Sprintf(
		"location %q has no Contact Center Insights endpoint; the known locations are %s (Google's \"Regionalization\" page for Insights)",
		location, strings.Join(locations, ", ")))
}
