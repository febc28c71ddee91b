package main

import (
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"github.com/peterbourgon/ff/v3/ffcli"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/api/iterator"

	"github.com/issuemodels/durable-lro/insights"
	"github.com/issuemodels/durable-lro/insightsclient"
	"github.com/issuemodels/durable-lro/workflows"
)

func (a *app) attachCommand() *ffcli.Command {
	fs := a.flags("attach")
	id := fs.String("workflow-id", "", "workflow id (default await-<operation id>)")
	taskQueue := taskQueueFlag(fs)
	var initial, maxInterval, timeout string
	pollingFlags(fs, &initial, &maxInterval, &timeout)
	wait := fs.Bool("wait", false, "wait for the operation and print it")
	return &ffcli.Command{
		Name:       "attach",
		ShortUsage: "starter attach OPERATION_NAME [flags]",
		ShortHelp:  "start an AwaitOperationWorkflow on an existing operation: attach NAME [-wait]",
		FlagSet:    fs,
		Exec: func(ctx context.Context, args []string) error {
			name, err := positional("attach", fs, args)
			if err != nil {
				return err
			}
			in := workflows.AwaitOperationInput{Operation: name}
			if initial != "" || maxInterval != "" || timeout != "" {
				in.Polling = &workflows.PollingPolicy{InitialInterval: initial, MaxInterval: maxInterval, Timeout: timeout}
			}
			input, err := json.Marshal(in)
			if err != nil {
				return err
			}
			if _, err := workflows.DecodeAwaitOperationInput(input); err != nil {
				return usageError{fmt.Errorf("invalid input: %s", errorMessage(err))}
			}
			// Awaiting an operation again after a run ended only polls: allowed.
			req := StartRequest{WorkflowID: cmp.Or(*id, workflows.AwaitWorkflowID(in)), TaskQueue: *taskQueue, Input: input, Wait: *wait,
				Summary: "Await " + name, ReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE}
			return a.withClient(ctx, func(c client.Client) error {
				return startWorkflow(ctx, c, a.stdout, workflows.AwaitOperationWorkflowType, req)
			})
		},
	}
}

func (a *app) lifecycleCommand() *ffcli.Command {
	fs := a.flags("lifecycle")
	file := fs.String("input-file", "", "lifecycle input JSON (required; - reads stdin)")
	id := fs.String("workflow-id", "", "workflow id (default issue-model-lifecycle-<hash of the input without polling>: a repeated start attaches to the running one)")
	taskQueue := taskQueueFlag(fs)
	wait := fs.Bool("wait", false, "wait for the run to end and print its result")
	return a.lifecycleInputCommand("lifecycle", fs, file, "starter lifecycle -input-file F [-wait]",
		"start an IssueModelLifecycleWorkflow from -input-file",
		func(ctx context.Context, c client.Client, input []byte) error {
			req := StartRequest{WorkflowID: cmp.Or(*id, lifecycleWorkflowID(input)), TaskQueue: *taskQueue, Input: input, Wait: *wait}
			return startWorkflow(ctx, c, a.stdout, workflows.IssueModelLifecycleWorkflowType, req)
		})
}

// lifecycleWorkflowID is workflows.LifecycleWorkflowID of the input, which lifecycleInputFile
// validated.
func lifecycleWorkflowID(input []byte) string {
	in, err := workflows.DecodeLifecycleInput(input)
	if err != nil {
		panic(fmt.Sprintf("lifecycleWorkflowID: the input was validated: %v", err))
	}
	return workflows.LifecycleWorkflowID(in)
}

// lifecycleInputCommand is the command name (flags fs) that reads the lifecycle input from
// -input-file (*file) and runs run with it and a Temporal client.
func (a *app) lifecycleInputCommand(name string, fs *flag.FlagSet, file *string, shortUsage, shortHelp string,
	run func(ctx context.Context, c client.Client, input []byte) error) *ffcli.Command {
	return &ffcli.Command{
		Name:       name[strings.LastIndexByte(name, ' ')+1:], // the last word of "schedule create"
		ShortUsage: shortUsage,
		ShortHelp:  shortHelp,
		FlagSet:    fs,
		Exec: func(ctx context.Context, args []string) error {
			input, err := lifecycleInputFile(name, *file, args)
			if err != nil {
				return err
			}
			return a.withClient(ctx, func(c client.Client) error { return run(ctx, c, input) })
		},
	}
}

// lifecycleInputFile reads and validates a lifecycle input exactly as the workflow will.
func lifecycleInputFile(cmd, file string, args []string) ([]byte, error) {
	if err := noArgs(cmd, args); err != nil {
		return nil, err
	}
	if file == "" {
		return nil, usage("%s: -input-file is required", cmd)
	}
	input, err := readInputFile(file)
	if err != nil {
		return nil, usage("%s: reading -input-file: %v", cmd, err)
	}
	if _, err := workflows.DecodeLifecycleInput(input); err != nil {
		return nil, usageError{fmt.Errorf("invalid input: %s", errorMessage(err))}
	}
	return input, nil
}

