// Package insightsclient builds Contact Center Insights clients that honour
// the INSIGHTS_EMULATOR_HOST convention (like PUBSUB_EMULATOR_HOST): New, one
// client, and Regional, one client per location's endpoint.
package insightsclient

import (
	"context"
	"os"
	"strings"

	contactcenterinsights "cloud.google.com/go/contactcenterinsights/apiv1"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// EmulatorHostEnv names the environment variable that, when set to
// host:port, points clients at an emulator (cmd/insights-emulator).
const EmulatorHostEnv = "INSIGHTS_EMULATOR_HOST"

// EmulatorOptions returns the options that point a client at the emulator
// named by INSIGHTS_EMULATOR_HOST (endpoint, no authentication, insecure
// transport), or nil when the variable is unset or empty.
func EmulatorOptions() []option.ClientOption {
	host := strings.TrimSpace(os.Getenv(EmulatorHostEnv))
	if host == "" {
		return nil
	}
	return []option.ClientOption{
		option.WithEndpoint(host),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}
}

// New returns a gRPC Contact Center Insights client. If
// INSIGHTS_EMULATOR_HOST is set, the emulator options are prepended to
// opts (a bare host:port, which the emulator serves every location on);
// otherwise the client uses the library's default endpoint,
// contactcenterinsights.googleapis.com, with Application Default
// Credentials and only the given opts. That endpoint serves us-central1
// only: for resources of other locations use NewRegional (the worker's),
// which picks each location's endpoint.
func New(ctx context.Context, opts ...option.ClientOption) (*contactcenterinsights.Client, error) {
	return contactcenterinsights.NewClient(ctx, append(EmulatorOptions(), opts...)...)
}
