package workflows

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/issuemodels/durable-lro/insights"
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

const okModel = `"issueModel":{"displayName":"weekly","inputDataConfig":{"medium":"CHAT","filter":"medium=\"CHAT\""}}`
const okParent = `"parent":"projects/acme/locations/us-central1"`

func withPolicy(policy string) string {
	return `{` + okParent + `,` + okModel + `,"polling":` + policy + `}`
}
func withModel(model string) string   { return `{` + okParent + `,"issueModel":` + model + `}` }
func withParent(parent string) string { return `{"parent":` + parent + `,` + okModel + `}` }

var invalidInputs = []struct {
	name, input, field string
}{
	{"empty body", ``, "input"},
	{"whitespace body", "  \n", "input"},
	{"null", `null`, "parent"},
	{"empty object", `{}`, "parent"},
	{"array", `[]`, "input"},
	{"string", `"hello"`, "input"},
	{"number", `42`, "input"},
	{"truncated", `{"parent":"projects/a/locations/b"`, "input"},
	{"trailing data", `{` + okParent + `,` + okModel + `} {}`, "input"},
	{"unknown top-level field", `{` + okParent + `,` + okModel + `,"color":"red"}`, "color"},
	{"unknown nested field", withModel(`{"displayName":"x","labels":{}}`), "labels"},
	{"snake_case field", `{` + okParent + `,"issue_model":{"displayName":"x"}}`, "issue_model"},
	{"missing parent", `{` + okModel + `}`, "parent"},
	{"empty parent", withParent(`""`), "parent"},
	{"parent wrong type", withParent(`5`), "parent"},
	{"parent without location", withParent(`"projects/acme"`), "parent"},
	{"parent empty project", withParent(`"projects//locations/us-central1"`), "parent"},
	{"parent trailing slash", withParent(`"projects/acme/locations/us-central1/"`), "parent"},
	{"parent is a model name", withParent(`"projects/acme/locations/us-central1/issueModels/1"`), "parent"},
	{"parent uppercase", withParent(`"projects/ACME/locations/us-central1"`), "parent"},
	{"parent spaces", withParent(`"projects/ac me/locations/us-central1"`), "parent"},
	{"parent wrong collection", withParent(`"project/acme/locations/us-central1"`), "parent"},
	{"parent url", withParent(`"https://contactcenterinsights.googleapis.com/v1/projects/a/locations/b"`), "parent"},
	{"parent huge", withParent(`"projects/` + strings.Repeat("a", 5000) + `/locations/x"`), "parent"},
	{"missing issueModel", `{` + okParent + `}`, "issueModel.displayName"},
	{"issueModel null", withModel(`null`), "issueModel.displayName"},
	{"issueModel wrong type", withModel(`"weekly"`), "issueModel"},
	{"empty displayName", withModel(`{"displayName":""}`), "issueModel.displayName"},
	{"blank displayName", withModel(`{"displayName":"   "}`), "issueModel.displayName"},
	{"displayName number", withModel(`{"displayName":7}`), "issueModel.displayName"},
	{"displayName huge", withModel(`{"displayName":"` + strings.Repeat("x", 300) + `"}`), "issueModel.displayName"},
	{"displayName control char", withModel(`{"displayName":"week\u0007ly"}`), "issueModel.displayName"},
	{"displayName newline", withModel(`{"displayName":"week\nly"}`), "issueModel.displayName"},
	{"displayName invalid utf8", withModel("{\"displayName\":\"week\xffly\"}"), "issueModel.displayName"},
	{"medium unknown", withModel(`{"displayName":"x","inputDataConfig":{"medium":"EMAIL"}}`), "issueModel.inputDataConfig.medium"},
	{"medium lowercase", withModel(`{"displayName":"x","inputDataConfig":{"medium":"chat"}}`), "issueModel.inputDataConfig.medium"},
	{"medium number", withModel(`{"displayName":"x","inputDataConfig":{"medium":2}}`), "issueModel.inputDataConfig.medium"},
	{"inputDataConfig wrong type", withModel(`{"displayName":"x","inputDataConfig":[]}`), "issueModel.inputDataConfig"},
	{"filter huge", withModel(`{"displayName":"x","inputDataConfig":{"filter":"` + strings.Repeat("a", 9000) + `"}}`), "issueModel.inputDataConfig.filter"},
	{"filter control char", withModel(`{"displayName":"x","inputDataConfig":{"filter":"a\u0000b"}}`), "issueModel.inputDataConfig.filter"},
	{"filter invalid utf8", withModel("{\"displayName\":\"x\",\"inputDataConfig\":{\"filter\":\"\xc3\x28\"}}"), "issueModel.inputDataConfig.filter"},
	{"modelType unknown", withModel(`{"displayName":"x","modelType":"TYPE_V3"}`), "issueModel.modelType"},
	{"modelType number", withModel(`{"displayName":"x","modelType":2}`), "issueModel.modelType"},
	{"languageCode bad", withModel(`{"displayName":"x","languageCode":"english"}`), "issueModel.languageCode"},
	{"languageCode underscore", withModel(`{"displayName":"x","languageCode":"en_US"}`), "issueModel.languageCode"},
	{"output-only field", withModel(`{"displayName":"x","state":"DEPLOYED"}`), "state"},
	{"polling wrong type", withPolicy(`"fast"`), "polling"},
	{"initialInterval not a duration", withPolicy(`{"initialInterval":"soon"}`), "polling.initialInterval"},
	{"initialInterval number", withPolicy(`{"initialInterval":30}`), "polling.initialInterval"},
	{"initialInterval zero", withPolicy(`{"initialInterval":"0s"}`), "polling.initialInterval"},
	{"initialInterval negative", withPolicy(`{"initialInterval":"-5s"}`), "polling.initialInterval"},
	{"initialInterval too small", withPolicy(`{"initialInterval":"10ms"}`), "polling.initialInterval"},
	{"initialInterval huge", withPolicy(`{"initialInterval":"100000h"}`), "polling.initialInterval"},
	{"initialInterval days unit", withPolicy(`{"initialInterval":"1d"}`), "polling.initialInterval"},
	{"maxInterval below initial", withPolicy(`{"initialInterval":"1m","maxInterval":"10s"}`), "polling.maxInterval"},
	{"maxInterval negative", withPolicy(`{"maxInterval":"-1m"}`), "polling.maxInterval"},
	{"multiplier below one", withPolicy(`{"multiplier":0.5}`), "polling.multiplier"},
	{"multiplier negative", withPolicy(`{"multiplier":-2}`), "polling.multiplier"},
	{"multiplier huge", withPolicy(`{"multiplier":1e9}`), "polling.multiplier"},
	{"multiplier string", withPolicy(`{"multiplier":"2"}`), "polling.multiplier"},
	{"timeout below initial", withPolicy(`{"initialInterval":"1h","timeout":"1m"}`), "polling.timeout"},
	{"timeout huge", withPolicy(`{"timeout":"10000000h"}`), "polling.timeout"},
	{"timeout zero", withPolicy(`{"timeout":"0"}`), "polling.timeout"},
	{"jitter above one", withPolicy(`{"jitter":1.5}`), "polling.jitter"},
	{"jitter negative", withPolicy(`{"jitter":-0.1}`), "polling.jitter"},
	{"notFoundGrace huge", withPolicy(`{"notFoundGrace":"48h"}`), "polling.notFoundGrace"},
	{"continueAsNewAfterPolls negative", withPolicy(`{"continueAsNewAfterPolls":-1}`), "polling.continueAsNewAfterPolls"},
	{"continueAsNewAfterPolls fraction", withPolicy(`{"continueAsNewAfterPolls":1.5}`), "polling.continueAsNewAfterPolls"},
	{"unknown polling field", withPolicy(`{"interval":"1s"}`), "interval"},
	{"deleteModelIfCancelFails string", `{` + okParent + `,` + okModel + `,"deleteModelIfCancelFails":"yes"}`, "deleteModelIfCancelFails"},
	{"continuation bad operation", `{` + okParent + `,` + okModel + `,"continuation":{"operation":"nope"}}`, "continuation.operation"},
}

