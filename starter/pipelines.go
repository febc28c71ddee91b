package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"time"

	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"go.temporal.io/sdk/client"
	"google.golang.org/api/iterator"

	"github.com/issuemodels/durable-lro/insights"
	"github.com/issuemodels/durable-lro/insightsclient"
	"github.com/issuemodels/durable-lro/workflows"
)

// prepareAttach: `starter attach NAME` starts AwaitOperationWorkflow on an operation created
// elsewhere.
func prepareAttach(args []string, stderr io.Writer) (func(context.Context, client.Client, io.Writer) error, error) {
	fs := flag.NewFlagSet("attach", flag.ContinueOnError)
	fs.SetOutput(stderr)
	id := fs.String("workflow-id", "", "workflow id (default await-<operation id>)")
	taskQueue := fs.String("task-queue", taskQueueDefault(), "task queue (env TEMPORAL_TASK_QUEUE)")
	initial := fs.String("initial-interval", "", "polling.initialInterval (default 30s)")
	maxInterval := fs.String("max-interval", "", "polling.maxInterval (default 5m)")
	timeout := fs.String("timeout", "", "polling.timeout (default 24h)")
	wait := fs.Bool("wait", false, "wait for the operation and print it")
	name, rest := firstArg(args)
	if err := fs.Parse(rest); err != nil {
		return nil, err
	}
	if name == "" && fs.NArg() == 1 {
		name = fs.Arg(0)
	} else if fs.NArg() > 0 {
		return nil, usage("attach: unexpected arguments %q", fs.Args())
	}
	in := workflows.AwaitOperationInput{Operation: name}
	if *initial != "" || *maxInterval != "" || *timeout != "" {
		in.Polling = &workflows.PollingPolicy{InitialInterval: *initial, MaxInterval: *maxInterval, Timeout: *timeout}
	}
	input, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	if _, err := workflows.DecodeAwaitOperationInput(input); err != nil {
		return nil, usageError{fmt.Errorf("invalid input: %s", errorMessage(err))}
	}
	if *id == "" {
		*id = "await-" + lastSegment(name)
	}
	return func(ctx context.Context, c client.Client, w io.Writer) error {
		return startWorkflow(ctx, c, w, workflows.AwaitOperationWorkflowType, StartRequest{WorkflowID: *id, TaskQueue: *taskQueue, Input: input, Wait: *wait,
			Summary: "Await " + name})
	}, nil
}

