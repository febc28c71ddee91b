// Command worker runs the Temporal worker that hosts CreateIssueModelWorkflow,
// AwaitOperationWorkflow, IssueModelLifecycleWorkflow and their activities.
//
// The Temporal connection comes from go.temporal.io/sdk/contrib/envconfig: TEMPORAL_ADDRESS,
// TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*, and TOML profiles selected with
// TEMPORAL_PROFILE / TEMPORAL_CONFIG_FILE. The Contact Center Insights client comes from
// insightsclient.New: INSIGHTS_EMULATOR_HOST=host:port points it at the emulator, otherwise it
// uses Application Default Credentials.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	sdktally "go.temporal.io/sdk/contrib/tally"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.uber.org/zap"
	"go.uber.org/zap/exp/zapslog"
	"go.uber.org/zap/zapcore"
	"golang.org/x/time/rate"

	"github.com/issuemodels/durable-lro/activities"
	"github.com/issuemodels/durable-lro/codec"
	"github.com/issuemodels/durable-lro/insightsclient"
	"github.com/issuemodels/durable-lro/searchattr"
	"github.com/issuemodels/durable-lro/workflows"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

// config is what the flags and environment select.
type config struct {
	taskQueue   string
	logLevel    string
	logFormat   string
	stopTimeout time.Duration
	metricsAddr string
	// Google API rate limits (see README, "Quota").
	taskQueueActivitiesPerSecond float64
	pollsPerSecond               float64
	registerSearchAttributes     bool
	// pollers is how many task polls the worker keeps open: 0 for the SDK's poller
	// autoscaling, else a fixed maximum.
	pollers int
}

func parseFlags(args []string, getenv func(string) string) (config, error) {
	or := func(key, def string) string {
		if v := strings.TrimSpace(getenv(key)); v != "" {
			return v
		}
		return def
	}
	var cfg config
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	fs.StringVar(&cfg.taskQueue, "task-queue", or("TEMPORAL_TASK_QUEUE", workflows.DefaultTaskQueue), "task queue to poll (env TEMPORAL_TASK_QUEUE)")
	fs.StringVar(&cfg.logLevel, "log-level", or("LOG_LEVEL", "info"), "debug | info | warn | error (env LOG_LEVEL)")
	fs.StringVar(&cfg.logFormat, "log-format", or("LOG_FORMAT", "json"), "json | console (env LOG_FORMAT)")
	fs.DurationVar(&cfg.stopTimeout, "stop-timeout", 10*time.Second, "on SIGINT/SIGTERM, how long running activities get to finish")
	fs.StringVar(&cfg.metricsAddr, "metrics-addr", or("METRICS_ADDR", ""), "serve the SDK's Prometheus metrics on this address, e.g. 127.0.0.1:9464 (env METRICS_ADDR; empty: off)")
	fs.Func("task-queue-activities-per-second", fmt.Sprintf("API calls per second other than GetOperation (create, cancel, deploy, list, ...), enforced by the Temporal server across all workers of the task queue (env TASK_QUEUE_ACTIVITIES_PER_SECOND) (default %g)", defaultTaskQueueActivitiesPerSecond),
		positiveFloat(&cfg.taskQueueActivitiesPerSecond))
	fs.Func("polls-per-second", fmt.Sprintf("GetOperation calls per second of this worker (local activities; env POLLS_PER_SECOND) (default %g)", defaultPollsPerSecond),
		positiveFloat(&cfg.pollsPerSecond))
	pollersDefault := or("WORKER_POLLERS", "autoscaling")
	fs.Func("pollers", `task polls the worker keeps open per kind (workflow, activity): "autoscaling" (the SDK scales them on the server's feedback; needs Temporal server >= 1.28) or a fixed maximum (env WORKER_POLLERS) (default "autoscaling")`,
		func(v string) error { return parsePollers(&cfg.pollers, v) })
	registerDefault, err := strconv.ParseBool(or("REGISTER_SEARCH_ATTRIBUTES", "true"))
	if err != nil {
		return cfg, fmt.Errorf("REGISTER_SEARCH_ATTRIBUTES: %q is not true or false", getenv("REGISTER_SEARCH_ATTRIBUTES"))
	}
	fs.BoolVar(&cfg.registerSearchAttributes, "register-search-attributes", registerDefault,
		"at startup, register the workflows' search attributes (InsightsOperation, InsightsPhase) if the namespace lacks them (env REGISTER_SEARCH_ATTRIBUTES); when false, only check that they exist")
	cfg.taskQueueActivitiesPerSecond, cfg.pollsPerSecond = defaultTaskQueueActivitiesPerSecond, defaultPollsPerSecond
	if err := parsePollers(&cfg.pollers, pollersDefault); err != nil {
		return cfg, fmt.Errorf("WORKER_POLLERS: %w", err)
	}
	for env, dst := range map[string]*float64{"TASK_QUEUE_ACTIVITIES_PER_SECOND": &cfg.taskQueueActivitiesPerSecond, "POLLS_PER_SECOND": &cfg.pollsPerSecond} {
		if v := strings.TrimSpace(getenv(env)); v != "" {
			if err := positiveFloat(dst)(v); err != nil {
				return cfg, fmt.Errorf("%s: %w", env, err)
			}
		}
	}
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: worker [flags]

Runs the Temporal worker for the issue-model workflows.

Temporal connection (go.temporal.io/sdk/contrib/envconfig): TEMPORAL_ADDRESS (default
localhost:7233), TEMPORAL_NAMESPACE (default "default"), TEMPORAL_API_KEY, TEMPORAL_TLS,
TEMPORAL_TLS_CLIENT_CERT_PATH, TEMPORAL_TLS_CLIENT_KEY_PATH, TEMPORAL_TLS_SERVER_CA_CERT_PATH,
..., or a TOML profile (TEMPORAL_CONFIG_FILE, TEMPORAL_PROFILE).
Contact Center Insights: INSIGHTS_EMULATOR_HOST=host:port for the emulator, else
Application Default Credentials.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if cfg.taskQueue == "" {
		return cfg, errors.New("-task-queue must not be empty")
	}
	return cfg, nil
}

