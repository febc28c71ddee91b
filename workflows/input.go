package workflows

import (
	"fmt"
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

	decoding decoding // why the JSON could not be decoded; reported by validation
}

// UnmarshalJSON decodes strictly but never fails; see decodeKeepingError.
func (in *CreateIssueModelInput) UnmarshalJSON(b []byte) error {
	type plain CreateIssueModelInput
	return decodeKeepingError(b, (*plain)(in), &in.decoding)
}

// Validate checks the whole input as a person typed it; the error is a non-retryable
// ApplicationError of type InvalidArgument whose message starts with the offending field.
func (in *CreateIssueModelInput) Validate() (validPolicy, error) {
	return validateTyped(in.Continuation, in.decoding, in.validate)
}

// validate checks the input given the decoding error that counts (see decoding).
func (in *CreateIssueModelInput) validate(decodeErr error) (validPolicy, error) {
	policy, err := checkedPolicy(in.Polling, decodeErr,
		insights.ValidateParent("parent", in.Parent), in.IssueModel.Validate("issueModel"))
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

// validateTyped validates an input as a person typed it: a continuation is refused (only the
// workflow itself writes one), and the strict decoding's error counts.
func validateTyped(continuation *PollState, d decoding, validate func(decodeErr error) (validPolicy, error)) (validPolicy, error) {
	if continuation != nil {
		return validPolicy{}, errPersonsContinuation
	}
	return validate(d.strict)
}

// checkedPolicy is the first of the errors of decoding and of the (pure) field checks, if any;
// else the parsed polling policy.
func checkedPolicy(polling *PollingPolicy, decodeErr error, checks ...error) (validPolicy, error) {
	for _, err := range append([]error{decodeErr}, checks...) {
		if err != nil {
			return validPolicy{}, err
		}
	}
	return polling.parse("polling")
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

// AwaitOperationInput is the input of AwaitOperationWorkflow.
type AwaitOperationInput struct {
	// Operation is any google.longrunning operation name of the API:
	// projects/{project}/locations/{location}/operations/{operation}.
	Operation string         `json:"operation"`
	Polling   *PollingPolicy `json:"polling,omitempty"`
	// Continuation is set by the workflow itself when it continues as new.
	Continuation *PollState `json:"continuation,omitempty"`
	// ReportProgress: a child signals its parent the operation's metadata (ProgressSignal)
	// whenever a poll finds it changed, so the parent's status shows live progress.
	ReportProgress bool `json:"reportProgress,omitempty"`

	decoding decoding
}

// UnmarshalJSON decodes strictly but never fails; see decodeKeepingError.
func (in *AwaitOperationInput) UnmarshalJSON(b []byte) error {
	type plain AwaitOperationInput
	return decodeKeepingError(b, (*plain)(in), &in.decoding)
}

// Validate checks the input as a person typed it; errors are InvalidArgument naming the field.
func (in *AwaitOperationInput) Validate() (validPolicy, error) {
	return validateTyped(in.Continuation, in.decoding, in.validate)
}

// validate checks the input given the decoding error that counts (see decoding).
func (in *AwaitOperationInput) validate(decodeErr error) (validPolicy, error) {
	return checkedPolicy(in.Polling, decodeErr, insights.ValidateOperationName("operation", in.Operation))
}
