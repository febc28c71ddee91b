package workflows

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Custom search attributes the workflows keep up to date, so that runs can be listed and
// filtered in the Web UI and with `temporal workflow list --query`. They must be registered in
// the namespace (EnsureSearchAttributes; the worker does it at startup).
const (
	// OperationSearchAttribute is the operation's name, once known.
	OperationSearchAttribute = "InsightsOperation"
	// PhaseSearchAttribute is the run's phase (creating, polling, cancelling, done) or, for the
	// lifecycle workflow, its step.
	PhaseSearchAttribute = "InsightsPhase"
)

var (
	operationKey = temporal.NewSearchAttributeKeyKeyword(OperationSearchAttribute)
	phaseKey     = temporal.NewSearchAttributeKeyKeyword(PhaseSearchAttribute)
)

// SearchAttributes lists the custom search attributes the workflows need, with their types.
func SearchAttributes() map[string]enumspb.IndexedValueType {
	return map[string]enumspb.IndexedValueType{
		OperationSearchAttribute: enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		PhaseSearchAttribute:     enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	}
}

// DevServerArgs are the `temporal server start-dev` flags that register SearchAttributes.
func DevServerArgs() []string {
	var args []string
	for _, name := range slices.Sorted(maps.Keys(SearchAttributes())) {
		args = append(args, "--search-attribute", name+"=Keyword")
	}
	return args
}

// MissingSearchAttributes returns the SearchAttributes the namespace lacks; one registered with
// another type is an error.
func MissingSearchAttributes(ctx context.Context, c client.Client, namespace string) ([]string, error) {
	list, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: orDefault(namespace)})
	if err != nil {
		return nil, fmt.Errorf("listing the search attributes of namespace %q: %w", orDefault(namespace), err)
	}
	var missing []string
	for name, typ := range SearchAttributes() {
		have, ok := list.GetCustomAttributes()[name]
		switch {
		case !ok:
			missing = append(missing, name)
		case have != typ:
			return nil, fmt.Errorf("search attribute %s exists in namespace %q with type %s; the workflows need %s",
				name, orDefault(namespace), have, typ)
		}
	}
	slices.Sort(missing)
	return missing, nil
}

// RegisterSearchAttributesCommand is the Temporal CLI command that registers names.
func RegisterSearchAttributesCommand(namespace string, names []string) string {
	var cmd strings.Builder
	fmt.Fprintf(&cmd, "temporal operator search-attribute create --namespace %s", orDefault(namespace))
	for _, n := range names {
		fmt.Fprintf(&cmd, " --name %s --type Keyword", n)
	}
	return cmd.String()
}

// EnsureSearchAttributes registers the missing SearchAttributes in the namespace and returns the
// names it added. A worker must not run the workflows in a namespace without them: the server
// refuses the workflow tasks that set them. Registering needs operator rights; where a worker
// lacks them (Temporal Cloud, locked-down clusters) the error says what to run instead.
func EnsureSearchAttributes(ctx context.Context, c client.Client, namespace string) ([]string, error) {
	namespace = orDefault(namespace)
	missing, err := MissingSearchAttributes(ctx, c, namespace)
	if err != nil || len(missing) == 0 {
		return nil, err
	}
	add := map[string]enumspb.IndexedValueType{}
	for _, n := range missing {
		add[n] = SearchAttributes()[n]
	}
	if _, err := c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: namespace, SearchAttributes: add,
	}); err != nil {
		return nil, fmt.Errorf("registering search attributes %v in namespace %q: %w (register them once with: %s; on Temporal Cloud, in the namespace's settings)",
			missing, namespace, err, RegisterSearchAttributesCommand(namespace, missing))
	}
	// The frontend caches the namespace's attributes; wait until it lists them.
	for {
		still, err := MissingSearchAttributes(ctx, c, namespace)
		if err == nil && len(still) == 0 {
			return missing, nil
		}
		select {
		case <-ctx.Done():
			return missing, fmt.Errorf("search attributes %v were added but are not listed yet: %w", missing, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func orDefault(namespace string) string {
	if namespace == "" {
		return client.DefaultNamespace
	}
	return namespace
}

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
