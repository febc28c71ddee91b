package main

import (
	"fmt"
	"time"

	prom "github.com/prometheus/client_golang/prometheus"
	"github.com/uber-go/tally/v4"
	"github.com/uber-go/tally/v4/prometheus"
	sdktally "go.temporal.io/sdk/contrib/tally"
	"go.uber.org/zap"
)

// newMetricsScope serves the SDK's metrics (workflow and activity latencies, failures, poller
// counts, schedule-to-start, ...) for Prometheus at http://addr/metrics.
func newMetricsScope(addr string, logger *zap.Logger) (tally.Scope, func(), error) {
	reporter, err := prometheus.Configuration{ListenAddress: addr, TimerType: "histogram"}.NewReporter(
		prometheus.ConfigurationOptions{
			Registry: prom.NewRegistry(),
			OnError:  func(err error) { logger.Warn("metrics", zap.Error(err)) },
		})
	if err != nil {
		return nil, nil, fmt.Errorf("metrics on %s: %w", addr, err)
	}
	scope, closer := tally.NewRootScope(tally.ScopeOptions{
		CachedReporter:  reporter,
		Separator:       prometheus.DefaultSeparator,
		SanitizeOptions: &sdktally.PrometheusSanitizeOptions,
	}, time.Second)
	return sdktally.NewPrometheusNamingScope(scope), func() { _ = closer.Close() }, nil
}
