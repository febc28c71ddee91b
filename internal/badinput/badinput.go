// Package badinput holds the table of malformed workflow inputs that the unit tests (decoder and
// validator) and the end-to-end reliability tests (through a real server) both run.
package badinput

import "strings"

// Case is one malformed input.
type Case struct {
	Name, Input string
	// Field is the field the InvalidArgument must name.
	Field string
	// NotJSON: the bytes are not JSON at all, so the Temporal CLI refuses them before sending.
	NotJSON bool
}

const okModel = `"issueModel":{"displayName":"weekly","inputDataConfig":{"medium":"CHAT","filter":"medium=\"CHAT\""}}`
const okParent = `"parent":"projects/acme/locations/us-central1"`

// Valid is a valid input.
const Valid = `{` + okParent + `,` + okModel + `}`

// WithPolicy is a valid input with the given polling policy (JSON).
func WithPolicy(policy string) string {
	return `{` + okParent + `,` + okModel + `,"polling":` + policy + `}`
}
func withModel(model string) string   { return `{` + okParent + `,"issueModel":` + model + `}` }
func withParent(parent string) string { return `{"parent":` + parent + `,` + okModel + `}` }

// Cases are malformed CreateIssueModelWorkflow inputs and the field each must be refused for.
var Cases = []Case{
	{"empty body", ``, "input", true},
	{"whitespace body", "  \n", "input", true},
	{"null", `null`, "parent", false},
	{"empty object", `{}`, "parent", false},
	{"array", `[]`, "input", false},
	{"string", `"hello"`, "input", false},
	{"number", `42`, "input", false},
	{"truncated", `{"parent":"projects/a/locations/b"`, "input", true},
	{"trailing data", `{` + okParent + `,` + okModel + `} {}`, "input", true},
	{"unknown top-level field", `{` + okParent + `,` + okModel + `,"color":"red"}`, "color", false},
	{"unknown nested field", withModel(`{"displayName":"x","labels":{}}`), "labels", false},
	{"snake_case field", `{` + okParent + `,"issue_model":{"displayName":"x"}}`, "issue_model", false},
	{"missing parent", `{` + okModel + `}`, "parent", false},
	{"empty parent", withParent(`""`), "parent", false},
	{"parent wrong type", withParent(`5`), "parent", false},
	{"parent without location", withParent(`"projects/acme"`), "parent", false},
	{"parent empty project", withParent(`"projects//locations/us-central1"`), "parent", false},
	{"parent trailing slash", withParent(`"projects/acme/locations/us-central1/"`), "parent", false},
	{"parent is a model name", withParent(`"projects/acme/locations/us-central1/issueModels/1"`), "parent", false},
	{"parent uppercase", withParent(`"projects/ACME/locations/us-central1"`), "parent", false},
	{"parent spaces", withParent(`"projects/ac me/locations/us-central1"`), "parent", false},
	{"parent wrong collection", withParent(`"project/acme/locations/us-central1"`), "parent", false},
	{"parent url", withParent(`"https://contactcenterinsights.googleapis.com/v1/projects/a/locations/b"`), "parent", false},
	{"parent huge", withParent(`"projects/` + strings.Repeat("a", 5000) + `/locations/x"`), "parent", false},
	{"missing issueModel", `{` + okParent + `}`, "issueModel.displayName", false},
	{"issueModel null", withModel(`null`), "issueModel.displayName", false},
	{"issueModel wrong type", withModel(`"weekly"`), "issueModel", false},
	{"empty displayName", withModel(`{"displayName":""}`), "issueModel.displayName", false},
	{"blank displayName", withModel(`{"displayName":"   "}`), "issueModel.displayName", false},
	{"displayName number", withModel(`{"displayName":7}`), "issueModel.displayName", false},
	{"displayName huge", withModel(`{"displayName":"` + strings.Repeat("x", 300) + `"}`), "issueModel.displayName", false},
	{"displayName control char", withModel(`{"displayName":"week\u0007ly"}`), "issueModel.displayName", false},
	{"displayName newline", withModel(`{"displayName":"week\nly"}`), "issueModel.displayName", false},
	{"displayName invalid utf8", withModel("{\"displayName\":\"week\xffly\"}"), "issueModel.displayName", false},
	{"medium unknown", withModel(`{"displayName":"x","inputDataConfig":{"medium":"EMAIL"}}`), "issueModel.inputDataConfig.medium", false},
	{"medium lowercase", withModel(`{"displayName":"x","inputDataConfig":{"medium":"chat"}}`), "issueModel.inputDataConfig.medium", false},
	{"medium number", withModel(`{"displayName":"x","inputDataConfig":{"medium":2}}`), "issueModel.inputDataConfig.medium", false},
	{"inputDataConfig wrong type", withModel(`{"displayName":"x","inputDataConfig":[]}`), "issueModel.inputDataConfig", false},
	{"filter huge", withModel(`{"displayName":"x","inputDataConfig":{"filter":"` + strings.Repeat("a", 9000) + `"}}`), "issueModel.inputDataConfig.filter", false},
	{"filter control char", withModel(`{"displayName":"x","inputDataConfig":{"filter":"a\u0000b"}}`), "issueModel.inputDataConfig.filter", false},
	{"filter invalid utf8", withModel("{\"displayName\":\"x\",\"inputDataConfig\":{\"filter\":\"\xc3\x28\"}}"), "issueModel.inputDataConfig.filter", false},
	{"modelType unknown", withModel(`{"displayName":"x","modelType":"TYPE_V3"}`), "issueModel.modelType", false},
	{"modelType number", withModel(`{"displayName":"x","modelType":2}`), "issueModel.modelType", false},
	{"languageCode bad", withModel(`{"displayName":"x","languageCode":"english"}`), "issueModel.languageCode", false},
	{"languageCode underscore", withModel(`{"displayName":"x","languageCode":"en_US"}`), "issueModel.languageCode", false},
	{"output-only field", withModel(`{"displayName":"x","state":"DEPLOYED"}`), "state", false},
	{"polling wrong type", WithPolicy(`"fast"`), "polling", false},
	{"initialInterval not a duration", WithPolicy(`{"initialInterval":"soon"}`), "polling.initialInterval", false},
	{"initialInterval number", WithPolicy(`{"initialInterval":30}`), "polling.initialInterval", false},
	{"initialInterval zero", WithPolicy(`{"initialInterval":"0s"}`), "polling.initialInterval", false},
	{"initialInterval negative", WithPolicy(`{"initialInterval":"-5s"}`), "polling.initialInterval", false},
	{"initialInterval too small", WithPolicy(`{"initialInterval":"10ms"}`), "polling.initialInterval", false},
	{"initialInterval huge", WithPolicy(`{"initialInterval":"100000h"}`), "polling.initialInterval", false},
	{"initialInterval days unit", WithPolicy(`{"initialInterval":"1d"}`), "polling.initialInterval", false},
	{"maxInterval below initial", WithPolicy(`{"initialInterval":"1m","maxInterval":"10s"}`), "polling.maxInterval", false},
	{"maxInterval negative", WithPolicy(`{"maxInterval":"-1m"}`), "polling.maxInterval", false},
	{"multiplier below one", WithPolicy(`{"multiplier":0.5}`), "polling.multiplier", false},
	{"multiplier negative", WithPolicy(`{"multiplier":-2}`), "polling.multiplier", false},
	{"multiplier huge", WithPolicy(`{"multiplier":1e9}`), "polling.multiplier", false},
	{"multiplier string", WithPolicy(`{"multiplier":"2"}`), "polling.multiplier", false},
	{"timeout below initial", WithPolicy(`{"initialInterval":"1h","timeout":"1m"}`), "polling.timeout", false},
	{"timeout huge", WithPolicy(`{"timeout":"10000000h"}`), "polling.timeout", false},
	{"timeout zero", WithPolicy(`{"timeout":"0"}`), "polling.timeout", false},
	{"jitter above one", WithPolicy(`{"jitter":1.5}`), "polling.jitter", false},
	{"jitter negative", WithPolicy(`{"jitter":-0.1}`), "polling.jitter", false},
	{"ageFraction negative", WithPolicy(`{"ageFraction":-0.05}`), "polling.ageFraction", false},
	{"ageFraction above half", WithPolicy(`{"ageFraction":0.9}`), "polling.ageFraction", false},
	{"learn string", WithPolicy(`{"learn":"yes"}`), "polling.learn", false},
	{"notFoundGrace huge", WithPolicy(`{"notFoundGrace":"48h"}`), "polling.notFoundGrace", false},
	{"continueAsNewAfterPolls negative", WithPolicy(`{"continueAsNewAfterPolls":-1}`), "polling.continueAsNewAfterPolls", false},
	{"continueAsNewAfterPolls fraction", WithPolicy(`{"continueAsNewAfterPolls":1.5}`), "polling.continueAsNewAfterPolls", false},
	{"continueAsNewAfterPolls too many", WithPolicy(`{"continueAsNewAfterPolls":601}`), "polling.continueAsNewAfterPolls", false},
	{"unknown polling field", WithPolicy(`{"interval":"1s"}`), "interval", false},
	{"deleteModelIfCancelFails string", `{` + okParent + `,` + okModel + `,"deleteModelIfCancelFails":"yes"}`, "deleteModelIfCancelFails", false},
	{"continuation bad operation", `{` + okParent + `,` + okModel + `,"continuation":{"operation":"nope"}}`, "continuation", false},
	{"continuation from a person", `{` + okParent + `,` + okModel + `,"continuation":{"operation":"projects/acme/locations/us-central1/operations/1"}}`, "continuation", false},
}
