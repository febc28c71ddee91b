package reliability_test

import (
	"context"
	"testing"
	"time"

	contactcenterinsights "cloud.google.com/go/contactcenterinsights/apiv1"
	"cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	enumspb "go.temporal.io/api/enums/v1"
	"google.golang.org/api/iterator"

	"github.com/issuemodels/durable-lro/insightstest"
)

// TestWorkerKills runs many creations while real worker processes are SIGKILLed at random moments
// and 30% of CreateIssueModel replies are lost after the server committed the creation. Every
// workflow has its own project (parent projects/rel-<i>/locations/us-central1), so the emulator's
// default quota of one concurrent creation per project+location holds and cannot hide duplicates.
func TestWorkerKills(t *testing.T) {
	t.Parallel()
	n, kills := size(30, 200), size(3, 10)
	const workers = 2
	const lostReply = 0.3
	// 60x clock: trainings of 10–40 emulated minutes take 10–40 s.
	emu := newEmulator(t, 60, insightstest.Options{TrainingTime: uniform(10*time.Minute, 40*time.Minute, 0)})
	emu.SetFaults("CreateIssueModel", insightstest.Fault{Probability: lostReply, LostReplyAfterCommit: true})
	tq, prefix := names(t)
	f := newFleet(t, workers, workerEnv(devServer.HostPort, emu.Addr(), tq))

	parents, runs := startCreations(t, devServer.Client, n, tq, prefix, "rel", `{"initialInterval":"2s","multiplier":1.5,"maxInterval":"5s"}`)

	// Kill at random moments while creations and polls are in flight.
	killsDone := f.killAtRandom(kills, time.Second, 4*time.Second)
	outs := awaitAll(runs, 12*time.Minute)
	<-killsDone
	f.stopAll()

	completed := 0
	byParent := map[string]string{} // parent -> operation referenced by its workflow's result
	for i, o := range outs {
		if succeeded(t, o) {
			completed++
			byParent[parents[i]] = o.res.Operation
		}
	}

	// Exactly one model per workflow, and it is the one its result names.
	st := emu.Stats()
	models, duplicates := 0, 0
	for i, p := range parents {
		created := st.ModelsCreated[p]
		if created > 1 {
			duplicates += int(created - 1)
			t.Errorf("%s: %d models created, want 1", p, created)
		}
		ms := emu.Models(p)
		models += len(ms)
		if len(ms) != 1 {
			t.Errorf("%s: %d models, want 1", p, len(ms))
		} else if r := outs[i].res.IssueModel; r != nil && r.Name != ms[0].GetName() {
			t.Errorf("%s: the result names model %s, the emulator holds %s", p, r.Name, ms[0].GetName())
		}
	}
	// No orphaned operation: every CreateIssueModel operation is the one a workflow result names.
	orphans, createOps := countOrphans(t, emu, parents, byParent)

	// What the crashes cost, from the histories.
	var actTimeouts, wfTaskTimeouts, wfTaskFailed, adopted, retriedCreates int
	for _, r := range runs {
		evs := history(t, devServer.Client, r.GetID(), r.GetRunID())
		actTimeouts += countEvents(evs, enumspb.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT)
		wfTaskTimeouts += countEvents(evs, enumspb.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT)
		wfTaskFailed += countEvents(evs, enumspb.EVENT_TYPE_WORKFLOW_TASK_FAILED)
		adopted += adoptedCreates(evs)
		retriedCreates += max(scheduledActivities(evs, "CreateIssueModel")-1, 0)
	}
	if wfTaskFailed != 0 {
		t.Errorf("%d WorkflowTaskFailed events (nondeterminism or panics?)", wfTaskFailed)
	}
	if orphans != 0 {
		t.Errorf("%d orphaned operations", orphans)
	}
	t.Logf("FIGURE worker-kills workflows=%d workers=%d kills=%d lostReplyP=%.1f completed=%d models=%d duplicates=%d orphans=%d createOps=%d createRPCs=%d lostReplies=%d adopted=%d createRetries=%d activityTimeouts=%d workflowTaskTimeouts=%d workflowTaskFailed=%d",
		n, workers, kills, lostReply, completed, models, duplicates, orphans, createOps, st.RPCs["CreateIssueModel"],
		st.Faults["CreateIssueModel"], adopted, retriedCreates, actTimeouts, wfTaskTimeouts, wfTaskFailed)
}

// countOrphans lists every operation of each parent through the real client and counts the
// CreateIssueModel operations that no workflow result references (or that more than one does).
func countOrphans(t *testing.T, emu *insightstest.Server, parents []string, byParent map[string]string) (orphans, createOps int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	gc, err := contactcenterinsights.NewClient(ctx, emu.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer gc.Close()
	referenced := map[string]int{}
	for _, op := range byParent {
		referenced[op]++
	}
	for _, p := range parents {
		it := gc.ListOperations(ctx, &longrunningpb.ListOperationsRequest{Name: p, PageSize: 1000})
		for {
			op, err := it.Next()
			if err == iterator.Done {
				break
			}
			if err != nil {
				t.Fatalf("ListOperations %s: %v", p, err)
			}
			md := &contactcenterinsightspb.CreateIssueModelMetadata{}
			if op.GetMetadata().UnmarshalTo(md) != nil {
				continue
			}
			createOps++
			if referenced[op.GetName()] != 1 || byParent[p] != op.GetName() {
				orphans++
				t.Errorf("orphaned operation %s (referenced %d times)", op.GetName(), referenced[op.GetName()])
			}
		}
	}
	return orphans, createOps
}
