package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/issuemodels/durable-lro/insightstest"
	"github.com/issuemodels/durable-lro/insightstest/record"
	"github.com/issuemodels/durable-lro/internal/cluster"
	"github.com/issuemodels/durable-lro/internal/devserver"
	"github.com/issuemodels/durable-lro/internal/proc"
	"github.com/issuemodels/durable-lro/internal/temporalcli"
	"google.golang.org/grpc"
)

// The processes a run needs: the binaries, the Temporal server, the emulator.

// buildBinaries builds the worker (when a workflow strategy runs) and finds this binary, which
// runs the other strategies' processes.
func (r *runner) buildBinaries(ctx context.Context) error {
	var err error
	if r.selfBin, err = os.Executable(); err != nil {
		return err
	}
	if len(r.policies) == 0 {
		return nil
	}
	root, err := proc.RepoRoot()
	if err != nil {
		return err
	}
	r.workerBin = filepath.Join(r.tmp, "worker")
	r.logf("go build -o %s ./worker", r.workerBin)
	return proc.Build(ctx, root, "./worker", r.workerBin)
}

// startServer starts the Temporal server of -temporal: the dev server, or the Temporal server on
// PostgreSQL (internal/cluster, its schema and namespace set up by the compose stack's scripts).
func (r *runner) startServer(ctx context.Context) error {
	sctx, cancel := context.WithTimeout(ctx, 25*time.Minute)
	defer cancel()
	if r.cfg.server == serverCluster {
		r.logf("starting the Temporal %s server on PostgreSQL (builds ./bin/temporal-server on first use)", temporalcli.ServerVersion)
		c, err := cluster.New(sctx)
		if err != nil {
			return fmt.Errorf("-temporal cluster: %w", err)
		}
		r.cluster, r.dev = c, c.Server
		r.logf("Temporal server %s (pid %d), PostgreSQL %d (pid %d, port %d), emulator %s",
			r.dev.HostPort, r.dev.Pid(), c.PG.Version(), c.PG.Pid(), c.PG.Port, r.emu.Addr())
		return nil
	}
	r.logf("starting the Temporal dev server (builds ./bin/temporal on first use)")
	var err error
	if r.dev, err = devserver.New(sctx); err != nil {
		return err
	}
	r.logf("dev server %s (pid %d), emulator %s", r.dev.HostPort, r.dev.Pid(), r.emu.Addr())
	return nil
}

// serverDescription names the server for the report, e.g. "cluster (Temporal 1.29.1 on
// PostgreSQL 17, 4 history shards)".
func (r *runner) serverDescription() string {
	if r.cluster == nil {
		return serverDev + " (Temporal CLI dev server, " + strings.TrimPrefix(temporalcli.Module, "github.com/temporalio/cli/cmd/") + ", SQLite in memory, 1 history shard)"
	}
	pg := "PostgreSQL"
	if v := r.cluster.PG.Version(); v > 0 {
		pg = fmt.Sprintf("PostgreSQL %d", v)
	}
	return fmt.Sprintf("%s (Temporal %s on %s, %d history shards)", serverCluster,
		strings.TrimPrefix(temporalcli.ServerVersion, "v"), pg, cluster.HistoryShards)
}

// startEmulator starts the in-process emulator.
func (r *runner) startEmulator() error {
	cfg := r.cfg
	var err error
	// The emulator: the clock runs scale times faster than wall time; the request limit is
	// counted in real time, so the per-minute limit is scaled too. The creation quotas (one
	// concurrent creation and 10 models per location) are lifted: every strategy creates all
	// its operations in one project.
	clock := insightstest.RealClock(cfg.scale)
	r.rec = record.New(clock)
	r.emu, err = insightstest.NewServer(insightstest.Options{
		Clock:                clock,
		Interceptors:         []grpc.UnaryServerInterceptor{r.rec.Intercept},
		TrainingTimeFor:      r.plan.trainingTimeFor,
		RequestsPerMinute:    int(float64(cfg.apiRPM) * cfg.scale),
		MaxConcurrentCreates: insightstest.Unlimited,
		MaxModels:            insightstest.Unlimited,
		Seed:                 cfg.seed,
	})
	if err != nil {
		return err
	}
	return r.seedHistory()
}

// seedHistory is -history: every strategy's location gets the same finished trainings.
func (r *runner) seedHistory() error {
	history := newHistory(r.cfg, r.cfg.history, r.cfg.historyShift)
	if len(history) == 0 {
		return nil
	}
	for _, s := range r.cfg.strategies {
		if err := r.emu.SeedFinishedTrainings(parentFor(s), history); err != nil {
			return err
		}
	}
	r.logf("seeded %d finished trainings (durations x %g) in each strategy's location", len(history), r.cfg.historyShift)
	return nil
}

// startChild starts bin with args and env (on top of internal/proc's scrubbed environment);
// stderr, and stdout unless given, go to a log file. Stop gives it 30 s to drain.
func (r *runner) startChild(name, bin string, args, env []string, stdout io.Writer) (*proc.Process, error) {
	return proc.Start(proc.Options{Name: name, Path: bin, Args: args, Env: env,
		Log: filepath.Join(r.tmp, name+".log"), Stdout: stdout, Grace: 30 * time.Second})
}
