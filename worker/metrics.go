package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	prom "github.com/prometheus/client_golang/prometheus"
	"github.com/uber-go/tally/v4"
	"github.com/uber-go/tally/v4/prometheus"
	sdktally "go.temporal.io/sdk/contrib/tally"
	"go.uber.org/zap"
)

// newMetricsScope serves the SDK's metrics (workflow and activity latencies, failures, poller
// counts, schedule-to-start, ...) for Prometheus at http://addr/metrics until the returned
// closer runs.
//
// The endpoint is ours rather than the reporter's ListenAddress: that one listens in the
// background (a busy port was only logged, and the worker ran without metrics) and never stops
// (a stopped worker kept answering scrapes with its last values, so Prometheus saw it up).
func newMetricsScope(addr string, logger *zap.Logger) (tally.Scope, func(), error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("metrics on %s: %w", addr, err)
	}
	reporter := prometheus.NewReporter(prometheus.Options{
		Registerer:       prom.NewRegistry(),
		DefaultTimerType: prometheus.HistogramTimerType,
		OnRegisterError:  func(err error) { logger.Warn("metrics", zap.Error(err)) },
	})
	mux := http.NewServeMux()
	mux.Handle("/metrics", reporter.HTTPHandler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Warn("metrics endpoint stopped", zap.Error(err))
		}
	}()
	scope, closer := tally.NewRootScope(tally.ScopeOptions{
		CachedReporter:  reporter,
		Separator:       prometheus.DefaultSeparator,
		SanitizeOptions: &sdktally.PrometheusSanitizeOptions,
	}, time.Second)
	return sdktally.NewPrometheusNamingScope(scope), func() {
		_ = closer.Close() // reports the last values first
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}
