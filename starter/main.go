// Command starter starts CreateIssueModelWorkflow runs and talks to running ones: status query,
// cancel and poll-now signals, and waiting for the result.
//
//	starter start  [-input-file F | -parent P -display-name N ...] [-workflow-id ID] [-wait]
//	starter status   -workflow-id ID
//	starter cancel   -workflow-id ID [-reason R]
//	starter poll-now -workflow-id ID
//	starter wait     -workflow-id ID
//	starter attach   OPERATION_NAME [-wait]
//	starter lifecycle -input-file F [-wait]
//	starter schedule create -input-file F [-schedule-id ID] [-cron SPEC]
//	starter operations list -parent P [-filter F] [-page-size N] [-page-token T]
//	starter doctor -parent P [-task-queue Q] [-nexus-endpoint E] [-json]
//
// The Temporal connection comes from go.temporal.io/sdk/contrib/envconfig (TEMPORAL_ADDRESS,
// TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*, TEMPORAL_PROFILE, TEMPORAL_CONFIG_FILE).
package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	"go.temporal.io/sdk/temporal"

	"github.com/issuemodels/durable-lro/codec"
	"github.com/issuemodels/durable-lro/internal/telemetry"
	"github.com/issuemodels/durable-lro/workflows"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailed  = 1 // the command failed, or the awaited run did not complete successfully
	exitInvalid = 2 // bad usage or invalid workflow input; nothing was started
)

// rpcTimeout bounds the one-shot calls (start, query, signal).
const rpcTimeout = 30 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := exitInvalid
	var err error
	if tracing, err = telemetry.FromEnv(ctx, os.Getenv, "issue-models-starter"); err != nil {
		fmt.Fprintln(os.Stderr, "starter: tracing:", err)
	} else {
		tracing.Install()
		code = run(ctx, os.Args[1:], os.Stdout, os.Stderr, dial)
		// The StartWorkflow span must leave before the process does; bounded, so an unreachable
		// collector cannot hold the exit.
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := tracing.Shutdown(sctx); err != nil {
			fmt.Fprintln(os.Stderr, "starter: tracing: flushing spans:", err)
		}
		cancel()
	}
	stop()
	os.Exit(code)
}

// tracing is the OpenTelemetry tracing the OTEL_* variables ask for (nil: off): start's span is
// the root of the run's trace.
var tracing *telemetry.Tracing

// dial connects to Temporal with the envconfig settings.
func dial(ctx context.Context) (client.Client, error) {
	opts, err := envconfig.LoadClientOptions(envconfig.LoadClientOptionsRequest{})
	if err != nil {
		return nil, fmt.Errorf("loading Temporal client configuration: %w", err)
	}
	if err := configureClient(&opts); err != nil {
		return nil, err
	}
	if opts.Interceptors, err = tracing.Interceptors(); err != nil {
		return nil, err
	}
	return client.DialContext(ctx, opts)
}

// configureClient sets the converters the worker uses too: payloads, and failure messages and
// stack traces (which name projects and models), encrypted when a key is set.
func configureClient(opts *client.Options) error {
	if _, err := codec.ConfigureClientFromEnv(opts); err != nil {
		return fmt.Errorf("payload encryption: %w", err)
	}
	return nil
}

// usageError is a bad command line: exit 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usage(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// exitError carries an exit code for an error already reported on stdout.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// StartRequest is a validated start.
type StartRequest struct {
	WorkflowID string
	TaskQueue  string
	Input      []byte // JSON, validated
	Wait       bool
	// Summary and Details (Markdown) are shown for the run in the Web UI and by
	// `temporal workflow describe` (e.g. "Create issue model weekly in projects/...").
	Summary, Details string
	// ReusePolicy says whether a run may start under the id of a closed one; unspecified is
	// ALLOW_DUPLICATE_FAILED_ONLY (see startWorkflow).
	ReusePolicy enumspb.WorkflowIdReusePolicy
}

