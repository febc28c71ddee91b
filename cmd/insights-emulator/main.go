// Command insights-emulator runs a local Contact Center Insights
// issue-model emulator (package insightstest) as a standalone gRPC server.
//
// Point clients at it with INSIGHTS_EMULATOR_HOST=host:port (see package
// insightsclient). Run with -help for every knob.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/issuemodels/durable-lro/insightstest"
)

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
	f, err := parseFlags(args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	logger, err := newLogger(f.logLevel)
	if err != nil {
		return err
	}
	defer logger.Sync() //nolint:errcheck
	opts, faults, err := f.options()
	if err != nil {
		return err
	}
	opts.Logger = logger
	history, err := f.finishedTrainings()
	if err != nil {
		return err
	}
	srv, err := insightstest.NewServer(opts)
	if err != nil {
		return err
	}
	for parent, trainings := range history {
		if err := srv.SeedFinishedTrainings(parent, trainings); err != nil {
			srv.Close()
			return err
		}
	}
	for _, mf := range faults {
		srv.SetFaults(mf.method, mf.faults...)
	}
	logger.Info("emulator ready",
		zap.String("addr", srv.Addr()),
		zap.String("env", "INSIGHTS_EMULATOR_HOST="+srv.Addr()),
		zap.String("training_time", f.trainingTime),
		zap.Float64("time_scale", f.timeScale),
		zap.Strings("faults", f.faults), zap.Strings("latency", f.latencies),
		zap.Float64("lost_reply_rate", f.lostRate), zap.Float64("fail_training_rate", f.failRate))

	stopStatus := func() {}
	if f.statusAddr != "" {
		if stopStatus, err = serveStatus(f.statusAddr, srv, logger); err != nil {
			srv.Close()
			return fmt.Errorf("status server: %w", err)
		}
	}

	<-ctx.Done()
	logger.Info("shutting down")
	stopStatus()
	srv.GracefulClose(5 * time.Second)
	return nil
}

// newLogger logs JSON to stderr at level ("debug", "info", "warn", "error").
func newLogger(level string) (*zap.Logger, error) {
	var l zapcore.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("-log-level: %w", err)
	}
	cfg := zap.NewProductionConfig()
	cfg.Level = zap.NewAtomicLevelAt(l)
	cfg.Sampling = nil
	cfg.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	return cfg.Build()
}
