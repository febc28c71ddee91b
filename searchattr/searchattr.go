// Package searchattr registers the custom search attributes the workflows keep up to date
// (workflows.OperationSearchAttribute, workflows.PhaseSearchAttribute) in a Temporal namespace:
// the worker does it at startup, the local stack and the tests start dev servers with them.
package searchattr

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

	"github.com/issuemodels/durable-lro/workflows"
)

// Types lists the custom search attributes the workflows need, with their types.
func Types() map[string]enumspb.IndexedValueType {
	return map[string]enumspb.IndexedValueType{
		workflows.OperationSearchAttribute: enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		workflows.PhaseSearchAttribute:     enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	}
}

// DevServerArgs are the `temporal server start-dev` flags that register Types.
func DevServerArgs() []string {
	var args []string
	for _, name := range slices.Sorted(maps.Keys(Types())) {
		args = append(args, "--search-attribute", name+"=Keyword")
	}
	return args
}

// Missing returns the Types the namespace lacks; one registered with another type is an error.
func Missing(ctx context.Context, c client.Client, namespace string) ([]string, error) {
	namespace = orDefault(namespace)
	list, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return nil, fmt.Errorf("listing the search attributes of namespace %q: %w", namespace, err)
	}
	var missing []string
	for name, typ := range Types() {
		have, ok := list.GetCustomAttributes()[name]
		switch {
		case !ok:
			missing = append(missing, name)
		case have != typ:
			return nil, fmt.Errorf("search attribute %s exists in namespace %q with type %s; the workflows need %s",
				name, namespace, have, typ)
		}
	}
	slices.Sort(missing)
	return missing, nil
}

// RegisterCommand is the Temporal CLI command that registers names.
func RegisterCommand(namespace string, names []string) string {
	var cmd strings.Builder
	fmt.Fprintf(&cmd, "temporal operator search-attribute create --namespace %s", orDefault(namespace))
	for _, n := range names {
		fmt.Fprintf(&cmd, " --name %s --type Keyword", n)
	}
	return cmd.String()
}

// Ensure registers the missing Types in the namespace and returns the names it added. A worker
// must not run the workflows in a namespace without them: the server refuses the workflow tasks
// that set them. Registering needs operator rights; where a worker lacks them (Temporal Cloud,
// locked-down clusters) the error says what to run instead.
func Ensure(ctx context.Context, c client.Client, namespace string) ([]string, error) {
	namespace = orDefault(namespace)
	missing, err := Missing(ctx, c, namespace)
	if err != nil || len(missing) == 0 {
		return nil, err
	}
	add := map[string]enumspb.IndexedValueType{}
	for _, n := range missing {
		add[n] = Types()[n]
	}
	if _, err := c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: namespace, SearchAttributes: add,
	}); err != nil {
		return nil, fmt.Errorf("registering search attributes %v in namespace %q: %w (register them once with: %s; on Temporal Cloud, in the namespace's settings)",
			missing, namespace, err, RegisterCommand(namespace, missing))
	}
	// The frontend caches the namespace's attributes; wait until it lists them.
	for {
		still, err := Missing(ctx, c, namespace)
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
