package workflows

import (
	"fmt"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Custom search attributes the workflows keep up to date, so that runs can be listed and
// filtered in the Web UI and with `temporal workflow list --query`. They must be registered in
// the namespace (package searchattr; the worker does it at startup).
const (
	// OperationSearchAttribute is the operation's name, once known.
	OperationSearchAttribute = "InsightsOperation"
	// PhaseSearchAttribute is the run's phase (creating, polling, cancelling, done) or, for the
	// lifecycle workflow, its step.
	PhaseSearchAttribute = "InsightsPhase"
)

// PollingQuery is the visibility query that counts the runs of taskQueue that are polling an
// operation (and so calling GetOperation): the fleet's demand on a shared poll budget.
func PollingQuery(taskQueue string) string {
	return fmt.Sprintf("TaskQueue = %q AND ExecutionStatus = \"Running\" AND %s IN (%q, %q)",
		taskQueue, PhaseSearchAttribute, PhasePolling, PhaseCancelling)
}

var (
	operationKey = temporal.NewSearchAttributeKeyKeyword(OperationSearchAttribute)
	phaseKey     = temporal.NewSearchAttributeKeyKeyword(PhaseSearchAttribute)
)

// visibility upserts the search attributes when they change; it starts from what the run
// inherited, so continue-as-new does not repeat them.
type visibility struct {
	operation, phase string
}

func newVisibility(ctx workflow.Context) *visibility {
	sa := workflow.GetTypedSearchAttributes(ctx)
	v := &visibility{}
	v.operation, _ = sa.GetKeyword(operationKey)
	v.phase, _ = sa.GetKeyword(phaseKey)
	return v
}

func (v *visibility) set(ctx workflow.Context, operation, phase string) {
	var updates []temporal.SearchAttributeUpdate
	if operation != "" && operation != v.operation {
		updates = append(updates, operationKey.ValueSet(operation))
	}
	if phase != "" && phase != v.phase {
		updates = append(updates, phaseKey.ValueSet(phase))
	}
	if len(updates) == 0 {
		return
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, updates...); err != nil {
		workflow.GetLogger(ctx).Warn("Could not update search attributes", "Error", err)
		return
	}
	if operation != "" {
		v.operation = operation
	}
	if phase != "" {
		v.phase = phase
	}
}
