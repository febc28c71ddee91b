// Package nexusservice is the issue-models Nexus service: the operations callers in any
// namespace and any SDK language call from their workflows, through a Nexus endpoint that
// targets the worker's namespace and task queue (docs/CALLING.md).
//
// Each operation starts one of our workflows asynchronously (a workflow run operation). Its
// input and result are the workflow's own JSON (the README's shapes), passed through untouched:
// the workflow decodes the input exactly as from `temporal workflow start`, so the JSON is the
// contract, not Go structs. The backing workflow id is derived from the request with the same
// functions the starter uses (workflows.CreateWorkflowID, ...), and a start that finds that id
// running attaches to the run: a caller that retries its start, or a second caller asking for the
// same model, gets the one training instead of a second. Cancelling the caller's operation
// cancels the backing run, which runs its cancel path (CancelOperation retried until the server
// takes it, then polling to a known outcome) and ends with that outcome, which the caller sees.
package nexusservice

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nexus-rpc/sdk-go/nexus"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporalnexus"

	"github.com/issuemodels/durable-lro/workflows"
)

// Public names: what callers type in their Nexus clients.
const (
	// ServiceName is the Nexus service.
	ServiceName = "issue-models"
	// CreateIssueModelOperation runs CreateIssueModelWorkflow: input and result as the workflow's.
	CreateIssueModelOperation = "create-issue-model"
	// AwaitOperationOperation runs AwaitOperationWorkflow.
	AwaitOperationOperation = "await-operation"
	// LifecycleOperation runs IssueModelLifecycleWorkflow.
	LifecycleOperation = "issue-model-lifecycle"
)

// New returns the service with its three operations. The backing runs go to the task queue of
// the worker that serves the endpoint.
func New() *nexus.Service {
	s := nexus.NewService(ServiceName)
	s.MustRegister(
		operation(CreateIssueModelOperation, workflows.CreateIssueModelWorkflowType, trainsOnce, func(b []byte) (string, error) {
			in, err := workflows.DecodeCreateIssueModelInput(b)
			return workflows.CreateWorkflowID(in), err
		}),
		// Awaiting an operation again after a run ended only polls: allowed (as the starter's attach).
		operation(AwaitOperationOperation, workflows.AwaitOperationWorkflowType, enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE, func(b []byte) (string, error) {
			in, err := workflows.DecodeAwaitOperationInput(b)
			return workflows.AwaitWorkflowID(in), err
		}),
		operation(LifecycleOperation, workflows.IssueModelLifecycleWorkflowType, trainsOnce, func(b []byte) (string, error) {
			in, err := workflows.DecodeLifecycleInput(b)
			return workflows.LifecycleWorkflowID(in), err
		}),
	)
	return s
}

// trainsOnce is the starter's rule for what trains: a closed run of the same request is replaced
// only if it did not complete; a completed one already made its model, and training again is
// asked for with another request (another displayName, say).
const trainsOnce = enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY

// operation is a workflow run operation that starts workflowType with the caller's JSON and the
// workflow id id derives from it.
func operation(name, workflowType string, reuse enumspb.WorkflowIdReusePolicy, id func([]byte) (string, error)) nexus.Operation[json.RawMessage, json.RawMessage] {
	return temporalnexus.MustNewWorkflowRunOperationWithOptions(temporalnexus.WorkflowRunOperationOptions[json.RawMessage, json.RawMessage]{
		Name: name,
		Handler: func(ctx context.Context, input json.RawMessage, opts nexus.StartOperationOptions) (temporalnexus.WorkflowHandle[json.RawMessage], error) {
			workflowID, err := id(input)
			if err != nil {
				// The same InvalidArgument the workflow would end with, before anything starts:
				// a failed operation, which the caller does not retry.
				return nil, &nexus.OperationError{State: nexus.OperationStateFailed, Message: err.Error(), Cause: err}
			}
			h, err := temporalnexus.ExecuteUntypedWorkflow[json.RawMessage](ctx, opts, client.StartWorkflowOptions{
				ID: workflowID,
				// A retried start, or another caller's start of the same request, attaches to the
				// running training (its callback is added to the run) instead of failing or
				// training a second model.
				WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
				WorkflowIDReusePolicy:    reuse,
			}, workflowType, input)
			var already *serviceerror.WorkflowExecutionAlreadyStarted
			if errors.As(err, &already) {
				msg := fmt.Sprintf("%s %s already ran to completion (run %s) and made its model: its result is that run's; "+
					"to train again, change the request (e.g. issueModel.displayName)", workflowType, workflowID, already.RunId)
				return nil, &nexus.OperationError{State: nexus.OperationStateFailed, Message: msg, Cause: errors.New(msg)}
			}
			return h, err
		},
	})
}
