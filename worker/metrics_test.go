package main

import (
	"net"
	"net/http"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/issuemodels/durable-lro/internal/testkit"
)

// TestMetricsEndpointStopsWithTheWorker: the endpoint serves until the closer runs and then
// refuses connections (a stopped worker must look down to Prometheus), and a busy address is an
// error at startup rather than a worker running without metrics.
func TestMetricsEndpointStopsWithTheWorker(t *testing.T) {
	addr := testkit.FreeAddr(t)
	scope, closeMetrics, err := newMetricsScope(addr, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	scope.Counter("probe").Inc(1)
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	if _, _, err := newMetricsScope(addr, zap.NewNop()); err == nil || !strings.Contains(err.Error(), "metrics on "+addr) {
		t.Errorf("a second endpoint on the busy %s: %v, want an error", addr, err)
	}
	closeMetrics()
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Fatalf("%s still accepts connections after the worker stopped", addr)
	}
}