// Default API rate limits: 10 + 30 requests/s = 2,400 requests/min for one worker, below the
// 3,000 requests/min per project that Contact Center Insights allows.
const (
	defaultTaskQueueActivitiesPerSecond = 10.0
	defaultPollsPerSecond               = 30.0
)

// parsePollers reads "autoscaling" (0) or a fixed number of pollers (at least 2: the SDK
// needs two for workflow tasks, one for the normal and one for the sticky queue).
func parsePollers(dst *int, s string) error {
	if s == "autoscaling" {
		*dst = 0
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 2 || n > 1000 {
		return fmt.Errorf("%q is not \"autoscaling\" or a number of pollers from 2 to 1000", s)
	}
	*dst = n
	return nil
}

// pollerBehavior is the SDK's poller behaviour for cfg.pollers.
//
// Autoscaling by default: with a fixed number of pollers the SDK polls the sticky queue whenever
// it has a backlog, so on a busy worker (thousands of runs whose timers fire) the first workflow
// task of new runs waited minutes in the normal queue (measured with the bench,
// docs/PERFORMANCE.md); autoscaling balances the two and adds pollers on demand.
func pollerBehavior(pollers int) worker.PollerBehavior {
	if pollers == 0 {
		return worker.NewPollerBehaviorAutoscaling(worker.PollerBehaviorAutoscalingOptions{})
	}
	return worker.NewPollerBehaviorSimpleMaximum(worker.PollerBehaviorSimpleMaximumOptions{MaximumNumberOfPollers: pollers})
}

func positiveFloat(dst *float64) func(string) error {
	return func(s string) error {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || !(v > 0) || math.IsInf(v, 0) {
			return fmt.Errorf("%q is not a positive number", s)
		}
		*dst = v
		return nil
	}
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

func run(args []string) int {
	cfg, err := parseFlags(args, os.Getenv)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(os.Stderr, "worker:", err)
		return 2
	}
	logger, err := newLogger(cfg.logLevel, cfg.logFormat)
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		return 2
	}
	defer logger.Sync() //nolint:errcheck
	if err := serve(cfg, logger); err != nil {
		logger.Error("worker stopped with an error", zap.Error(err))
		return 1
	}
	return 0
}