// prepareLifecycle: `starter lifecycle -input-file F` starts IssueModelLifecycleWorkflow.
func prepareLifecycle(args []string, stderr io.Writer) (func(context.Context, client.Client, io.Writer) error, error) {
	fs := flag.NewFlagSet("lifecycle", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("input-file", "", "lifecycle input JSON (required; - reads stdin)")
	id := fs.String("workflow-id", "", "workflow id (default issue-model-lifecycle-<unix seconds>)")
	taskQueue := fs.String("task-queue", taskQueueDefault(), "task queue (env TEMPORAL_TASK_QUEUE)")
	wait := fs.Bool("wait", false, "wait for the run to end and print its result")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	input, err := lifecycleInputFile(*file, fs)
	if err != nil {
		return nil, err
	}
	if *id == "" {
		*id = fmt.Sprintf("issue-model-lifecycle-%d", time.Now().Unix())
	}
	return func(ctx context.Context, c client.Client, w io.Writer) error {
		return startWorkflow(ctx, c, w, workflows.IssueModelLifecycleWorkflowType, StartRequest{WorkflowID: *id, TaskQueue: *taskQueue, Input: input, Wait: *wait})
	}, nil
}

func lifecycleInputFile(file string, fs *flag.FlagSet) ([]byte, error) {
	if fs.NArg() > 0 {
		return nil, usage("%s: unexpected arguments %q", fs.Name(), fs.Args())
	}
	if file == "" {
		return nil, usage("%s: -input-file is required", fs.Name())
	}
	input, err := readInputFile(file)
	if err != nil {
		return nil, usage("%s: reading -input-file: %v", fs.Name(), err)
	}
	if _, err := workflows.DecodeLifecycleInput(input); err != nil {
		return nil, usageError{fmt.Errorf("invalid input: %s", errorMessage(err))}
	}
	return input, nil
}

// prepareSchedule: `starter schedule create` makes a Temporal Schedule that runs the lifecycle
// on a cron spec (weekly by default).
func prepareSchedule(args []string, stderr io.Writer) (func(context.Context, client.Client, io.Writer) error, error) {
	sub, rest := firstArg(args)
	if sub != "create" {
		return nil, usage("schedule: the only subcommand is create")
	}
	fs := flag.NewFlagSet("schedule create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	scheduleID := fs.String("schedule-id", "weekly-issue-model-retraining", "schedule id")
	cron := fs.String("cron", "0 3 * * 1", "cron spec in UTC (default: Mondays 03:00)")
	file := fs.String("input-file", "", "lifecycle input JSON (required)")
	taskQueue := fs.String("task-queue", taskQueueDefault(), "task queue (env TEMPORAL_TASK_QUEUE)")
	if err := fs.Parse(rest); err != nil {
		return nil, err
	}
	input, err := lifecycleInputFile(*file, fs)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, c client.Client, w io.Writer) error {
		return CreateSchedule(ctx, c, w, *scheduleID, *cron, *taskQueue, input)
	}, nil
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

// runOperations: `starter operations list -parent P` lists operations with the Google client
// (INSIGHTS_EMULATOR_HOST or Application Default Credentials); it needs no Temporal.
func runOperations(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	sub, rest := firstArg(args)
	if sub != "list" {
		fmt.Fprintln(stderr, "starter: operations: the only subcommand is list")
		return exitInvalid
	}
	fs := flag.NewFlagSet("operations list", flag.ContinueOnError)
	fs.SetOutput(stderr)
	parent := fs.String("parent", "", "projects/{project}/locations/{location} (required)")
	filter := fs.String("filter", "", `list filter, e.g. done=false`)
	pageSize := fs.Int("page-size", 50, "operations per page (1..1000)")
	pageToken := fs.String("page-token", "", "page token from a previous page's nextPageToken")
	if err := fs.Parse(rest); err != nil {
		return exitInvalid
	}
	if err := insights.ValidateParent("parent", *parent); err != nil {
		fmt.Fprintln(stderr, "starter:", errorMessage(err))
		return exitInvalid
	}
	if *pageSize < 1 || *pageSize > 1000 {
		fmt.Fprintln(stderr, "starter: -page-size must be within 1..1000")
		return exitInvalid
	}
	c, err := insightsclient.New(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "starter: Google client:", err)
		return exitFailed
	}
	defer c.Close()
	it := c.ListOperations(ctx, &longrunningpb.ListOperationsRequest{Name: *parent, Filter: *filter})
	var ops []*longrunningpb.Operation
	next, err := iterator.NewPager(it, *pageSize, *pageToken).NextPage(&ops)
	if err != nil {
		fmt.Fprintln(stderr, "starter: ListOperations:", err)
		return exitFailed
	}
	out := struct {
		Operations    []insights.Operation `json:"operations"`
		NextPageToken string               `json:"nextPageToken,omitempty"`
	}{Operations: []insights.Operation{}, NextPageToken: next}
	for _, op := range ops {
		o, _ := insights.OperationFromProto(op)
		out.Operations = append(out.Operations, o)
	}
	if err := printJSON(stdout, out); err != nil {
		return exitFailed
	}
	return exitOK
}

// firstArg splits off a leading positional argument (a subcommand or an operation name).
func firstArg(args []string) (string, []string) {
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		return args[0], args[1:]
	}
	return "", args
}

func lastSegment(name string) string {
	for i := len(name) - 1; i >= 0; i-- {
		if name[i] == '/' {
			return name[i+1:]
		}
	}
	return name
}