// Start starts CreateIssueModelWorkflow with the input as given (json.RawMessage: what the user
// wrote is what the history shows) and prints the ids; with Wait it then prints the outcome.
func Start(ctx context.Context, c client.Client, w io.Writer, req StartRequest) error {
	return startWorkflow(ctx, c, w, workflows.CreateIssueModelWorkflowType, req)
}

// startWorkflow starts a workflow of the given type with req's input and prints the ids and
// whether it "started" a run or "attached" to a running one; with Wait it then prints the outcome.
//
// A running run with the same id is attached to, never duplicated (the default ids are derived
// from the request, so this is what a retried start finds). A closed one is, by default
// (ALLOW_DUPLICATE_FAILED_ONLY), replaced only if it did not complete: a completed run of the
// same request already made its model, and training again must be asked for with a new
// -workflow-id; a failed, cancelled, terminated or timed-out one can be retried.
func startWorkflow(ctx context.Context, c client.Client, w io.Writer, workflowType string, req StartRequest) error {
	sctx, cancel := context.WithTimeout(ctx, rpcTimeout)
	defer cancel()
	opts := client.StartWorkflowOptions{
		ID:            req.WorkflowID,
		TaskQueue:     req.TaskQueue,
		StaticSummary: req.Summary,
		StaticDetails: req.Details,
		// First FAIL on a running run, to learn whether this start is the one that began it.
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowIDReusePolicy:                    cmp.Or(req.ReusePolicy, enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY),
		WorkflowExecutionErrorWhenAlreadyStarted: true,
	}
	action := "started"
	run, err := c.ExecuteWorkflow(sctx, opts, workflowType, json.RawMessage(req.Input))
	var already *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &already) {
		// Running, or closed and not to be replaced. USE_EXISTING lets the server decide
		// atomically: the running run is returned; a closed one is refused again by the reuse
		// policy (or, if the run it found running has since failed, a new run starts).
		opts.WorkflowIDConflictPolicy = enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING
		run, err = c.ExecuteWorkflow(sctx, opts, workflowType, json.RawMessage(req.Input))
		if err == nil && run.GetRunID() == already.RunId {
			action = "attached"
		}
		if errors.As(err, &already) {
			return fmt.Errorf("%s %s already ran to completion (run %s) and made its model: "+
				"`starter wait -workflow-id %s` prints its result; to run it again on purpose, pass a new -workflow-id",
				workflowType, req.WorkflowID, already.RunId, req.WorkflowID)
		}
	}
	if err != nil {
		return fmt.Errorf("starting %s %s: %w", workflowType, req.WorkflowID, err)
	}
	if err := printJSON(w, map[string]string{
		"workflowId": run.GetID(), "runId": run.GetRunID(),
		"workflowType": workflowType, "taskQueue": req.TaskQueue, "action": action,
	}); err != nil {
		return err
	}
	if !req.Wait {
		return nil
	}
	return waitRun(ctx, w, run)
}

func Status(ctx context.Context, c client.Client, w io.Writer, id string) error {
	qctx, cancel := context.WithTimeout(ctx, rpcTimeout)
	defer cancel()
	v, err := c.QueryWorkflow(qctx, id, "", workflows.StatusQuery)
	if err != nil {
		return fmt.Errorf("querying %s of %s: %w", workflows.StatusQuery, id, err)
	}
	var raw json.RawMessage
	if err := v.Get(&raw); err != nil {
		return fmt.Errorf("decoding the %s answer: %w", workflows.StatusQuery, err)
	}
	return printRaw(w, raw)
}

func Cancel(ctx context.Context, c client.Client, w io.Writer, id, reason string) error {
	sctx, done := context.WithTimeout(ctx, rpcTimeout)
	defer done()
	if err := c.SignalWorkflow(sctx, id, "", workflows.CancelSignal, workflows.CancelRequest{Reason: reason}); err != nil {
		return fmt.Errorf("signalling %s to %s: %w", workflows.CancelSignal, id, err)
	}
	out := map[string]string{"workflowId": id, "signal": workflows.CancelSignal}
	if reason != "" {
		out["reason"] = reason
	}
	return printJSON(w, out)
}