func serve(cfg config, logger *zap.Logger) error {
	// SIGINT/SIGTERM stop the worker; registered first so an early signal is not lost.
	sigCh := make(chan os.Signal, 1)
	signal.Notify(sigCh, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigCh)

	opts, err := envconfig.LoadClientOptions(envconfig.LoadClientOptionsRequest{})
	if err != nil {
		return fmt.Errorf("loading Temporal client configuration: %w", err)
	}
	// The SDK logs through zap: slog front end (the SDK's structured logger) on a zap core.
	opts.Logger = tlog.NewStructuredLogger(slog.New(zapslog.NewHandler(logger.Core(), zapslog.WithCaller(true))))
	dc, encrypted, err := codec.DataConverterFromEnv()
	if err != nil {
		return fmt.Errorf("payload encryption: %w", err)
	}
	opts.DataConverter = dc
	logger.Info("payload encryption", zap.Bool("enabled", encrypted))
	if cfg.metricsAddr != "" {
		scope, closeMetrics, err := newMetricsScope(cfg.metricsAddr, logger)
		if err != nil {
			return err
		}
		defer closeMetrics()
		opts.MetricsHandler = sdktally.NewMetricsHandler(scope)
		logger.Info("serving Prometheus metrics", zap.String("url", "http://"+cfg.metricsAddr+"/metrics"))
	}
	address := opts.HostPort
	if address == "" {
		address = client.DefaultHostPort
	}
	namespace := opts.Namespace
	if namespace == "" {
		namespace = client.DefaultNamespace
	}
	// Never log the API key or TLS material: only whether they are configured.
	logger.Info("connecting to Temporal",
		zap.String("address", address), zap.String("namespace", namespace),
		zap.String("task_queue", cfg.taskQueue),
		zap.Bool("tls", opts.ConnectionOptions.TLS != nil), zap.Bool("api_key", opts.Credentials != nil))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tc, err := client.DialContext(ctx, opts)
	if err != nil {
		return fmt.Errorf("connecting to Temporal at %s: %w", address, err)
	}
	defer tc.Close()

	endpoint := "Google (Application Default Credentials)"
	if h := strings.TrimSpace(os.Getenv(insightsclient.EmulatorHostEnv)); h != "" {
		endpoint = "emulator at " + h
	}
	gc, err := insightsclient.New(ctx, activities.ClientOptions()...)
	if err != nil {
		return fmt.Errorf("creating the Contact Center Insights client (%s): %w", endpoint, err)
	}
	defer func() {
		if err := gc.Close(); err != nil {
			logger.Warn("closing the Contact Center Insights client", zap.Error(err))
		}
	}()
	logger.Info("Contact Center Insights client ready", zap.String("endpoint", endpoint))

	if err := checkSearchAttributes(ctx, tc, namespace, cfg.registerSearchAttributes, logger); err != nil {
		return err
	}
	w := worker.New(tc, cfg.taskQueue, worker.Options{
		WorkerStopTimeout:            cfg.stopTimeout,
		TaskQueueActivitiesPerSecond: cfg.taskQueueActivitiesPerSecond,
		WorkflowTaskPollerBehavior:   pollerBehavior(cfg.pollers),
		ActivityTaskPollerBehavior:   pollerBehavior(cfg.pollers),
	})
	logger.Info("Google API rate limits",
		zap.Float64("task_queue_activities_per_second", cfg.taskQueueActivitiesPerSecond),
		zap.Float64("polls_per_second", cfg.pollsPerSecond), zap.Int("pollers", cfg.pollers))
	// The poll budget is ours rather than the SDK's WorkerLocalActivitiesPerSecond: that one
	// queues polls in the worker, which keeps their workflow tasks open.
	workflows.Register(w, &activities.Activities{Client: gc, PollLimiter: rate.NewLimiter(rate.Limit(cfg.pollsPerSecond), 1)})

	interrupt := make(chan any, 1)
	go func() {
		select {
		case sig := <-sigCh:
			logger.Info("signal received; stopping the worker", zap.String("signal", sig.String()),
				zap.Duration("stop_timeout", cfg.stopTimeout))
			interrupt <- sig
		case <-ctx.Done():
		}
	}()
	if err := w.Run(interrupt); err != nil {
		return err
	}
	logger.Info("worker stopped")
	return nil
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
