package explorer

import (
	"testing"
	"time"

	"google.golang.org/grpc/codes"
)

// The findings the explorer made on main after the first fixes of issue 25 (A2, P, Q), as it
// shrank them: each broke its invariant then and holds since its fix.
func TestFoundAfterFirstFixes(t *testing.T) {
	for name, s := range map[string]Schedule{
		// A2: the look-up is trusted notFoundGrace after the first ambiguous attempt only.
		"A2": {Workflow: Create, CancelMode: "honor", VisibilityDelay: 3 * time.Minute, NotFoundGrace: 5 * time.Minute,
			TrainingTime: 20 * time.Minute, Timeout: 2 * time.Hour,
			Faults: []Fault{{Call: "CreateIssueModel", N: 1, Kind: LostReply, Code: codes.Unavailable}, {Call: "CreateIssueModel", N: 1, Kind: DieBefore}},
			Events: []Event{{At: 350 * time.Second, Kind: CancelSignal}}},
		// P: a lost deploy reply, the retry's look-up misses the lagging operation.
		"P": {Workflow: Lifecycle, CancelMode: "honor", VisibilityDelay: time.Minute, TrainingTime: 20 * time.Minute, Timeout: 2 * time.Hour,
			Faults: []Fault{{Call: "DeployIssueModel", N: 1, Kind: LostReply, Code: codes.Unavailable}}},
		// Q: a lost create reply, then the look-up refused for good.
		"Q": {Workflow: Create, CancelMode: "honor", VisibilityDelay: time.Minute, TrainingTime: 20 * time.Minute, Timeout: 2 * time.Hour,
			Faults: []Fault{{Call: "CreateIssueModel", N: 1, Kind: LostReply, Code: codes.Unavailable}, {Call: "ListOperations", N: 1, Kind: Refuse, Code: codes.PermissionDenied}}},
	} {
		t.Run(name, func(t *testing.T) { Check(t, s) })
	}
}
