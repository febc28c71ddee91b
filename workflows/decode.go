package workflows

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"go.temporal.io/sdk/workflow"

	"github.com/issuemodels/durable-lro/insights"
)

// Tolerant where the workflow wrote it, strict where a person typed it. A person's input decodes
// strictly (unknown fields, wrong types and trailing data are errors). What a workflow wrote for
// itself (the continuation of continue-as-new) or for a child may come from a newer release of
// a rolling deploy and carry fields this one does not know: those are ignored, because refusing
// them would end the run through the bad-input path and leave its training running. Either way
// UnmarshalJSON never fails: a failure there would fail the workflow task and retry it forever,
// so the problem is kept and validation turns it into a typed InvalidArgument that ends the run.

// decoding is how an input's JSON decoded, strictly and leniently.
type decoding struct{ strict, lenient error }

// err is the decoding error that counts for an input a workflow wrote (writtenByWorkflow) or a
// person typed.
func (d decoding) err(writtenByWorkflow bool) error {
	if writtenByWorkflow {
		return d.lenient
	}
	return d.strict
}

// decodeKeepingError decodes b into *dst (an input's plain type, without its UnmarshalJSON):
// strictly, else leniently (unknown fields ignored), keeping both errors in *d.
func decodeKeepingError[T any](b []byte, dst *T, d *decoding) error {
	var v T
	var got decoding
	got.strict = strictDecode(b, &v)
	if got.strict != nil {
		v = *new(T)
		if err := json.Unmarshal(b, &v); err != nil {
			got.lenient = decodeError(err)
		}
	}
	*dst = v // d may be a field of *dst: set it after
	*d = got
	return nil
}

// writtenByWorkflow: the run's input was written by a workflow (its own continue-as-new, or a
// parent), not typed by a person.
func writtenByWorkflow(ctx workflow.Context) bool {
	info := workflow.GetInfo(ctx)
	return info.ContinuedExecutionRunID != "" || info.ParentWorkflowExecution != nil
}

// checkDecoding is the decoding error that counts for this run; a field a newer release wrote
// and this one ignores is logged.
func checkDecoding(ctx workflow.Context, d decoding) error {
	lenient := writtenByWorkflow(ctx)
	if lenient && d.strict != nil && d.lenient == nil {
		workflow.GetLogger(ctx).Warn("Ignoring what this release does not know in an input a workflow wrote", "Error", d.strict)
	}
	return d.err(lenient)
}

// errPersonsContinuation refuses a continuation in a person's input: it is state only the
// workflow writes, and taking it from a person would let anyone attach a run to any operation.
var errPersonsContinuation = insights.InvalidArgument("continuation",
	"is written by the workflow itself when it continues as new and cannot be given; to await an operation that exists, start AwaitOperationWorkflow")

// refusePersonsContinuation is errPersonsContinuation for a run that was not continued as new
// but was given a continuation (workflowWrittenStateChange).
func refusePersonsContinuation(ctx workflow.Context, hasContinuation bool) error {
	if !hasContinuation || workflow.GetInfo(ctx).ContinuedExecutionRunID != "" {
		return nil
	}
	if workflow.GetVersion(ctx, workflowWrittenStateChange, workflow.DefaultVersion, workflowWrittenStateVersion) == workflow.DefaultVersion {
		return nil
	}
	return errPersonsContinuation
}

// decodeInput decodes and validates JSON exactly as a workflow does; the starter uses it to
// refuse bad input before starting anything.
func decodeInput[T any, P interface {
	*T
	json.Unmarshaler
}](b []byte, validate func(P) error) (T, error) {
	var in T
	if len(bytes.TrimSpace(b)) == 0 {
		return in, insights.InvalidArgument("input", "is empty")
	}
	_ = P(&in).UnmarshalJSON(b)
	return in, validate(&in)
}

// DecodeCreateIssueModelInput decodes and validates a CreateIssueModelWorkflow input.
func DecodeCreateIssueModelInput(b []byte) (CreateIssueModelInput, error) {
	return decodeInput(b, func(in *CreateIssueModelInput) error { _, err := in.Validate(); return err })
}

// DecodeAwaitOperationInput decodes and validates an AwaitOperationWorkflow input.
func DecodeAwaitOperationInput(b []byte) (AwaitOperationInput, error) {
	return decodeInput(b, func(in *AwaitOperationInput) error { _, err := in.Validate(); return err })
}

// DecodeLifecycleInput decodes and validates an IssueModelLifecycleWorkflow input.
func DecodeLifecycleInput(b []byte) (LifecycleInput, error) {
	return decodeInput(b, (*LifecycleInput).Validate)
}

// strictDecode decodes one JSON object into v, rejecting unknown fields, wrong types and
// trailing data with an InvalidArgument that names the field.
func strictDecode(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if dec.More() {
		return insights.InvalidArgument("input", "has data after the JSON object")
	}
	return nil
}

func decodeError(err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			return insights.InvalidArgument("input", fmt.Sprintf("must be a JSON object, not a JSON %s", typeErr.Value))
		}
		return insights.InvalidArgument(field, fmt.Sprintf("must be a %s, not a JSON %s", jsonKind(typeErr.Type.Kind().String()), typeErr.Value))
	case errors.As(err, &syntaxErr):
		return insights.InvalidArgument("input", fmt.Sprintf("is not valid JSON (offset %d): %v", syntaxErr.Offset, err))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name, uerr := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		if uerr != nil {
			name = strings.TrimPrefix(err.Error(), "json: unknown field ")
		}
		return insights.InvalidArgument(name, "is not a known field")
	default:
		return insights.InvalidArgument("input", fmt.Sprintf("cannot be decoded: %v", err))
	}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "struct", "map", "ptr":
		return "JSON object"
	case "slice", "array":
		return "JSON array"
	default:
		return "number"
	}
}
