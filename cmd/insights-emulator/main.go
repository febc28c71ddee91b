// Command insights-emulator runs a local Contact Center Insights
// issue-model emulator (package insightstest) as a standalone gRPC server.
//
// Point clients at it with INSIGHTS_EMULATOR_HOST=host:port (see package
// insightsclient). Run with -help for every knob.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/issuemodels/durable-lro/insightstest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		stop()
		fmt.Fprintln(os.Stderr, "insights-emulator:", err)
		os.Exit(1)
	}
}

// run serves until ctx is done (SIGINT/SIGTERM in main), then shuts down
// gracefully.
func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("insights-emulator", flag.ContinueOnError)
	var (
		addr         = fs.String("addr", "127.0.0.1:9090", "gRPC listen address")
		statusAddr   = fs.String("status-addr", "127.0.0.1:9091", "HTTP address serving GET /status (Stats JSON) and /healthz; empty disables")
		trainingTime = fs.String("training-time", "2m", "training time per CreateIssueModel, in emulated time: DURATION (fixed), uniform:MIN-MAX, exp:MEAN or exp:MEAN-MAX (capped)")
		deployTime   = fs.Duration("deploy-time", insightstest.DefaultDeployTime, "DeployIssueModel duration (emulated time)")
		undeployTime = fs.Duration("undeploy-time", insightstest.DefaultUndeployTime, "UndeployIssueModel duration (emulated time)")
		deleteTime   = fs.Duration("delete-time", insightstest.DefaultDeleteTime, "DeleteIssueModel duration (emulated time)")
		timeScale    = fs.Float64("time-scale", 1, "emulated seconds per real second (60: a 2m training takes 2s)")
		cancelMode   = fs.String("cancel-mode", "honor", "CancelOperation behaviour: honor | unimplemented | ignore")
		failRate     = fs.Float64("fail-training-rate", 0, "probability [0,1] that a training ends with FAILED_PRECONDITION \"too few conversations match the filter\"")
		lostRate     = fs.Float64("lost-reply-rate", 0, "probability [0,1] that a mutating call (Create/Deploy/Undeploy/DeleteIssueModel, CancelOperation) is committed but answered UNAVAILABLE")
		rpm          = fs.Int("rpm", insightstest.DefaultRequestsPerMinute, "requests per minute per project (real time); <0 disables, 0 = default")
		maxCreates   = fs.Int("max-concurrent-creates", insightstest.DefaultMaxConcurrentCreates, "in-flight creations per project+location; <0 unlimited, 0 = default")
		maxModels    = fs.Int("max-models", insightstest.DefaultMaxModels, "issue models per project+location; <0 unlimited, 0 = default")
		maxDeployed  = fs.Int("max-deployed", insightstest.DefaultMaxDeployed, "deployed+deploying models per project+location; <0 unlimited, 0 = default")
		visibility   = fs.Duration("visibility-delay", 0, "operations younger than this (emulated time) answer NOT_FOUND")
		ttl          = fs.Duration("operation-ttl", 0, "done operations vanish this long (emulated time) after finishing; 0 = never")
		seed         = fs.Int64("seed", 0, "random seed for faults, training time and failures; 0 = time-based")
		logLevel     = fs.String("log-level", "info", "debug | info | warn | error (debug logs every RPC)")
		faults       multiFlag
		latencies    multiFlag
	)
	fs.Var(&faults, "fault", "repeatable `method:code:probability`, e.g. CreateIssueModel:UNAVAILABLE:0.1 or *:RESOURCE_EXHAUSTED:0.05 (method is the short RPC name or *)")
	fs.Var(&latencies, "latency", "repeatable `method:duration:probability` of added real latency, e.g. GetOperation:2s:0.5")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: insights-emulator [flags]

Local emulator of the Contact Center Insights issue-model API
(CreateIssueModel, GetIssueModel, ListIssueModels, DeployIssueModel,
UndeployIssueModel, DeleteIssueModel) and google.longrunning.Operations
(GetOperation, ListOperations, CancelOperation). Everything else answers
UNIMPLEMENTED. State is in memory only.

Clients: export %s=<addr> and build the client with
insightsclient.New, or pass option.WithEndpoint(addr),
option.WithoutAuthentication() and an insecure gRPC transport.

