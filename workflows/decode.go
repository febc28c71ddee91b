package workflows

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/issuemodels/durable-lro/insights"
)

// The inputs decode strictly (unknown fields, wrong types and trailing data are errors) but their
// UnmarshalJSON never fails: a failure there would fail the workflow task and retry it forever,
// so the problem is kept and Validate turns it into a typed InvalidArgument that ends the run.

// decodeKeepingError decodes b strictly into *dst (an input's plain type, without its
// UnmarshalJSON) and keeps the decoding error in *decodeErr.
func decodeKeepingError[T any](b []byte, dst *T, decodeErr *error) error {
	var v T
	err := strictDecode(b, &v)
	*dst = v
	*decodeErr = err
	return nil
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
