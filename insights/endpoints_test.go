package insights

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLocationOf(t *testing.T) {
	for name, want := range map[string]string{
		"projects/p/locations/europe-west1":                          "europe-west1",
		"projects/p/locations/eu/operations/123":                     "eu",
		"projects/example.com:p/locations/asia-south1/issueModels/9": "asia-south1",
		"projects/p/locations/us-central1/conversations/1":           "",
		"projects/p": "",
		"":           "",
	} {
		require.Equal(t, want, LocationOf(name), name)
	}
}

func TestEndpointOfAndUnknownLocation(t *testing.T) {
	e, ok := EndpointOf("us-central1")
	require.True(t, ok)
	require.Equal(t, GlobalEndpoint, e)
	e, ok = EndpointOf("europe-west1")
	require.True(t, ok)
	require.Equal(t, "europe-west1-contactcenterinsights.googleapis.com", e)
	_, ok = EndpointOf("asia-east1")
	require.False(t, ok)
	err := UnknownLocation("parent", "asia-east1")
	require.Contains(t, err.Error(), `parent: location "asia-east1" has no Contact Center Insights endpoint; the known locations are `+strings.Join(Locations(), ", "))
}