func TestInvalidInputsAreTypedAndNameTheField(t *testing.T) {
	require.GreaterOrEqual(t, len(invalidInputs), 50)
	for _, tc := range invalidInputs {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeLikeTheCLI([]byte(tc.input))
			require.Error(t, err)
			var appErr *temporal.ApplicationError
			require.True(t, errors.As(err, &appErr), "want an ApplicationError, got %T: %v", err, err)
			require.Equal(t, insights.ErrInvalidArgument, appErr.Type())
			require.True(t, appErr.NonRetryable())
			var fv insights.FieldViolation
			require.NoError(t, appErr.Details(&fv))
			require.Equal(t, tc.field, fv.Field, "message: %s", appErr.Error())
			require.True(t, strings.HasPrefix(appErr.Error(), tc.field+": "), appErr.Error())
		})
	}
}

func TestValidInputs(t *testing.T) {
	for _, js := range []string{
		`{` + okParent + `,` + okModel + `}`,
		`{"parent":"projects/123456/locations/global","issueModel":{"displayName":"x"}}`,
		`{"parent":"projects/example.com:proj/locations/europe-west1","issueModel":{"displayName":"Ünïcødé 模型","modelType":"TYPE_V2","languageCode":"en-US","inputDataConfig":{"medium":"PHONE_CALL","filter":"medium=\"PHONE_CALL\"\nAND agent_id=\"7\""}}}`,
		withPolicy(`{"initialInterval":"1s","multiplier":1,"maxInterval":"1s","timeout":"8760h","jitter":0,"notFoundGrace":"0s","continueAsNewAfterPolls":100}`),
		withPolicy(`{}`),
	} {
		_, err := decodeLikeTheCLI([]byte(js))
		require.NoError(t, err, js)
	}
}

// FuzzDecodeCreateIssueModelInput: any bytes either decode to an input that validates, or give
// a typed InvalidArgument; never a panic or another error type.
func FuzzDecodeCreateIssueModelInput(f *testing.F) {
	for _, tc := range invalidInputs {
		f.Add([]byte(tc.input))
	}
	f.Add([]byte(`{` + okParent + `,` + okModel + `}`))
	f.Add([]byte(withPolicy(`{"initialInterval":"1s","timeout":"1h"}`)))
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
