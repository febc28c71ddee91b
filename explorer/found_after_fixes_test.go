package explorer

import (
	"testing"
	"time"

	"google.golang.org/grpc/codes"
)

// The findings the explorer made on main after the first fixes of issue 25 (1feb820, a1e2210),
// as it shrank them: each broke its invariant then and holds since its fix.
func TestFoundAfterFirstFixes(t *testing.T) {
	for name, s := range map[string]Schedule{
		// C, deployed-restored: a lifecycle cancelled while its new model deploys, at the
		// 5-deployed quota, did not redeploy the model undeploy-first had removed.
		"C_CancelAtQuotaRedeploys": {Workflow: Lifecycle, CancelMode: "honor", VisibilityDelay: 100 * time.Second,
			TrainingTime: 20 * time.Minute, Timeout: 2 * time.Hour, Replaced: 1, OtherDeployed: 4,
			Events: []Event{{At: 23 * time.Minute, Kind: CancelSignal}}},
		// F, no-stranded-training: terminating a lifecycle (its run timeout) terminated its
		// -create child, whose training ran on with no CancelOperation.
		"F_TerminatedLifecycleCancelsTraining": {Workflow: Lifecycle, CancelMode: "honor", VisibilityDelay: time.Minute,
			TrainingTime: 2 * time.Hour, Timeout: 2 * time.Hour, Replaced: 1,
			Events: []Event{{At: 10 * time.Second, Kind: TerminateParent}}},
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
