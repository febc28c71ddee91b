// Package telemetry is the programs' OpenTelemetry tracing: one trace per run, with the
// workflow's and activities' spans (the Temporal SDK's OpenTelemetry interceptor) and a span per
// Google API call with its gRPC status code (otelgrpc on the Contact Center Insights client).
//
// Tracing is off unless the standard OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT variable is set; then spans are exported over OTLP, over
// gRPC or HTTP as OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL says (grpc, http/protobuf: the default),
// and the exporters read the other OTEL_EXPORTER_OTLP_* variables (headers, TLS, timeout)
// themselves. OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none turns it off again;
// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES name the process.
package telemetry

import (
	"context"
	"fmt"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
	"go.temporal.io/sdk/interceptor"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
)

// TracerName names the tracer of the Temporal interceptor's spans.
const TracerName = "github.com/issuemodels/durable-lro"

// Propagator carries the trace across processes (W3C trace context and baggage): through
// Temporal's headers to the worker, and in the gRPC metadata of the Google API calls.
var Propagator propagation.TextMapPropagator = propagation.NewCompositeTextMapPropagator(
	propagation.TraceContext{}, propagation.Baggage{})

// Tracing is a tracer provider and what the programs attach it to.
type Tracing struct {
	Provider trace.TracerProvider
	// Endpoint is where spans are exported ("" for a provider given by the caller).
	Endpoint string
	shutdown func(context.Context) error
}

// Enabled says whether the environment asks for tracing (see the package comment).
func Enabled(getenv func(string) string) bool {
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") ||
		strings.EqualFold(strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")), "none") {
		return false
	}
	return endpoint(getenv) != ""
}

func endpoint(getenv func(string) string) string {
	if e := strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")); e != "" {
		return e
	}
	return strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_ENDPOINT"))
}

// FromEnv returns the tracing the environment asks for, or nil (tracing off) when it asks for
// none. getenv decides whether; the exporter then reads the process's OTEL_EXPORTER_OTLP_*
// variables itself (os.Getenv), so getenv should be os.Getenv outside tests. serviceName is the default service.name (OTEL_SERVICE_NAME wins). The exporter batches
// spans; Shutdown flushes them.
func FromEnv(ctx context.Context, getenv func(string) string, serviceName string) (*Tracing, error) {
	if !Enabled(getenv) {
		return nil, nil
	}
	protocol := strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"))
	if protocol == "" {
		protocol = strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_PROTOCOL"))
	}
	var (
		exp sdktrace.SpanExporter
		err error
	)
	switch protocol {
	case "grpc":
		exp, err = otlptracegrpc.New(ctx)
	case "", "http/protobuf":
		exp, err = otlptracehttp.New(ctx)
	default:
		return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL %q is not grpc or http/protobuf", protocol)
	}
	if err != nil {
		return nil, fmt.Errorf("OTLP trace exporter: %w", err)
	}
	// resource.Default reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES; ours only fills in
	// a service name they do not give.
	res, err := resource.Merge(resource.NewSchemaless(semconv.ServiceName(serviceName)), resource.Default())
	if err != nil {
		return nil, fmt.Errorf("OpenTelemetry resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return &Tracing{Provider: tp, Endpoint: endpoint(getenv), shutdown: tp.Shutdown}, nil
}

// New wraps a provider made by the caller (a test's, with an in-memory exporter).
func New(tp trace.TracerProvider) *Tracing { return &Tracing{Provider: tp} }

// Install makes t the process's global tracer provider and propagator, for libraries that trace
// through the globals. A nil t installs nothing.
func (t *Tracing) Install() {
	if t == nil {
		return
	}
	otel.SetTracerProvider(t.Provider)
	otel.SetTextMapPropagator(Propagator)
}

// Shutdown flushes and stops the exporter; a no-op for nil or a caller's provider.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil || t.shutdown == nil {
		return nil
	}
	return t.shutdown(ctx)
}

// Interceptors are the Temporal client's interceptors: the SDK's OpenTelemetry tracing
// interceptor (a client interceptor that the client's workers use too), or none for nil.
func (t *Tracing) Interceptors() ([]interceptor.ClientInterceptor, error) {
	if t == nil {
		return nil, nil
	}
	i, err := temporalotel.NewTracingInterceptor(temporalotel.TracerOptions{
		Tracer:            t.Provider.Tracer(TracerName),
		TextMapPropagator: Propagator,
	})
	if err != nil {
		return nil, fmt.Errorf("the Temporal tracing interceptor: %w", err)
	}
	return []interceptor.ClientInterceptor{i}, nil
}

// GoogleClientOptions make the Contact Center Insights client trace each gRPC call into t's
// provider, as a child of the caller's span (the activity's), with the call's status code
// (rpc.grpc.status_code). The library installs otelgrpc on the global provider by default;
// that handler is replaced by one bound to t so that a test's provider gets the spans too.
// None for nil: the library's default stays.
func (t *Tracing) GoogleClientOptions() []option.ClientOption {
	if t == nil {
		return nil
	}
	return []option.ClientOption{
		option.WithTelemetryDisabled(),
		option.WithGRPCDialOption(grpc.WithStatsHandler(otelgrpc.NewClientHandler(
			otelgrpc.WithTracerProvider(t.Provider), otelgrpc.WithPropagators(Propagator)))),
	}
}
