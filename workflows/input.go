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

// CreateIssueModelInput is the input of CreateIssueModelWorkflow: the REST body of
// CreateIssueModel (parent and issueModel) plus how to await the operation.
type CreateIssueModelInput struct {
	Parent     string                  `json:"parent"`
	IssueModel insights.IssueModelSpec `json:"issueModel"`
	Polling    *PollingPolicy          `json:"polling,omitempty"`
	// DeleteModelIfCancelFails deletes the model when a cancel was requested but the server
	// could not or did not stop the training (UNIMPLEMENTED, or it finished anyway).
	DeleteModelIfCancelFails bool `json:"deleteModelIfCancelFails,omitempty"`
	// Continuation is set by the workflow itself when it continues as new.
	Continuation *PollState `json:"continuation,omitempty"`

	decodeErr error // why the JSON could not be decoded; reported by Validate
}

// UnmarshalJSON decodes strictly (unknown fields, wrong types and trailing data are errors) but
// never fails: a failure here would fail the workflow task and retry it forever, so the problem
// is kept and Validate turns it into a typed InvalidArgument that ends the run.
func (in *CreateIssueModelInput) UnmarshalJSON(b []byte) error {
	type plain CreateIssueModelInput
	var p plain
	err := strictDecode(b, &p)
	*in = CreateIssueModelInput(p)
	in.decodeErr = err
	return nil
}

// Validate checks the whole input; the error is a non-retryable ApplicationError of type
// InvalidArgument whose message starts with the offending field.
func (in *CreateIssueModelInput) Validate() (pollPolicy, error) {
	if in.decodeErr != nil {
		return pollPolicy{}, in.decodeErr
	}
	if err := insights.ValidateParent("parent", in.Parent); err != nil {
		return pollPolicy{}, err
	}
	if err := in.IssueModel.Validate("issueModel"); err != nil {
		return pollPolicy{}, err
	}
	policy, err := in.Polling.parse("polling")
	if err != nil {
		return policy, err
	}
	if c := in.Continuation; c != nil {
		if err := insights.ValidateOperationName("continuation.operation", c.Operation); err != nil {
			return policy, err
		}
	}
	return policy, nil
}

// DecodeCreateIssueModelInput decodes and validates JSON exactly as the workflow does; the
// starter uses it to refuse bad input before starting anything.
func DecodeCreateIssueModelInput(b []byte) (CreateIssueModelInput, error) {
	var in CreateIssueModelInput
	if len(bytes.TrimSpace(b)) == 0 {
		return in, insights.InvalidArgument("input", "is empty")
	}
	_ = in.UnmarshalJSON(b)
	_, err := in.Validate()
	return in, err
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
	case "struct", "map":
		return "JSON object"
	case "slice", "array":
		return "JSON array"
	case "ptr":
		return "JSON object"
	default:
		return "number"
	}
}

// DecodeAwaitOperationInput decodes and validates an AwaitOperationWorkflow input as the
// workflow does.
func DecodeAwaitOperationInput(b []byte) (AwaitOperationInput, error) {
	var in AwaitOperationInput
	if len(bytes.TrimSpace(b)) == 0 {
		return in, insights.InvalidArgument("input", "is empty")
	}
	_ = in.UnmarshalJSON(b)
	_, err := in.Validate()
	return in, err
}

// DecodeLifecycleInput decodes and validates an IssueModelLifecycleWorkflow input as the
// workflow does.
func DecodeLifecycleInput(b []byte) (LifecycleInput, error) {
	var in LifecycleInput
	if len(bytes.TrimSpace(b)) == 0 {
		return in, insights.InvalidArgument("input", "is empty")
	}
	_ = in.UnmarshalJSON(b)
	return in, in.Validate()
}

// Summary is a one-line description of the run for the Web UI's static summary
// (client.StartWorkflowOptions.StaticSummary).
func (in CreateIssueModelInput) Summary() string {
	return fmt.Sprintf("Create issue model %q in %s", in.IssueModel.DisplayName, in.Parent)
}

// Details is a Markdown description of the request and the polling policy for the Web UI's static
// details (client.StartWorkflowOptions.StaticDetails). The input must be valid.
func (in CreateIssueModelInput) Details() string {
	var b strings.Builder
	cfg := in.IssueModel.InputDataConfig
	fmt.Fprintf(&b, "**CreateIssueModel** in `%s`\n\n", in.Parent)
	fmt.Fprintf(&b, "- display name: `%s`\n", in.IssueModel.DisplayName)
	if cfg.Medium != "" {
		fmt.Fprintf(&b, "- medium: `%s`\n", cfg.Medium)
	}
	if cfg.Filter != "" {
		fmt.Fprintf(&b, "- filter: `%s`\n", cfg.Filter)
	}
	if in.IssueModel.ModelType != "" {
		fmt.Fprintf(&b, "- model type: `%s`\n", in.IssueModel.ModelType)
	}
	if in.IssueModel.LanguageCode != "" {
		fmt.Fprintf(&b, "- language: `%s`\n", in.IssueModel.LanguageCode)
	}
	if p, err := in.Polling.parse("polling"); err == nil {
		fmt.Fprintf(&b, "- polling: first after %s, ×%g up to %s (±%g%%), timeout %s\n",
			p.initial, p.multiplier, p.max, p.jitter*100, p.timeout)
		if p.ageFraction > 0 {
			fmt.Fprintf(&b, "- polling: at least every %g%% of the operation's age\n", p.ageFraction*100)
		}
	}
	if in.DeleteModelIfCancelFails {
		b.WriteString("- deletes the model if a cancel cannot stop the training\n")
	}
	return b.String()
}
