// Command worker runs the Temporal worker that hosts CreateIssueModelWorkflow,
// AwaitOperationWorkflow, IssueModelLifecycleWorkflow and their activities.
//
// The Temporal connection comes from go.temporal.io/sdk/contrib/envconfig: TEMPORAL_ADDRESS,
// TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*, and TOML profiles selected with
// TEMPORAL_PROFILE / TEMPORAL_CONFIG_FILE. The Contact Center Insights clients come from
// insightsclient.Regional, one per endpoint: each call goes to the endpoint that serves its
// resource's location (or -insights-endpoint-pattern's), with Application Default Credentials;
// INSIGHTS_EMULATOR_HOST=host:port sends them all to the emulator, each naming its endpoint.
// OTEL_EXPORTER_OTLP_ENDPOINT turns on OpenTelemetry tracing (internal/telemetry).
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.opentelemetry.io/otel"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	sdktally "go.temporal.io/sdk/contrib/tally"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.uber.org/zap"
	"go.uber.org/zap/exp/zapslog"
	"go.uber.org/zap/zapcore"

	"github.com/issuemodels/durable-lro/activities"
	"github.com/issuemodels/durable-lro/codec"
	"github.com/issuemodels/durable-lro/insights"
	"github.com/issuemodels/durable-lro/insightsclient"
	"github.com/issuemodels/durable-lro/internal/telemetry"
	"github.com/issuemodels/durable-lro/nexusservice"
	"github.com/issuemodels/durable-lro/searchattr"
	"github.com/issuemodels/durable-lro/workflows"
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv))
}

// pollerBehavior is the SDK's poller behaviour for cfg.pollers.
//
// Autoscaling by default: with a fixed number of pollers the SDK polls the sticky queue whenever
// it has a backlog, so on a busy worker (thousands of runs whose timers fire) the first workflow
// task of new runs waited minutes in the normal queue (measured with the bench,
// docs/PERFORMANCE.md); autoscaling balances the two and adds pollers on demand.
func pollerBehavior(p pollers) worker.PollerBehavior {
	if p == 0 {
		return worker.NewPollerBehaviorAutoscaling(worker.PollerBehaviorAutoscalingOptions{})
	}
	return worker.NewPollerBehaviorSimpleMaximum(worker.PollerBehaviorSimpleMaximumOptions{MaximumNumberOfPollers: int(p)})
}

func newLogger(level, format string) (*zap.Logger, error) {
	var lvl zapcore.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level: %w", err)
	}
	var zc zap.Config
	switch format {
	case "json":
		zc = zap.NewProductionConfig()
		zc.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	case "console":
		zc = zap.NewDevelopmentConfig()
		zc.DisableStacktrace = true
	default:
		return nil, fmt.Errorf("log format %q is not json or console", format)
	}
	zc.Level = zap.NewAtomicLevelAt(lvl)
	zc.Sampling = nil
	return zc.Build()
}

func run(args []string, getenv func(string) string) int {
	cfg, err := parseFlags(args, getenv)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		return 2
	}
	logger, err := newLogger(cfg.logLevel, cfg.logFormat)
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		return 2
	}
	defer logger.Sync() //nolint:errcheck
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stopOnSignal(ctx, cancel, logger, cfg.stopTimeout)
	if cfg.tracing, err = telemetry.FromEnv(ctx, getenv, "issue-models-worker"); err != nil {
		logger.Error("tracing", zap.Error(err))
		return 2
	}
	if cfg.tracing != nil {
		cfg.tracing.Install()
		// The exporter's errors (a collector down) into the worker's log, not bare stderr lines.
		otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { logger.Warn("tracing", zap.Error(err)) }))
		logger.Info("tracing: exporting spans over OTLP", zap.String("endpoint", cfg.tracing.Endpoint))
		defer func() {
			// Flush the last spans; bounded, so an unreachable collector cannot hold the exit.
			sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer scancel()
			if err := cfg.tracing.Shutdown(sctx); err != nil {
				logger.Warn("tracing: flushing spans", zap.Error(err))
			}
		}()
	}
	if err := serve(ctx, cfg, logger); err != nil {
		logger.Error("worker stopped with an error", zap.Error(err))
		return 1
	}
	return 0
}

