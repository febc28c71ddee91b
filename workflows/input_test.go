package workflows

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/issuemodels/durable-lro/insights"
	"github.com/issuemodels/durable-lro/internal/badinput"
)

// decodeLikeTheCLI runs raw bytes through the path `temporal workflow start --input` takes: a
// JSON payload decoded by the default data converter, then the workflow's validation.
func decodeLikeTheCLI(raw []byte) (CreateIssueModelInput, error) {
	p := converter.GetDefaultDataConverter()
	payload, err := p.ToPayload(json.RawMessage(raw))
	if err != nil {
		// Not JSON at all: the CLI would refuse it; the starter's decoder reports it instead.
		return DecodeCreateIssueModelInput(raw)
	}
	var in CreateIssueModelInput
	if err := p.FromPayload(payload, &in); err != nil {
		return in, err
	}
	if len(strings.TrimSpace(string(raw))) == 0 {
		return DecodeCreateIssueModelInput(raw)
	}
	_, err = in.Validate()
	return in, err
}

func TestInvalidInputsAreTypedAndNameTheField(t *testing.T) {
	require.GreaterOrEqual(t, len(badinput.Cases), 50)
	for _, tc := range badinput.Cases {
		t.Run(tc.Name, func(t *testing.T) {
			_, err := decodeLikeTheCLI([]byte(tc.Input))
			require.Error(t, err)
			var appErr *temporal.ApplicationError
			require.True(t, errors.As(err, &appErr), "want an ApplicationError, got %T: %v", err, err)
			require.Equal(t, insights.ErrInvalidArgument, appErr.Type())
			require.True(t, appErr.NonRetryable())
			var fv insights.FieldViolation
			require.NoError(t, appErr.Details(&fv))
			require.Equal(t, tc.Field, fv.Field, "message: %s", appErr.Error())
			require.True(t, strings.HasPrefix(appErr.Error(), tc.Field+": "), appErr.Error())
		})
	}
}

func TestValidInputs(t *testing.T) {
	for _, js := range []string{
		badinput.Valid,
		`{"parent":"projects/123456/locations/global","issueModel":{"displayName":"x"}}`,
		`{"parent":"projects/example.com:proj/locations/europe-west1","issueModel":{"displayName":"Ünïcødé 模型","modelType":"TYPE_V2","languageCode":"en-US","inputDataConfig":{"medium":"PHONE_CALL","filter":"medium=\"PHONE_CALL\"\nAND agent_id=\"7\""}}}`,
		badinput.WithPolicy(`{"initialInterval":"1s","multiplier":1,"maxInterval":"1s","timeout":"8760h","jitter":0,"notFoundGrace":"0s","continueAsNewAfterPolls":100}`),
		badinput.WithPolicy(`{}`),
	} {
		_, err := decodeLikeTheCLI([]byte(js))
		require.NoError(t, err, js)
	}
}

// FuzzDecodeCreateIssueModelInput: any bytes either decode to an input that validates, or give
// a typed InvalidArgument; never a panic or another error type.
func FuzzDecodeCreateIssueModelInput(f *testing.F) {
	for _, tc := range badinput.Cases {
		f.Add([]byte(tc.Input))
	}
	f.Add([]byte(badinput.Valid))
	f.Add([]byte(badinput.WithPolicy(`{"initialInterval":"1s","timeout":"1h"}`)))
	f.Fuzz(func(t *testing.T, raw []byte) {
		in, err := decodeLikeTheCLI(raw)
		if err == nil {
			// Whatever validated must convert to a request without surprises.
			if in.IssueModel.Proto().GetDisplayName() == "" {
				t.Fatalf("validated input without a display name: %q", raw)
			}
			return
		}
		if !insights.IsErrorType(err, insights.ErrInvalidArgument) {
			t.Fatalf("want InvalidArgument, got %T %v for %q", err, err, raw)
		}
	})
}

// The example inputs the README points at must stay valid.
func TestExampleFilesAreValid(t *testing.T) {
	b, err := os.ReadFile("../examples/create.json")
	require.NoError(t, err)
	_, err = DecodeCreateIssueModelInput(b)
	require.NoError(t, err)
	b, err = os.ReadFile("../examples/lifecycle.json")
	require.NoError(t, err)
	_, err = DecodeLifecycleInput(b)
	require.NoError(t, err)
}