Flags:
`, "INSIGHTS_EMULATOR_HOST")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}

	var level zapcore.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}
	cfg := zap.NewProductionConfig()
	cfg.Level = zap.NewAtomicLevelAt(level)
	cfg.Sampling = nil
	cfg.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	logger, err := cfg.Build()
	if err != nil {
		return err
	}
	defer logger.Sync() //nolint:errcheck

	mode, err := insightstest.ParseCancelMode(*cancelMode)
	if err != nil {
		return fmt.Errorf("-cancel-mode: %w", err)
	}
	tt, err := insightstest.ParseTrainingTime(*trainingTime, derive(*seed, 1))
	if err != nil {
		return fmt.Errorf("-training-time: %w", err)
	}
	if *timeScale <= 0 {
		return fmt.Errorf("-time-scale must be positive")
	}
	for name, p := range map[string]float64{"-fail-training-rate": *failRate, "-lost-reply-rate": *lostRate} {
		if p < 0 || p > 1 {
			return fmt.Errorf("%s must be in [0,1]", name)
		}
	}

	// Latency faults first (they add up), then error faults, then lost replies.
	byMethod := map[string][]insightstest.Fault{}
	var order []string
	add := func(m string, f insightstest.Fault) {
		if _, ok := byMethod[m]; !ok {
			order = append(order, m)
		}
		byMethod[m] = append(byMethod[m], f)
	}
	for _, spec := range latencies {
		m, f, err := insightstest.ParseLatency(spec)
		if err != nil {
			return fmt.Errorf("-latency: %w", err)
		}
		add(m, f)
	}
	for _, spec := range faults {
		m, f, err := insightstest.ParseFault(spec)
		if err != nil {
			return fmt.Errorf("-fault: %w", err)
		}
		add(m, f)
	}
	if *lostRate > 0 {
		for _, m := range insightstest.MutatingMethods {
			add(m, insightstest.Fault{LostReplyAfterCommit: true, Probability: *lostRate})
		}
	}

	opts := insightstest.Options{
		Addr:                     *addr,
		Clock:                    insightstest.RealClock(*timeScale),
		TrainingTime:             tt,
		DeployTime:               orInstant(*deployTime),
		UndeployTime:             orInstant(*undeployTime),
		DeleteTime:               orInstant(*deleteTime),
		CancelMode:               mode,
		RequestsPerMinute:        *rpm,
		MaxConcurrentCreates:     *maxCreates,
		MaxModels:                *maxModels,
		MaxDeployed:              *maxDeployed,
		OperationVisibilityDelay: *visibility,
		OperationTTL:             *ttl,
		Logger:                   logger,
		Seed:                     *seed,
	}
	if *failRate > 0 {
		opts.TrainingOutcome = insightstest.RandomTrainingFailure(*failRate, derive(*seed, 2))
	}
	srv, err := insightstest.NewServer(opts)
	if err != nil {
		return err
	}
	for _, m := range order {
		srv.SetFaults(m, byMethod[m]...)
	}
	logger.Info("emulator ready",
		zap.String("addr", srv.Addr()),
		zap.String("env", "INSIGHTS_EMULATOR_HOST="+srv.Addr()),
		zap.String("training_time", *trainingTime),
		zap.Float64("time_scale", *timeScale),
		zap.Strings("faults", faults), zap.Strings("latency", latencies),
		zap.Float64("lost_reply_rate", *lostRate), zap.Float64("fail_training_rate", *failRate))

	var hs *http.Server
	if *statusAddr != "" {
		mux := http.NewServeMux()
		mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			_ = enc.Encode(srv.Stats())
		})
		mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte("ok\n"))
		})
		hs = &http.Server{Addr: *statusAddr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		errc := make(chan error, 1)
		go func() { errc <- hs.ListenAndServe() }()
		select {
		case err := <-errc:
			srv.Close()
			return fmt.Errorf("status server: %w", err)
		case <-time.After(100 * time.Millisecond):
		}
		logger.Info("status endpoint ready", zap.String("url", "http://"+*statusAddr+"/status"))
	}

	<-ctx.Done()
	logger.Info("shutting down")
	if hs != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = hs.Shutdown(sctx)
		cancel()
	}
	srv.GracefulClose(5 * time.Second)
	return nil
}

// orInstant maps an explicit 0 flag value to "instant" (the library treats
// 0 as "use the default").
func orInstant(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// derive gives each random stream its own seed (0 stays time-based).
func derive(seed, n int64) int64 {
	if seed == 0 {
		return 0
	}
	return seed*7919 + n
}
