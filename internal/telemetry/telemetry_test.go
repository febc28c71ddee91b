package telemetry

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestOffUnlessAnOTLPEndpointIsSet(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want bool
	}{
		{nil, false},
		{map[string]string{"OTEL_SERVICE_NAME": "x"}, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"}, false},
	} {
		if got := Enabled(env(tc.env)); got != tc.want {
			t.Errorf("Enabled(%v) = %v, want %v", tc.env, got, tc.want)
		}
	}
	tr, err := FromEnv(context.Background(), env(nil), "svc")
	if tr != nil || err != nil {
		t.Fatalf("FromEnv without an endpoint = %v, %v; want nil, nil", tr, err)
	}
	// Off is a nil *Tracing, whose methods add nothing.
	if i, err := tr.Interceptors(); i != nil || err != nil || tr.GoogleClientOptions() != nil || tr.Shutdown(context.Background()) != nil {
		t.Fatal("a nil Tracing added something")
	}
	if _, err := FromEnv(context.Background(), env(map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_EXPORTER_OTLP_PROTOCOL": "thrift"}), "svc"); err == nil {
		t.Fatal("an unknown protocol was accepted")
	}
}

// TestExportsOverOTLPHTTP: with OTEL_EXPORTER_OTLP_ENDPOINT set, spans reach the endpoint's
// /v1/traces when the tracing shuts down.
func TestExportsOverOTLPHTTP(t *testing.T) {
	got := make(chan int, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.URL.Path == "/v1/traces" {
			got <- len(b)
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	// The exporter reads the process's OTEL_EXPORTER_OTLP_* variables itself.
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)
	tr, err := FromEnv(context.Background(), os.Getenv, "svc")
	if err != nil || tr == nil {
		t.Fatalf("FromEnv: %v, %v", tr, err)
	}
	_, span := tr.Provider.Tracer("test").Start(context.Background(), "one")
	span.End()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tr.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case n := <-got:
		if n == 0 {
			t.Fatal("empty export")
		}
	default:
		t.Fatal("nothing was exported to /v1/traces")
	}
}

// TestInterceptorUsesTheProvider: the Temporal interceptor is built on the given provider.
func TestInterceptorUsesTheProvider(t *testing.T) {
	tr := New(tracetestProvider(t))
	i, err := tr.Interceptors()
	if err != nil || len(i) != 1 {
		t.Fatalf("Interceptors = %v, %v", i, err)
	}
	if len(tr.GoogleClientOptions()) != 2 {
		t.Fatal("GoogleClientOptions: want the telemetry switch and the stats handler")
	}
}

func tracetestProvider(t *testing.T) *sdktraceProvider {
	exp := tracetest.NewInMemoryExporter()
	tp := newProvider(exp)
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp
}

type sdktraceProvider = sdktrace.TracerProvider

func newProvider(exp sdktrace.SpanExporter) *sdktrace.TracerProvider {
	return sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
}
