// Command localstack runs the whole stack on one machine with nothing but Go installed:
//
//	go run ./cmd/localstack
//
// It installs the Temporal CLI into ./bin if it is missing, starts the Temporal dev server
// (state in .data/temporal.db, kept across restarts), the Contact Center Insights emulator and
// the worker as child processes (logs in .data/*.log), starts one sample CreateIssueModelWorkflow
// and follows it until it ends, prints how to look at it, and stays up until Ctrl-C, when it stops
// every child (internal/proc: also on SIGTERM, SIGHUP, a dead stdout, and by the kernel if
// localstack itself is killed).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/issuemodels/durable-lro/internal/proc"
	"github.com/issuemodels/durable-lro/workflows"
)

const (
	namespace = "default"

	// SampleInput is the README's sample: a CHAT model named "weekly".
	SampleInput = `{"parent":"projects/acme/locations/us-central1","issueModel":{"displayName":"weekly","inputDataConfig":{"medium":"CHAT","filter":"medium=\"CHAT\""}}}`

	// sampleTraining is the emulated training time; at the default -time-scale 2 it takes 60s
	// of wall time, which the workflow's default polling (workflows.DefaultInitialInterval,
	// then x DefaultMultiplier up to DefaultMaxInterval) sees done a poll later.
	sampleTraining = "2m"
)

type options struct {
	noSample     bool
	port         int
	uiPort       int
	emulatorPort int
	timeScale    float64
	verbose      bool
	temporalPath string
	dataDir      string
	taskQueue    string
}

func main() {
	o := parseFlags()
	ctx, stop := proc.NotifyContext(context.Background())
	err := run(ctx, o)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "\nlocalstack: %v\n", err)
		os.Exit(1)
	}
}

func parseFlags() options {
	var o options
	flag.BoolVar(&o.noSample, "no-sample", false, "do not start the sample workflow")
	flag.IntVar(&o.port, "port", 7233, "Temporal frontend (gRPC) port on 127.0.0.1")
	flag.IntVar(&o.uiPort, "ui-port", 8233, "Temporal Web UI port on 127.0.0.1")
	flag.IntVar(&o.emulatorPort, "emulator-port", 9090, "emulator gRPC port on 127.0.0.1 (its /status and /healthz HTTP port is this +1)")
	flag.Float64Var(&o.timeScale, "time-scale", 2, "emulated seconds per real second in the emulator (2: the sample's 2m training takes 1m)")
	flag.BoolVar(&o.verbose, "v", false, "also copy the children's output to this terminal, prefixed with their name")
	flag.StringVar(&o.dataDir, "data-dir", "", "where Temporal's SQLite file and the logs go (default <repo>/.data)")
	flag.StringVar(&o.temporalPath, "temporal-cli", "", "path of the Temporal CLI (default <repo>/bin/temporal; installed with go install when missing)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), `Usage: go run ./cmd/localstack [flags]

Runs the Temporal dev server, the Contact Center Insights emulator and the worker on this
machine, starts a sample CreateIssueModelWorkflow (%s of emulated training; by default the
workflow polls after %s, then x%g up to every %s) and stays up until Ctrl-C.

Flags:
`, sampleTraining, workflows.DefaultInitialInterval, workflows.DefaultMultiplier, workflows.DefaultMaxInterval)
		flag.PrintDefaults()
	}
	flag.Parse()
	o.taskQueue = workflows.DefaultTaskQueue
	return o
}

func say(format string, args ...any) {
	fmt.Printf("==> "+format+"\n", args...)
}

// run brings the stack up, runs the sample and waits for Ctrl-C or a child's death.
func run(ctx context.Context, o options) error {
	s, err := newStack(o)
	if err != nil {
		return err
	}
	if err := s.prepare(ctx); err != nil {
		return err
	}
	defer s.stopAll()
	if err := s.startAll(ctx); err != nil {
		return err
	}
	defer s.tc.Close()
	sampleID := ""
	if !o.noSample {
		sampleID = "sample-" + time.Now().Format("20060102-150405")
		if err := s.runSample(ctx, sampleID); err != nil {
			return err
		}
	}
	s.printHelp(sampleID)

	fmt.Println()
	say("Everything is running. Press Ctrl-C to stop.")
	select {
	case <-ctx.Done():
		return nil
	case c := <-s.died:
		return c.DeathError()
	}
}
