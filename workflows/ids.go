package workflows

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path"

	"github.com/issuemodels/durable-lro/insights"
)

// Default workflow ids, derived from the request. The API takes no request id, so the workflow
// id is the only place a duplicate start can be stopped: a start retried after a timeout (by the
// starter, or by the Nexus machinery for an operation of the issue-models service) gets the same
// id and attaches to the first run instead of training a second model. The starter and the
// Nexus service use these same functions.

// CreateWorkflowID is the default workflow id of a create: derived from what is trained (parent
// and issueModel, as decoded, so whitespace, field order and the polling policy do not count).
func CreateWorkflowID(in CreateIssueModelInput) string {
	return requestWorkflowID("create-issue-model-", struct {
		Parent     string                  `json:"parent"`
		IssueModel insights.IssueModelSpec `json:"issueModel"`
	}{in.Parent, in.IssueModel})
}

// LifecycleWorkflowID is the default workflow id of a lifecycle: derived from the decoded input
// without its polling policy (what is trained, gated, deployed, replaced, imported).
func LifecycleWorkflowID(in LifecycleInput) string {
	in.Polling = nil
	return requestWorkflowID("issue-model-lifecycle-", in)
}

// AwaitWorkflowID is the default workflow id of an await: await-<operation id>.
func AwaitWorkflowID(in AwaitOperationInput) string {
	return "await-" + path.Base(in.Operation)
}

// requestWorkflowID is prefix and the first 64 bits of the SHA-256 of v's JSON (Go's encoding of
// a struct is stable: fields in declaration order).
func requestWorkflowID(prefix string, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("requestWorkflowID: %v", err)) // only plain structs of strings and numbers
	}
	sum := sha256.Sum256(b)
	return prefix + hex.EncodeToString(sum[:8])
}