func PollNow(ctx context.Context, c client.Client, w io.Writer, id string) error {
	sctx, done := context.WithTimeout(ctx, rpcTimeout)
	defer done()
	if err := c.SignalWorkflow(sctx, id, "", workflows.PollNowSignal, nil); err != nil {
		return fmt.Errorf("signalling %s to %s: %w", workflows.PollNowSignal, id, err)
	}
	return printJSON(w, map[string]string{"workflowId": id, "signal": workflows.PollNowSignal})
}

func Wait(ctx context.Context, c client.Client, w io.Writer, id string) error {
	return waitRun(ctx, w, c.GetWorkflow(ctx, id, ""))
}

// Outcome is what wait prints.
type Outcome struct {
	WorkflowID string          `json:"workflowId"`
	RunID      string          `json:"runId,omitempty"`
	Status     string          `json:"status"` // COMPLETED | FAILED | CANCELED | TERMINATED | TIMED_OUT
	Result     json.RawMessage `json:"result,omitempty"`
	Error      *ErrorInfo      `json:"error,omitempty"`
}

// ErrorInfo describes why a run did not complete.
type ErrorInfo struct {
	Type    string          `json:"type,omitempty"` // ApplicationError type, e.g. InvalidArgument, OperationFailed
	Message string          `json:"message"`
	Details json.RawMessage `json:"details,omitempty"`
}

// waitRun waits for the run (following continue-as-new) and prints its Outcome. A run that did
// not complete prints its Outcome too and returns exitError{1}.
func waitRun(ctx context.Context, w io.Writer, run client.WorkflowRun) error {
	var result json.RawMessage
	err := run.Get(ctx, &result)
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("stopped waiting for %s: %w", run.GetID(), ctx.Err())
	}
	out := outcome(run.GetID(), run.GetRunID(), result, err)
	if out == nil {
		return fmt.Errorf("waiting for %s: %w", run.GetID(), err)
	}
	if perr := printJSON(w, out); perr != nil {
		return perr
	}
	if out.Status != "COMPLETED" {
		return exitError{exitFailed}
	}
	return nil
}

// outcome classifies the end of a run; nil means err is not about the run (e.g. not found).
func outcome(id, runID string, result json.RawMessage, err error) *Outcome {
	out := &Outcome{WorkflowID: id, RunID: runID}
	if err == nil {
		out.Status, out.Result = "COMPLETED", result
		return out
	}
	var wee *temporal.WorkflowExecutionError
	if !errors.As(err, &wee) {
		return nil
	}
	cause := errors.Unwrap(wee)
	if cause == nil {
		cause = wee
	}
	out.Status, out.Error = "FAILED", &ErrorInfo{Message: cause.Error()}
	var (
		appErr       *temporal.ApplicationError
		canceledErr  *temporal.CanceledError
		terminateErr *temporal.TerminatedError
		timeoutErr   *temporal.TimeoutError
	)
	switch {
	case errors.As(cause, &canceledErr):
		out.Status = "CANCELED"
		out.Error = &ErrorInfo{Message: "the run was cancelled"}
		if canceledErr.HasDetails() {
			var d json.RawMessage
			if canceledErr.Details(&d) == nil {
				out.Error.Details = d
			}
		}
	case errors.As(cause, &terminateErr):
		out.Status = "TERMINATED"
	case errors.As(cause, &timeoutErr):
		out.Status = "TIMED_OUT"
	case errors.As(cause, &appErr):
		out.Error.Type, out.Error.Message = appErr.Type(), appErr.Message()
		if appErr.HasDetails() {
			var d json.RawMessage
			if appErr.Details(&d) == nil {
				out.Error.Details = d
			}
		}
	}
	return out
}

// errorMessage is the message of an ApplicationError without the SDK's decorations.
func errorMessage(err error) string {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Message()
	}
	return err.Error()
}

func printJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

func printRaw(w io.Writer, raw json.RawMessage) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return err
	}
	buf.WriteByte('\n')
	_, err := w.Write(buf.Bytes())
	return err
}
