package insightsclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"

	contactcenterinsights "cloud.google.com/go/contactcenterinsights/apiv1"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/issuemodels/durable-lro/insights"
)

// EndpointPatternEnv names the environment variable of the operator's endpoint pattern (the
// worker's -insights-endpoint-pattern): see RegionalOptions.Pattern.
const EndpointPatternEnv = "INSIGHTS_ENDPOINT_PATTERN"

// LocationPlaceholder is replaced by the resource's location in an endpoint pattern.
const LocationPlaceholder = "{location}"

// RegionalOptions configures NewRegional.
type RegionalOptions struct {
	// Pattern, when set, replaces Google's endpoints (insights.EndpointOf) for every location:
	// host[:port], where {location} stands for the resource's location, e.g.
	// "{location}-contactcenterinsights-myendpoint.p.googleapis.com" (Private Service Connect) or
	// "insights-proxy.internal:8443" (one host for all). Locations outside Google's table are
	// refused all the same: a typo would otherwise dial a host that does not exist, an
	// UNAVAILABLE that is retried forever.
	Pattern string
	// EmulatorHost, when set (INSIGHTS_EMULATOR_HOST), is the host:port every client dials,
	// insecure and without credentials, presenting its endpoint's host as the gRPC :authority,
	// as a client of Google's endpoint would: the emulator checks it (insightstest).
	EmulatorHost string
	// ClientOptions are added to every client's (e.g. activities.ClientOptions()).
	ClientOptions []option.ClientOption
}

// RegionalOptionsFromEnv reads INSIGHTS_ENDPOINT_PATTERN and INSIGHTS_EMULATOR_HOST.
func RegionalOptionsFromEnv(opts ...option.ClientOption) RegionalOptions {
	return RegionalOptions{
		Pattern:       strings.TrimSpace(os.Getenv(EndpointPatternEnv)),
		EmulatorHost:  strings.TrimSpace(os.Getenv(EmulatorHostEnv)),
		ClientOptions: opts,
	}
}

// Regional hands out the Contact Center Insights client of each location's endpoint. Clients
// are built on first use, one per endpoint, and reused; Close closes them all. Safe for
// concurrent use.
type Regional struct {
	ctx  context.Context
	opts RegionalOptions

	mu      sync.Mutex
	clients map[string]*contactcenterinsights.Client // by endpoint
	closed  bool
}

// NewRegional checks the options and returns an empty set of clients; ctx is the one clients are
// built with (the Google library keeps no reference to it past the dial).
func NewRegional(ctx context.Context, opts RegionalOptions) (*Regional, error) {
	if err := CheckPattern(opts.Pattern); err != nil {
		return nil, err
	}
	return &Regional{ctx: context.WithoutCancel(ctx), opts: opts, clients: map[string]*contactcenterinsights.Client{}}, nil
}

// CheckPattern refuses an endpoint pattern that cannot name a host: "" (no override) passes.
func CheckPattern(p string) error {
	if p == "" {
		return nil
	}
	host := strings.ReplaceAll(p, LocationPlaceholder, "us-central1")
	switch {
	case strings.Contains(p, "://"):
		return fmt.Errorf("endpoint pattern %q: give host[:port], not a URL", p)
	case strings.ContainsAny(host, " /{}\t"):
		return fmt.Errorf("endpoint pattern %q: only %s may be a placeholder; want host[:port], e.g. %s-contactcenterinsights.googleapis.com",
			p, LocationPlaceholder, LocationPlaceholder)
	}
	if h, _, err := net.SplitHostPort(host); err == nil && h == "" {
		return fmt.Errorf("endpoint pattern %q names no host", p)
	}
	return nil
}

// Endpoint is the endpoint (host[:port]) of location: the pattern's, else Google's. Unknown
// locations get insights.UnknownLocation, naming field.
func (r *Regional) Endpoint(field, location string) (string, error) {
	google, ok := insights.EndpointOf(location)
	if !ok {
		return "", insights.UnknownLocation(field, location)
	}
	if r.opts.Pattern != "" {
		return strings.ReplaceAll(r.opts.Pattern, LocationPlaceholder, location), nil
	}
	return google, nil
}

// For returns the client of location's endpoint (see Endpoint), building it on first use.
func (r *Regional) For(field, location string) (*contactcenterinsights.Client, error) {
	endpoint, err := r.Endpoint(field, location)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, errors.New("insightsclient: Regional is closed")
	}
	if c := r.clients[endpoint]; c != nil {
		return c, nil
	}
	// Building does not dial (gRPC connects lazily), so holding the lock is cheap.
	c, err := contactcenterinsights.NewClient(r.ctx, append(r.endpointOptions(endpoint), r.opts.ClientOptions...)...)
	if err != nil {
		return nil, fmt.Errorf("creating the Contact Center Insights client of %s: %w", endpoint, err)
	}
	r.clients[endpoint] = c
	return c, nil
}

// endpointOptions point a client at endpoint, or at the emulator presenting endpoint's host.
func (r *Regional) endpointOptions(endpoint string) []option.ClientOption {
	if r.opts.EmulatorHost == "" {
		return []option.ClientOption{option.WithEndpoint(withPort(endpoint))}
	}
	return []option.ClientOption{
		option.WithEndpoint(r.opts.EmulatorHost),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
		option.WithGRPCDialOption(grpc.WithAuthority(withPort(endpoint))),
	}
}

// withPort adds Google's port, 443, to a host without one, as the library's default endpoint
// has it.
func withPort(endpoint string) string {
	if _, _, err := net.SplitHostPort(endpoint); err == nil {
		return endpoint
	}
	return net.JoinHostPort(endpoint, "443")
}

// Endpoints returns the endpoints a client was built for so far.
func (r *Regional) Endpoints() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.clients))
	for e := range r.clients {
		out = append(out, e)
	}
	return out
}

// Close closes every client; For fails afterwards.
func (r *Regional) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	var errs []error
	for e, c := range r.clients {
		errs = append(errs, c.Close())
		delete(r.clients, e)
	}
	return errors.Join(errs...)
}
