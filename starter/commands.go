package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/peterbourgon/ff/v3/ffcli"
	"go.temporal.io/sdk/client"

	"github.com/issuemodels/durable-lro/workflows"
)

// app is what every command shares: where it prints and how it reaches Temporal.
type app struct {
	stdout, stderr io.Writer
	dial           func(context.Context) (client.Client, error)
}

const rootHelp = `The Temporal connection comes from TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY,
TEMPORAL_TLS_*, TEMPORAL_PROFILE and TEMPORAL_CONFIG_FILE; the task queue from -task-queue or
TEMPORAL_TASK_QUEUE. Tracing: OpenTelemetry over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set
(docs/OPERATING.md). "starter doctor -parent P" checks the setup before a training. Run
"starter <command> -h" for the flags of a command.`

// run executes one command line and returns the exit code. The commands dial only once the
// command line and the input are known to be valid; every error ends here.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, dialFn func(context.Context) (client.Client, error)) int {
	a := &app{stdout: stdout, stderr: stderr, dial: dialFn}
	root := a.root()
	err := root.Parse(args)
	if err == nil {
		err = root.Run(ctx)
	} else if !errors.Is(err, flag.ErrHelp) {
		err = usageError{err}
	}
	var ee exitError
	var ue usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ue):
		fmt.Fprintln(stderr, "starter:", err)
		return exitInvalid
	default:
		fmt.Fprintln(stderr, "starter:", err)
		return exitFailed
	}
}

func (a *app) root() *ffcli.Command {
	var root *ffcli.Command
	root = &ffcli.Command{
		Name:       "starter",
		ShortUsage: "starter <command> [flags]",
		LongHelp:   rootHelp,
		FlagSet:    a.flags("starter"),
		Subcommands: []*ffcli.Command{
			a.startCommand(), a.statusCommand(), a.cancelCommand(), a.pollNowCommand(), a.waitCommand(),
			a.attachCommand(), a.lifecycleCommand(), a.scheduleCommand(), a.operationsCommand(), a.doctorCommand(),
		},
		Exec: func(_ context.Context, args []string) error {
			root.FlagSet.Usage()
			switch {
			case len(args) == 0:
				return exitError{exitInvalid}
			case args[0] == "help":
				return nil
			}
			return usage("unknown command %q", args[0])
		},
	}
	return root
}

// flags is a command's flag set: errors and help go to stderr, and the caller decides the exit.
func (a *app) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(a.stderr)
	return fs
}

// withClient connects to Temporal and runs do.
func (a *app) withClient(ctx context.Context, do func(client.Client) error) error {
	c, err := a.dial(ctx)
	if err != nil {
		return fmt.Errorf("connecting to Temporal: %w", err)
	}
	defer c.Close()
	return do(c)
}

// taskQueueFlag defines -task-queue: the flag, else TEMPORAL_TASK_QUEUE, else the default.
func taskQueueFlag(fs *flag.FlagSet) *string {
	tq := fs.String("task-queue", workflows.DefaultTaskQueue, "task queue (env TEMPORAL_TASK_QUEUE)")
	if v := strings.TrimSpace(os.Getenv("TEMPORAL_TASK_QUEUE")); v != "" {
		*tq = v // the help keeps showing the default
	}
	return tq
}

// noArgs refuses positional arguments to a command that takes none.
func noArgs(cmd string, args []string) error {
	if len(args) > 0 {
		return usage("%s: unexpected arguments %q", cmd, args)
	}
	return nil
}

// flagsOnly is the Exec of a command that takes flags and no arguments (cmd names it in the
// usage error): it refuses arguments, then runs do.
func flagsOnly(cmd string, do func(ctx context.Context) error) func(context.Context, []string) error {
	return func(ctx context.Context, args []string) error {
		if err := noArgs(cmd, args); err != nil {
			return err
		}
		return do(ctx)
	}
}

// setFlags names the flags given on the command line (or set from the environment).
func setFlags(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	return set
}

// idCommand is a command that addresses one run by -workflow-id; fs may hold its other flags.
func (a *app) idCommand(name, help string, fs *flag.FlagSet, do func(ctx context.Context, c client.Client, id string) error) *ffcli.Command {
	id := fs.String("workflow-id", "", "workflow id (required)")
	return &ffcli.Command{
		Name:       name,
		ShortUsage: "starter " + name + " -workflow-id ID",
		ShortHelp:  help,
		FlagSet:    fs,
		Exec: flagsOnly(name, func(ctx context.Context) error {
			if strings.TrimSpace(*id) == "" {
				return usage("%s: -workflow-id is required", name)
			}
			return a.withClient(ctx, func(c client.Client) error { return do(ctx, c, *id) })
		}),
	}
}

func (a *app) statusCommand() *ffcli.Command {
	return a.idCommand("status", "print the status query of a run", a.flags("status"),
		func(ctx context.Context, c client.Client, id string) error { return Status(ctx, c, a.stdout, id) })
}

func (a *app) cancelCommand() *ffcli.Command {
	fs := a.flags("cancel")
	reason := fs.String("reason", "", "why the run is cancelled (recorded in the result)")
	return a.idCommand("cancel", "send the cancel signal (-reason R)", fs,
		func(ctx context.Context, c client.Client, id string) error {
			return Cancel(ctx, c, a.stdout, id, *reason)
		})
}

func (a *app) pollNowCommand() *ffcli.Command {
	return a.idCommand("poll-now", "send the poll-now signal", a.flags("poll-now"),
		func(ctx context.Context, c client.Client, id string) error { return PollNow(ctx, c, a.stdout, id) })
}

func (a *app) waitCommand() *ffcli.Command {
	return a.idCommand("wait", "wait for a run to end and print its result, failure or cancellation", a.flags("wait"),
		func(ctx context.Context, c client.Client, id string) error { return Wait(ctx, c, a.stdout, id) })
}

// positional returns a command's positional argument, given before or after its flags, and
// parses the flags after it (the flag package stops at the first argument that is not a flag).
func positional(cmd string, fs *flag.FlagSet, args []string) (string, error) {
	if len(args) == 0 {
		return "", nil
	}
	switch err := fs.Parse(args[1:]); {
	case errors.Is(err, flag.ErrHelp):
		return "", exitError{exitOK} // the flag set printed the help
	case err != nil:
		return "", usageError{err}
	}
	return args[0], noArgs(cmd, fs.Args())
}