// scheduleCommand: `starter schedule create` makes a Temporal Schedule that runs the lifecycle
// on a cron spec (weekly by default).
func (a *app) scheduleCommand() *ffcli.Command {
	fs := a.flags("schedule create")
	scheduleID := fs.String("schedule-id", "weekly-issue-model-retraining", "schedule id")
	cron := fs.String("cron", "0 3 * * 1", "cron spec in UTC (default: Mondays 03:00)")
	file := fs.String("input-file", "", "lifecycle input JSON (required)")
	taskQueue := taskQueueFlag(fs)
	create := a.lifecycleInputCommand("schedule create", fs, file,
		"starter schedule create -input-file F [-schedule-id ID] [-cron SPEC]",
		"a Temporal Schedule running the lifecycle (weekly by default)",
		func(ctx context.Context, c client.Client, input []byte) error {
			return CreateSchedule(ctx, c, a.stdout, *scheduleID, *cron, *taskQueue, input)
		})
	return a.groupOf("schedule", create)
}

// groupOf is the command name whose only subcommand is sub.
func (a *app) groupOf(name string, sub *ffcli.Command) *ffcli.Command {
	return &ffcli.Command{
		Name:        name,
		ShortUsage:  "starter " + name + " " + sub.Name + " [flags]",
		ShortHelp:   sub.ShortHelp,
		FlagSet:     a.flags(name),
		Subcommands: []*ffcli.Command{sub},
		Exec: func(context.Context, []string) error {
			return usage("%s: the only subcommand is %s", name, sub.Name)
		},
	}
}

// CreateSchedule creates the retraining schedule. Runs get the workflow id
// <scheduleID>-<time>; an overlapping run is skipped (the default), so a slow training is never
// doubled.
func CreateSchedule(ctx context.Context, c client.Client, w io.Writer, scheduleID, cron, taskQueue string, input []byte) error {
	sctx, cancel := context.WithTimeout(ctx, rpcTimeout)
	defer cancel()
	_, err := c.ScheduleClient().Create(sctx, client.ScheduleOptions{
		ID:   scheduleID,
		Spec: client.ScheduleSpec{CronExpressions: []string{cron}},
		Action: &client.ScheduleWorkflowAction{
			ID:        scheduleID,
			Workflow:  workflows.IssueModelLifecycleWorkflowType,
			Args:      []any{json.RawMessage(input)},
			TaskQueue: taskQueue,
		},
	})
	if err != nil {
		return fmt.Errorf("creating schedule %s: %w", scheduleID, err)
	}
	return printJSON(w, map[string]string{"scheduleId": scheduleID, "cron": cron,
		"workflowType": workflows.IssueModelLifecycleWorkflowType, "taskQueue": taskQueue})
}

// operationsCommand: `starter operations list -parent P` lists operations with the Google
// client of the parent's location's endpoint (INSIGHTS_ENDPOINT_PATTERN, INSIGHTS_EMULATOR_HOST
// or Application Default Credentials); it needs no Temporal.
func (a *app) operationsCommand() *ffcli.Command {
	fs := a.flags("operations list")
	parent := fs.String("parent", "", "projects/{project}/locations/{location} (required)")
	filter := fs.String("filter", "", `list filter, e.g. done=false`)
	pageSize := fs.Int("page-size", 50, "operations per page (1..1000)")
	pageToken := fs.String("page-token", "", "page token from a previous page's nextPageToken")
	list := &ffcli.Command{
		Name:       "list",
		ShortUsage: "starter operations list -parent P [-filter done=false] [-page-size N] [-page-token T]",
		ShortHelp:  "one page of a location's operations, from the API directly, on the location's endpoint (INSIGHTS_ENDPOINT_PATTERN, INSIGHTS_EMULATOR_HOST or Application Default Credentials)",
		FlagSet:    fs,
		Exec: flagsOnly("operations list", func(ctx context.Context) error {
			if err := insights.ValidateParent("parent", *parent); err != nil {
				return usage("%s", errorMessage(err))
			}
			if *pageSize < 1 || *pageSize > 1000 {
				return usage("-page-size must be within 1..1000")
			}
			return listOperations(ctx, a.stdout, &longrunningpb.ListOperationsRequest{Name: *parent, Filter: *filter}, *pageSize, *pageToken)
		}),
	}
	return a.groupOf("operations", list)
}

// listOperations prints one page of operations as {operations, nextPageToken}.
func listOperations(ctx context.Context, w io.Writer, req *longrunningpb.ListOperationsRequest, pageSize int, pageToken string) error {
	// The client of the location's endpoint (INSIGHTS_ENDPOINT_PATTERN and INSIGHTS_EMULATOR_HOST
	// apply, as in the worker).
	r, err := insightsclient.NewRegional(ctx, insightsclient.RegionalOptionsFromEnv(tracing.GoogleClientOptions()...))
	if err != nil {
		return fmt.Errorf("google client: %w", err)
	}
	defer r.Close()
	c, err := r.For("parent", insights.LocationOf(req.GetName()))
	if err != nil {
		return usage("%s", errorMessage(err))
	}
	var ops []*longrunningpb.Operation
	next, err := iterator.NewPager(c.ListOperations(ctx, req), pageSize, pageToken).NextPage(&ops)
	if err != nil {
		return fmt.Errorf("ListOperations: %w", err)
	}
	out := struct {
		Operations    []insights.Operation `json:"operations"`
		NextPageToken string               `json:"nextPageToken,omitempty"`
	}{Operations: []insights.Operation{}, NextPageToken: next}
	for _, op := range ops {
		o, _ := insights.OperationFromProto(op)
		out.Operations = append(out.Operations, o)
	}
	return printJSON(w, out)
}