// stopOnSignal cancels ctx on SIGINT or SIGTERM; registered before anything else starts, so an
// early signal is not lost.
func stopOnSignal(ctx context.Context, cancel func(), logger *zap.Logger, stopTimeout time.Duration) {
	sigCh := make(chan os.Signal, 1)
	signal.Notify(sigCh, os.Interrupt, syscall.SIGTERM)
	go func() {
		defer signal.Stop(sigCh)
		select {
		case sig := <-sigCh:
			logger.Info("signal received; stopping the worker", zap.String("signal", sig.String()),
				zap.Duration("stop_timeout", stopTimeout))
			cancel()
		case <-ctx.Done():
		}
	}()
}

// serve runs the worker until ctx ends or the worker fails.
func serve(ctx context.Context, cfg config, logger *zap.Logger) error {
	conn, err := connectTemporal(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer conn.close()
	tc, namespace := conn.client, conn.namespace
	gc, err := newInsightsClients(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer func() {
		if err := gc.Close(); err != nil {
			logger.Warn("closing the Contact Center Insights clients", zap.Error(err))
		}
	}()
	if err := checkSearchAttributes(ctx, tc, namespace, cfg.registerSearchAttributes, logger); err != nil {
		return err
	}
	opts := worker.Options{
		WorkerStopTimeout:            cfg.stopTimeout,
		TaskQueueActivitiesPerSecond: float64(cfg.taskQueueActivitiesPerSecond),
		WorkflowTaskPollerBehavior:   pollerBehavior(cfg.pollers),
		ActivityTaskPollerBehavior:   pollerBehavior(cfg.pollers),
		DeploymentOptions:            cfg.deploymentOptions(),
	}
	w := worker.New(tc, cfg.taskQueue, opts)
	if err := setProjectRateLimit(ctx, conn, cfg, logger); err != nil {
		return err
	}
	logger.Info("Google API rate limits (held by the Temporal server for all workers of the task queue)",
		zap.Float64("task_queue_activities_per_second", opts.TaskQueueActivitiesPerSecond),
		zap.Float64("project_requests_per_second", float64(cfg.projectRequestsPerSecond)), zap.Stringer("pollers", &cfg.pollers))
	logVersioning(logger, opts.DeploymentOptions)
	acts := &activities.Activities{Clients: gc, APITimeScale: float64(cfg.apiTimeScale)}
	if cfg.apiTimeScale != 1 {
		logger.Info("API time scale: durations read off the API's timestamps are divided by it", zap.Float64("api_time_scale", float64(cfg.apiTimeScale)))
	}
	workflows.Register(w, acts)
	if cfg.nexusService {
		// Served on the task queue a Nexus endpoint targets (docs/CALLING.md, "Calling it from your own
		// workflow"); without an endpoint nothing calls it.
		w.RegisterNexusService(nexusservice.New())
	}

	stop := make(chan any)
	go func() {
		<-ctx.Done()
		close(stop)
	}()
	if err := w.Run(stop); err != nil {
		return err
	}
	logger.Info("worker stopped")
	return nil
}

func logVersioning(logger *zap.Logger, d worker.DeploymentOptions) {
	if !d.UseVersioning {
		logger.Info("Worker Versioning off (no -deployment-name)")
		return
	}
	b := behavior(d.DefaultVersioningBehavior)
	logger.Info("Worker Versioning on", zap.String("deployment_name", d.Version.DeploymentName),
		zap.String("build_id", d.Version.BuildID), zap.Stringer("default_versioning_behavior", &b))
}

// temporalConn is a Temporal client with what the worker needs to know of it.
type temporalConn struct {
	client    client.Client
	namespace string
	// identity is the client's identity, which its pollers present to the server.
	identity string
	close    func()
}

// connectTemporal dials Temporal with the envconfig settings, our data converter, logger and
// metrics.
func connectTemporal(ctx context.Context, cfg config, logger *zap.Logger) (temporalConn, error) {
	opts, err := envconfig.LoadClientOptions(envconfig.LoadClientOptionsRequest{})
	if err != nil {
		return temporalConn{}, fmt.Errorf("loading Temporal client configuration: %w", err)
	}
	// The SDK's own default identity, set here so that the fleet budget knows it.
	host, _ := os.Hostname()
	opts.Identity = cmp.Or(opts.Identity, fmt.Sprintf("%d@%s@", os.Getpid(), host))
	// The SDK logs through zap: slog front end (the SDK's structured logger) on a zap core.
	opts.Logger = tlog.NewStructuredLogger(slog.New(zapslog.NewHandler(logger.Core(), zapslog.WithCaller(true))))
	// Payloads, and failure messages and stack traces, encrypted when a key is set.
	encrypted, err := codec.ConfigureClientFromEnv(&opts)
	if err != nil {
		return temporalConn{}, fmt.Errorf("payload encryption: %w", err)
	}
	logger.Info("payload encryption", zap.Bool("enabled", encrypted))
	// Traces: the SDK's interceptor, which the client's worker uses too (nil: tracing off).
	if opts.Interceptors, err = cfg.tracing.Interceptors(); err != nil {
		return temporalConn{}, err
	}
	closeMetrics := func() {}
	if cfg.metricsAddr != "" {
		scope, closer, err := newMetricsScope(cfg.metricsAddr, logger)
		if err != nil {
			return temporalConn{}, err
		}
		closeMetrics = closer
		opts.MetricsHandler = sdktally.NewMetricsHandler(scope)
		logger.Info("serving Prometheus metrics", zap.String("url", "http://"+cfg.metricsAddr+"/metrics"))
	}
	address, namespace := cmp.Or(opts.HostPort, client.DefaultHostPort), cmp.Or(opts.Namespace, client.DefaultNamespace)
	// Never log the API key or TLS material: only whether they are configured.
	logger.Info("connecting to Temporal",
		zap.String("address", address), zap.String("namespace", namespace),
		zap.String("task_queue", cfg.taskQueue),
		zap.Bool("tls", opts.ConnectionOptions.TLS != nil), zap.Bool("api_key", opts.Credentials != nil))
	tc, err := client.DialContext(ctx, opts)
	if err != nil {
		closeMetrics()
		return temporalConn{}, fmt.Errorf("connecting to Temporal at %s: %w", address, err)
	}
	return temporalConn{client: tc, namespace: namespace, identity: opts.Identity, close: func() { tc.Close(); closeMetrics() }}, nil
}

// newInsightsClients makes the Contact Center Insights clients, one per endpoint as calls need
// them: Google's endpoint of each location (or the -insights-endpoint-pattern's), with
// Application Default Credentials, or the emulator at INSIGHTS_EMULATOR_HOST presenting them.
func newInsightsClients(ctx context.Context, cfg config, logger *zap.Logger) (*insightsclient.Regional, error) {
	opts := insightsclient.RegionalOptionsFromEnv(append(activities.ClientOptions(), cfg.tracing.GoogleClientOptions()...)...)
	opts.Pattern = cfg.insightsEndpointPattern
	r, err := insightsclient.NewRegional(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("creating the Contact Center Insights clients: %w", err)
	}
	// The other clients are built as calls need them; this one now, so that missing credentials
	// stop the worker at startup rather than fail its activities.
	if _, err := r.For("location", insights.GlobalLocation); err != nil {
		return nil, fmt.Errorf("creating the Contact Center Insights client of %s: %w", insights.GlobalLocation, err)
	}
	endpoints := "Google's endpoint of each location: " + insights.GlobalEndpoint + " for " + insights.GlobalLocation +
		", {location}-" + insights.GlobalEndpoint + " for the others"
	if opts.Pattern != "" {
		endpoints = opts.Pattern + " (-insights-endpoint-pattern)"
	}
	logger.Info("Contact Center Insights clients ready", zap.String("endpoints", endpoints),
		zap.String("emulator", opts.EmulatorHost), zap.Strings("locations", insights.Locations()))
	return r, nil
}

// checkSearchAttributes makes sure the namespace has the workflows' search attributes: without
// them the server refuses the workflows' tasks, so the worker would start but not make progress.
func checkSearchAttributes(ctx context.Context, tc client.Client, namespace string, register bool, logger *zap.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if !register {
		missing, err := searchattr.Missing(ctx, tc, namespace)
		if err != nil {
			return err
		}
		if len(missing) > 0 {
			return fmt.Errorf("namespace %q lacks the search attributes %v; register them (%s) or run with -register-search-attributes",
				namespace, missing, searchattr.RegisterCommand(namespace, missing))
		}
		return nil
	}
	added, err := searchattr.Ensure(ctx, tc, namespace)
	if err != nil {
		return err
	}
	if len(added) > 0 {
		logger.Info("registered search attributes", zap.Strings("names", added), zap.String("namespace", namespace))
	}
	return nil
}
