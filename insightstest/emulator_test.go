package insightstest

import (
	"errors"
	"strings"
	"testing"
	"time"

	contactcenterinsightspb "cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	longrunningpb "cloud.google.com/go/longrunning/autogen/longrunningpb"
	"github.com/googleapis/gax-go/v2/apierror"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestCreateAndWait(t *testing.T) {
	e := newEnv(t, Options{})
	op := e.create(t, parent, "my-model")
	if op.Done() {
		t.Fatal("new operation is done")
	}
	if !strings.HasPrefix(op.Name(), parent+"/operations/") {
		t.Fatalf("operation name %q", op.Name())
	}
	md, err := op.Metadata()
	if err != nil {
		t.Fatal(err)
	}
	if md.GetCreateTime() == nil || md.GetEndTime() != nil || md.GetRequest().GetIssueModel().GetDisplayName() != "my-model" {
		t.Fatalf("metadata of running op: %v", md)
	}
	// The model exists while training, UNDEPLOYED, without stats.
	ms := e.srv.Models(parent)
	if len(ms) != 1 || ms[0].GetTrainingStats() != nil || ms[0].GetState() != contactcenterinsightspb.IssueModel_UNDEPLOYED {
		t.Fatalf("models while training: %v", ms)
	}

	go func() {
		time.Sleep(50 * time.Millisecond)
		e.clock.Advance(2 * time.Minute)
	}()
	m, err := op.Wait(e.ctx)
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if m.GetName() != ms[0].GetName() || m.GetDisplayName() != "my-model" ||
		m.GetState() != contactcenterinsightspb.IssueModel_UNDEPLOYED ||
		m.GetModelType() != contactcenterinsightspb.IssueModel_TYPE_V2 {
		t.Fatalf("model: %v", m)
	}
	idc := m.GetInputDataConfig()
	//lint:ignore SA1019 medium is deprecated in favour of the filter, but the REST API still accepts and returns it
	if idc.GetMedium() != contactcenterinsightspb.Conversation_CHAT || idc.GetFilter() != `medium="CHAT"` || idc.GetTrainingConversationsCount() <= 0 {
		t.Fatalf("input data config: %v", idc)
	}
	ts := m.GetTrainingStats()
	if ts.GetAnalyzedConversationsCount() <= 0 || int64(len(ts.GetIssueStats())) != m.GetIssueCount() || m.GetIssueCount() == 0 {
		t.Fatalf("training stats: %v (issue_count %d)", ts, m.GetIssueCount())
	}
	var labeled int64
	for k, v := range ts.GetIssueStats() {
		if !strings.HasPrefix(k, m.GetName()+"/issues/") || v.GetIssue() != k || v.GetDisplayName() == "" {
			t.Fatalf("issue stats %q: %v", k, v)
		}
		labeled += v.GetLabeledConversationsCount()
	}
	if labeled+ts.GetUnclassifiedConversationsCount() != ts.GetAnalyzedConversationsCount() {
		t.Fatalf("labeled %d + unclassified %d != analyzed %d", labeled, ts.GetUnclassifiedConversationsCount(), ts.GetAnalyzedConversationsCount())
	}
	md, err = op.Metadata()
	if err != nil {
		t.Fatal(err)
	}
	if got := md.GetEndTime().AsTime().Sub(md.GetCreateTime().AsTime()); got != 2*time.Minute {
		t.Fatalf("end-create = %v, want 2m", got)
	}
	got, err := e.client.GetIssueModel(e.ctx, &contactcenterinsightspb.GetIssueModelRequest{Name: m.GetName()}, noRetry)
	if err != nil || got.GetTrainingStats() == nil {
		t.Fatalf("GetIssueModel after training: %v, %v", got, err)
	}
	st := e.srv.Stats()
	if st.ModelsCreated[parent] != 1 || st.Operations["succeeded"] != 1 || st.Operations["running"] != 0 || st.RPCs["CreateIssueModel"] != 1 {
		t.Fatalf("stats: %+v", st)
	}
}

func TestRealClockScaled(t *testing.T) {
	// 2m of training at 600x is 200ms of wall time.
	e := newEnv(t, Options{Clock: RealClock(600)})
	op := e.create(t, parent, "m")
	start := time.Now()
	m, err := op.Wait(e.ctx)
	if err != nil || m.GetTrainingStats() == nil {
		t.Fatalf("Wait: %v %v", m, err)
	}
	if el := time.Since(start); el < 150*time.Millisecond {
		t.Fatalf("finished after %v, too early", el)
	}
}

func TestResumeByName(t *testing.T) {
	e := newEnv(t, Options{})
	name := e.create(t, parent, "m").Name()

	// Another client (another process, in real life) resumes from the name.
	other := newClientFor(t, e)
	op := other.CreateIssueModelOperation(name)
	m, err := op.Poll(e.ctx, noRetry)
	if err != nil || m != nil || op.Done() {
		t.Fatalf("Poll while running: %v %v done=%v", m, err, op.Done())
	}
	e.clock.Advance(2 * time.Minute)
	m, err = op.Poll(e.ctx, noRetry)
	if err != nil || !op.Done() || m.GetTrainingStats() == nil {
		t.Fatalf("Poll after training: %v %v", m, err)
	}
	md, err := op.Metadata()
	if err != nil || md.GetEndTime() == nil {
		t.Fatalf("metadata: %v %v", md, err)
	}
	// Wait on a done operation returns at once.
	if _, err := other.CreateIssueModelOperation(name).Wait(e.ctx); err != nil {
		t.Fatal(err)
	}
	// Unknown operation.
	_, err = other.CreateIssueModelOperation(parent+"/operations/123").Poll(e.ctx, noRetry)
	wantCode(t, err, codes.NotFound)
}

func TestListOperationsPagingAndFilter(t *testing.T) {
	e := newEnv(t, Options{MaxConcurrentCreates: Unlimited})
	n := 0
	e.srv.SetTrainingTime(func() time.Duration {
		n++
		if n <= 4 {
			return time.Minute
		}
		return time.Hour
	})
	var names []string
	for i := 0; i < 7; i++ {
		names = append(names, e.create(t, parent, "m").Name())
	}
	e.create(t, parent2, "elsewhere")
	e.clock.Advance(2 * time.Minute)

	before := e.srv.Stats().RPCs["ListOperations"]
	ops, err := e.listOps(t, parent, "", 3)
	if err != nil {
		t.Fatal(err)
	}
	if calls := e.srv.Stats().RPCs["ListOperations"] - before; calls != 3 {
		t.Fatalf("7 ops with page size 3 took %d calls, want 3", calls)
	}
	if len(ops) != 7 {
		t.Fatalf("got %d ops, want 7", len(ops))
	}
	for i, op := range ops {
		if op.GetName() != names[i] {
			t.Fatalf("op %d = %s, want %s (creation order)", i, op.GetName(), names[i])
		}
	}
	done, err := e.listOps(t, parent, "done=true", 3)
	if err != nil || len(done) != 4 {
		t.Fatalf("done=true: %d ops, %v", len(done), err)
	}
	for _, op := range done {
		if !op.GetDone() || op.GetResponse() == nil {
			t.Fatalf("done=true returned %v", op)
		}
	}
	running, err := e.listOps(t, parent, "done = false", 2)
	if err != nil || len(running) != 3 {
		t.Fatalf("done=false: %d ops, %v", len(running), err)
	}
	// Also accepts the collection name.
	if all, err := e.listOps(t, parent+"/operations", "", 0); err != nil || len(all) != 7 {
		t.Fatalf("list .../operations: %d %v", len(all), err)
	}

	// Raw paging: a page token from the first page, then a bad token.
	it := e.client.ListOperations(e.ctx, &longrunningpb.ListOperationsRequest{Name: parent, PageSize: 3}, noRetry)
	if _, err := it.Next(); err != nil {
		t.Fatal(err)
	}
	if len(it.Response.(*longrunningpb.ListOperationsResponse).GetOperations()) != 3 || it.PageInfo().Token == "" {
		t.Fatalf("first page: %v", it.Response)
	}
	_, err = e.listOps(t, parent, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	bad := e.client.ListOperations(e.ctx, &longrunningpb.ListOperationsRequest{Name: parent, PageToken: "garbage!"}, noRetry)
	_, err = bad.Next()
	wantCode(t, err, codes.InvalidArgument)
	if !strings.Contains(err.Error(), "page_token") {
		t.Fatalf("error does not name page_token: %v", err)
	}
	// A token for another filter is rejected too.
	tok := it.PageInfo().Token
	bad = e.client.ListOperations(e.ctx, &longrunningpb.ListOperationsRequest{Name: parent, Filter: "done=true", PageToken: tok}, noRetry)
	_, err = bad.Next()
	wantCode(t, err, codes.InvalidArgument)

	_, err = e.listOps(t, parent, "metadata.foo=bar", 0)
	wantCode(t, err, codes.InvalidArgument)
	_, err = e.listOps(t, "projects/p1", "", 0)
	wantCode(t, err, codes.InvalidArgument)
}

func TestCancelHonor(t *testing.T) {
	e := newEnv(t, Options{})
	op := e.create(t, parent, "m")
	if err := e.cancel(op.Name()); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	_, err := op.Poll(e.ctx, noRetry)
	wantCode(t, err, codes.Canceled)
	if !op.Done() {
		t.Fatal("cancelled op not done")
	}
	raw, err := e.client.GetOperation(e.ctx, &longrunningpb.GetOperationRequest{Name: op.Name()}, noRetry)
	if err != nil || !raw.GetDone() || raw.GetError().GetCode() != 1 || raw.GetResponse() != nil {
		t.Fatalf("cancelled op: %v %v", raw, err)
	}
	if ms := e.srv.Models(parent); len(ms) != 0 {
		t.Fatalf("model left after cancel: %v", ms)
	}
	// Cancelling a done op is OK and changes nothing.
	if err := e.cancel(op.Name()); err != nil {
		t.Fatalf("second Cancel: %v", err)
	}
	e.clock.Advance(time.Hour)
	raw2, _ := e.srv.Operation(op.Name())
	if raw2.GetError().GetCode() != 1 {
		t.Fatalf("after advance: %v", raw2)
	}
	// Cancelling a succeeded op changes nothing either.
	op2 := e.create(t, parent, "m2")
	e.clock.Advance(time.Hour)
	if err := e.cancel(op2.Name()); err != nil {
		t.Fatal(err)
	}
	if m, err := op2.Poll(e.ctx, noRetry); err != nil || m == nil {
		t.Fatalf("succeeded op after cancel: %v %v", m, err)
	}
	if st := e.srv.Stats(); st.Operations["cancelled"] != 1 || st.Operations["succeeded"] != 1 {
		t.Fatalf("stats: %v", st.Operations)
	}
}

func TestCancelHonorRevertsDeploy(t *testing.T) {
	e := newEnv(t, Options{})
	m := e.trained(t, parent, "m")
	dop, err := e.client.DeployIssueModel(e.ctx, &contactcenterinsightspb.DeployIssueModelRequest{Name: m.GetName()}, noRetry)
	if err != nil {
		t.Fatal(err)
	}
	e.wantState(t, m.GetName(), contactcenterinsightspb.IssueModel_DEPLOYING)
	if err := e.cancel(dop.Name()); err != nil {
		t.Fatal(err)
	}
	_, err = dop.Poll(e.ctx, noRetry)
	wantCode(t, err, codes.Canceled)
	e.wantState(t, m.GetName(), contactcenterinsightspb.IssueModel_UNDEPLOYED)
	// Cancelled delete keeps the model.
	del, err := e.client.DeleteIssueModel(e.ctx, &contactcenterinsightspb.DeleteIssueModelRequest{Name: m.GetName()}, noRetry)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.cancel(del.Name()); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Hour)
	e.wantState(t, m.GetName(), contactcenterinsightspb.IssueModel_UNDEPLOYED)
}

func TestCancelUnimplemented(t *testing.T) {
	e := newEnv(t, Options{CancelMode: CancelUnimplemented})
	op := e.create(t, parent, "m")
	wantCode(t, e.cancel(op.Name()), codes.Unimplemented)
	e.clock.Advance(2 * time.Minute)
	if m, err := op.Poll(e.ctx, noRetry); err != nil || m == nil {
		t.Fatalf("op after refused cancel: %v %v", m, err)
	}
	e.srv.SetCancelMode(CancelHonor)
	op = e.create(t, parent, "m2")
	if err := e.cancel(op.Name()); err != nil {
		t.Fatal(err)
	}
}

func TestCancelIgnore(t *testing.T) {
	e := newEnv(t, Options{CancelMode: CancelIgnore})
	op := e.create(t, parent, "m")
	if err := e.cancel(op.Name()); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	if m, err := op.Poll(e.ctx, noRetry); err != nil || op.Done() || m != nil {
		t.Fatalf("ignored cancel finished the op: %v %v", m, err)
	}
	e.clock.Advance(2 * time.Minute)
	m, err := op.Poll(e.ctx, noRetry)
	if err != nil || m.GetTrainingStats() == nil {
		t.Fatalf("op after ignored cancel: %v %v", m, err)
	}
	if len(e.srv.Models(parent)) != 1 {
		t.Fatal("model missing")
	}
}

func TestOtherOperationsMethodsUnimplemented(t *testing.T) {
	e := newEnv(t, Options{})
	op := e.create(t, parent, "m")
	conn := longrunningpb.NewOperationsClient(dial(t, e.srv.Addr()))
	_, err := conn.DeleteOperation(e.ctx, &longrunningpb.DeleteOperationRequest{Name: op.Name()})
	wantCode(t, err, codes.Unimplemented)
	_, err = conn.WaitOperation(e.ctx, &longrunningpb.WaitOperationRequest{Name: op.Name()})
	wantCode(t, err, codes.Unimplemented)
	_, err = e.client.UpdateIssueModel(e.ctx, &contactcenterinsightspb.UpdateIssueModelRequest{}, noRetry)
	wantCode(t, err, codes.Unimplemented)
}

func TestQuotaConcurrentCreate(t *testing.T) {
	e := newEnv(t, Options{})
	e.create(t, parent, "a")
	_, err := e.client.CreateIssueModel(e.ctx, createReq(parent, "b"), noRetry)
	wantCode(t, err, codes.ResourceExhausted)
	if !strings.Contains(err.Error(), "concurrent") {
		t.Fatalf("unclear message: %v", err)
	}
	// Another location is independent.
	e.create(t, parent2, "c")
	e.clock.Advance(2 * time.Minute)
	e.create(t, parent, "b")
	if st := e.srv.Stats(); st.ModelsCreated[parent] != 2 || st.ModelsCreated[parent2] != 1 {
		t.Fatalf("models created %v", st.ModelsCreated)
	}
}

func TestQuotaMaxModels(t *testing.T) {
	e := newEnv(t, Options{})
	for i := 0; i < 10; i++ {
		e.trained(t, parent, "m")
	}
	_, err := e.client.CreateIssueModel(e.ctx, createReq(parent, "eleventh"), noRetry)
	wantCode(t, err, codes.ResourceExhausted)
	if !strings.Contains(err.Error(), "10 issue models") {
		t.Fatalf("unclear message: %v", err)
	}
	// Deleting one frees a slot.
	name := e.srv.Models(parent)[0].GetName()
	dop, err := e.client.DeleteIssueModel(e.ctx, &contactcenterinsightspb.DeleteIssueModelRequest{Name: name}, noRetry)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(DefaultDeleteTime)
	if err := dop.Wait(e.ctx); err != nil {
		t.Fatal(err)
	}
	e.create(t, parent, "eleventh")
}

func TestQuotaMaxDeployed(t *testing.T) {
	e := newEnv(t, Options{})
	var names []string
	for i := 0; i < 6; i++ {
		names = append(names, e.trained(t, parent, "m").GetName())
	}
	for i := 0; i < 5; i++ {
		if _, err := e.client.DeployIssueModel(e.ctx, &contactcenterinsightspb.DeployIssueModelRequest{Name: names[i]}, noRetry); err != nil {
			t.Fatalf("deploy %d: %v", i, err)
		}
	}
	// DEPLOYING counts.
	_, err := e.client.DeployIssueModel(e.ctx, &contactcenterinsightspb.DeployIssueModelRequest{Name: names[5]}, noRetry)
	wantCode(t, err, codes.ResourceExhausted)
	e.clock.Advance(time.Minute)
	_, err = e.client.DeployIssueModel(e.ctx, &contactcenterinsightspb.DeployIssueModelRequest{Name: names[5]}, noRetry)
	wantCode(t, err, codes.ResourceExhausted)
	if !strings.Contains(err.Error(), "deployed") {
		t.Fatalf("unclear message: %v", err)
	}
}

func TestQuotaRateLimit(t *testing.T) {
	e := newEnv(t, Options{RequestsPerMinute: 5})
	get := func(p string) error {
		_, err := e.client.GetIssueModel(e.ctx, &contactcenterinsightspb.GetIssueModelRequest{Name: p + "/issueModels/1"}, noRetry)
		return err
	}
	for i := 0; i < 5; i++ {
		wantCode(t, get(parent), codes.NotFound)
	}
	err := get(parent)
	wantCode(t, err, codes.ResourceExhausted)
	if !strings.Contains(err.Error(), "per minute") {
		t.Fatalf("unclear message: %v", err)
	}
	var ae *apierror.APIError
	if !errors.As(err, &ae) || ae.Reason() != "RATE_LIMIT_EXCEEDED" || ae.Details().QuotaFailure == nil {
		t.Fatalf("rate-limit error details: %#v", ae)
	}
	// Per project: another project has its own budget.
	wantCode(t, get("projects/p2/locations/us-central1"), codes.NotFound)
	st := e.srv.Stats()
	if st.RPCs["GetIssueModel"] != 7 || st.RateLimited["GetIssueModel"] != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestRateLimitDisabled(t *testing.T) {
	e := newEnv(t, Options{RequestsPerMinute: Unlimited})
	for i := 0; i < 50; i++ {
		_, err := e.client.GetIssueModel(e.ctx, &contactcenterinsightspb.GetIssueModelRequest{Name: parent + "/issueModels/1"}, noRetry)
		wantCode(t, err, codes.NotFound)
	}
}

func TestFaultCodes(t *testing.T) {
	e := newEnv(t, Options{})
	for _, c := range []codes.Code{codes.Unavailable, codes.ResourceExhausted, codes.DeadlineExceeded, codes.PermissionDenied} {
		e.srv.SetFaults("CreateIssueModel", Fault{Code: c, Probability: 1})
		_, err := e.client.CreateIssueModel(e.ctx, createReq(parent, "m"), noRetry)
		wantCode(t, err, c)
	}
	if len(e.srv.Models(parent)) != 0 {
		t.Fatal("faulted create created a model")
	}
	// Other methods unaffected.
	_, err := e.client.ListIssueModels(e.ctx, &contactcenterinsightspb.ListIssueModelsRequest{Parent: parent}, noRetry)
	if err != nil {
		t.Fatal(err)
	}
	e.srv.SetFaults("CreateIssueModel") // clears
	e.create(t, parent, "m")

	e.srv.SetFaults("*", Fault{Code: codes.Unavailable, Probability: 1})
	_, err = e.client.ListIssueModels(e.ctx, &contactcenterinsightspb.ListIssueModelsRequest{Parent: parent}, noRetry)
	wantCode(t, err, codes.Unavailable)
	e.srv.ClearFaults()
	if _, err = e.client.ListIssueModels(e.ctx, &contactcenterinsightspb.ListIssueModelsRequest{Parent: parent}, noRetry); err != nil {
		t.Fatal(err)
	}

	// Probability 0 never fires.
	e.srv.SetFaults("ListIssueModels", Fault{Code: codes.Unavailable, Probability: 0})
	if _, err = e.client.ListIssueModels(e.ctx, &contactcenterinsightspb.ListIssueModelsRequest{Parent: parent}, noRetry); err != nil {
		t.Fatal(err)
	}
	st := e.srv.Stats()
	if st.Faults["CreateIssueModel"] != 4 || st.Faults["ListIssueModels"] != 1 || st.RPCs["CreateIssueModel"] != 5 {
		t.Fatalf("stats %+v", st)
	}
}

func TestFaultProbabilityHalf(t *testing.T) {
	e := newEnv(t, Options{Seed: 42})
	e.srv.SetFaults("ListIssueModels", Fault{Code: codes.Unavailable, Probability: 0.5})
	failed := 0
	for i := 0; i < 200; i++ {
		if _, err := e.client.ListIssueModels(e.ctx, &contactcenterinsightspb.ListIssueModelsRequest{Parent: parent}, noRetry); err != nil {
			wantCode(t, err, codes.Unavailable)
			failed++
		}
	}
	if failed < 60 || failed > 140 {
		t.Fatalf("%d/200 failed at p=0.5", failed)
	}
}

func TestClientRetriesUnavailable(t *testing.T) {
	// The real client retries UNAVAILABLE on its own (default call options):
	// with a 30% fault rate a plain Get almost always succeeds.
	e := newEnv(t, Options{Seed: 7})
	m := e.trained(t, parent, "m")
	e.srv.SetFaults("GetIssueModel", Fault{Code: codes.Unavailable, Probability: 0.3})
	for i := 0; i < 3; i++ {
		if _, err := e.client.GetIssueModel(e.ctx, &contactcenterinsightspb.GetIssueModelRequest{Name: m.GetName()}); err != nil {
			t.Fatalf("with client retries: %v", err)
		}
	}
}

func TestFaultLatency(t *testing.T) {
	e := newEnv(t, Options{})
	e.srv.SetFaults("ListIssueModels", Fault{Latency: 300 * time.Millisecond, Probability: 1})
	start := time.Now()
	if _, err := e.client.ListIssueModels(e.ctx, &contactcenterinsightspb.ListIssueModelsRequest{Parent: parent}, noRetry); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 300*time.Millisecond {
		t.Fatalf("took %v, want >= 300ms", el)
	}
	// Latency plus a short client deadline: DEADLINE_EXCEEDED seen by the client.
	ctx, cancel := contextWithTimeout(e, 50*time.Millisecond)
	defer cancel()
	_, err := e.client.ListIssueModels(ctx, &contactcenterinsightspb.ListIssueModelsRequest{Parent: parent}, noRetry)
	wantCode(t, err, codes.DeadlineExceeded)
	// Latency combined with an error fault: both apply.
	e.srv.SetFaults("ListIssueModels",
		Fault{Latency: 100 * time.Millisecond, Probability: 1},
		Fault{Code: codes.ResourceExhausted, Probability: 1})
	start = time.Now()
	_, err = e.client.ListIssueModels(e.ctx, &contactcenterinsightspb.ListIssueModelsRequest{Parent: parent}, noRetry)
	wantCode(t, err, codes.ResourceExhausted)
	if el := time.Since(start); el < 100*time.Millisecond {
		t.Fatalf("took %v, want >= 100ms", el)
	}
}

func TestFaultLostReplyAfterCommit(t *testing.T) {
	e := newEnv(t, Options{})
	e.srv.SetFaults("CreateIssueModel", Fault{LostReplyAfterCommit: true, Probability: 1})
	_, err := e.client.CreateIssueModel(e.ctx, createReq(parent, "lost"), noRetry)
	wantCode(t, err, codes.Unavailable)
	ms := e.srv.Models(parent)
	if len(ms) != 1 || ms[0].GetDisplayName() != "lost" {
		t.Fatalf("models after lost reply: %v", ms)
	}
	ops, err := e.listOps(t, parent, "", 0)
	if err != nil || len(ops) != 1 || ops[0].GetDone() {
		t.Fatalf("ops after lost reply: %v %v", ops, err)
	}
	// A naive retry runs into the concurrent-creation quota.
	e.srv.ClearFaults()
	_, err = e.client.CreateIssueModel(e.ctx, createReq(parent, "lost"), noRetry)
	wantCode(t, err, codes.ResourceExhausted)
	// The client can find its operation by listing and finish it.
	e.clock.Advance(2 * time.Minute)
	m, err := e.client.CreateIssueModelOperation(ops[0].GetName()).Wait(e.ctx)
	if err != nil || m.GetName() != ms[0].GetName() {
		t.Fatalf("resume lost op: %v %v", m, err)
	}
	if st := e.srv.Stats(); st.ModelsCreated[parent] != 1 || st.Faults["CreateIssueModel"] != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// errOf is the error of a call whose result the caller does not need.
func errOf[T any](_ T, err error) error { return err }

func TestBadNames(t *testing.T) {
	e := newEnv(t, Options{})
	c, ctx := e.client, e.ctx
	for _, tc := range []struct {
		name  string
		err   error // the call's, made as the table is built: none changes what the others see
		code  codes.Code
		field string
	}{
		{"create bad parent", errOf(c.CreateIssueModel(ctx, createReq("projects/p1", "m"), noRetry)), codes.InvalidArgument, "parent"},
		{"create no model", errOf(c.CreateIssueModel(ctx, &contactcenterinsightspb.CreateIssueModelRequest{Parent: parent}, noRetry)),
			codes.InvalidArgument, "issue_model"},
		{"create no display name", errOf(c.CreateIssueModel(ctx, createReq(parent, ""), noRetry)), codes.InvalidArgument, "issue_model.display_name"},
		{"get bad name", errOf(c.GetIssueModel(ctx, &contactcenterinsightspb.GetIssueModelRequest{Name: parent + "/models/1"}, noRetry)),
			codes.InvalidArgument, "name"},
		{"get unknown", errOf(c.GetIssueModel(ctx, &contactcenterinsightspb.GetIssueModelRequest{Name: parent + "/issueModels/1"}, noRetry)),
			codes.NotFound, ""},
		{"list bad parent", errOf(c.ListIssueModels(ctx, &contactcenterinsightspb.ListIssueModelsRequest{Parent: "p1"}, noRetry)), codes.InvalidArgument, "parent"},
		{"deploy bad name", errOf(c.DeployIssueModel(ctx, &contactcenterinsightspb.DeployIssueModelRequest{Name: "x"}, noRetry)), codes.InvalidArgument, "name"},
		{"undeploy unknown", errOf(c.UndeployIssueModel(ctx, &contactcenterinsightspb.UndeployIssueModelRequest{Name: parent + "/issueModels/9"}, noRetry)),
			codes.NotFound, ""},
		{"delete unknown", errOf(c.DeleteIssueModel(ctx, &contactcenterinsightspb.DeleteIssueModelRequest{Name: parent + "/issueModels/9"}, noRetry)),
			codes.NotFound, ""},
		{"get op bad name", errOf(c.GetOperation(ctx, &longrunningpb.GetOperationRequest{Name: "operations/1"}, noRetry)), codes.InvalidArgument, "name"},
		{"get op unknown", errOf(c.GetOperation(ctx, &longrunningpb.GetOperationRequest{Name: parent + "/operations/1"}, noRetry)), codes.NotFound, ""},
		{"cancel op bad name", c.CancelOperation(ctx, &longrunningpb.CancelOperationRequest{Name: "nope"}, noRetry), codes.InvalidArgument, "name"},
		{"cancel op unknown", c.CancelOperation(ctx, &longrunningpb.CancelOperationRequest{Name: parent + "/operations/1"}, noRetry), codes.NotFound, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.err
			wantCode(t, err, tc.code)
			if tc.field != "" && !strings.HasPrefix(status.Convert(err).Message(), tc.field+":") {
				t.Fatalf("message %q does not start with %q", status.Convert(err).Message(), tc.field+":")
			}
		})
	}
}

func TestTrainingFailure(t *testing.T) {
	e := newEnv(t, Options{TrainingOutcome: RandomTrainingFailure(1, 1)})
	op := e.create(t, parent, "m")
	if len(e.srv.Models(parent)) != 1 {
		t.Fatal("model should exist while training")
	}
	e.clock.Advance(2 * time.Minute)
	_, err := op.Wait(e.ctx)
	wantCode(t, err, codes.FailedPrecondition)
	if !strings.Contains(err.Error(), "too few conversations") {
		t.Fatalf("message: %v", err)
	}
	raw, ok := e.srv.Operation(op.Name())
	if !ok || !raw.GetDone() || raw.GetError().GetCode() != int32(codes.FailedPrecondition) || raw.GetResponse() != nil {
		t.Fatalf("failed op: %v", raw)
	}
	if len(e.srv.Models(parent)) != 0 {
		t.Fatal("model left after failed training")
	}
	// Custom outcome, decided per request.
	e.srv.SetTrainingOutcome(func(r *contactcenterinsightspb.CreateIssueModelRequest) *status.Status {
		if r.GetIssueModel().GetDisplayName() == "bad" {
			return status.New(codes.InvalidArgument, "bad filter")
		}
		return status.New(codes.OK, "")
	})
	op = e.create(t, parent, "bad")
	e.clock.Advance(2 * time.Minute)
	_, err = op.Poll(e.ctx, noRetry)
	wantCode(t, err, codes.InvalidArgument)
	op = e.create(t, parent, "good")
	e.clock.Advance(2 * time.Minute)
	if _, err = op.Poll(e.ctx, noRetry); err != nil {
		t.Fatal(err)
	}
	st := e.srv.Stats()
	if st.ModelsCreated[parent] != 3 || st.Operations["failed"] != 2 || st.Operations["succeeded"] != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// The issue model states the state machine test walks through.
const (
	UNDEPLOYED  = contactcenterinsightspb.IssueModel_UNDEPLOYED
	DEPLOYING   = contactcenterinsightspb.IssueModel_DEPLOYING
	DEPLOYED    = contactcenterinsightspb.IssueModel_DEPLOYED
	UNDEPLOYING = contactcenterinsightspb.IssueModel_UNDEPLOYING
	DELETING    = contactcenterinsightspb.IssueModel_DELETING
)

func TestStateMachine(t *testing.T) {
	e := newEnv(t, Options{})
	m := modelRequests{t: t, e: e}
	name := trainRefusingChanges(t, e, m)
	deployThroughDeploying(t, e, m, name)
	undeployThroughUndeploying(t, e, m, name)
	deleteThroughDeleting(t, e, m, name)
}

// modelRequests sends one change request on a model without retries.
type modelRequests struct {
	t *testing.T
	e *env
}

func (m modelRequests) deployReq(name string) error {
	return errOf(m.e.client.DeployIssueModel(m.e.ctx, &contactcenterinsightspb.DeployIssueModelRequest{Name: name}, noRetry))
}

func (m modelRequests) undeployReq(name string) error {
	return errOf(m.e.client.UndeployIssueModel(m.e.ctx, &contactcenterinsightspb.UndeployIssueModelRequest{Name: name}, noRetry))
}

func (m modelRequests) deleteReq(name string) error {
	return errOf(m.e.client.DeleteIssueModel(m.e.ctx, &contactcenterinsightspb.DeleteIssueModelRequest{Name: name}, noRetry))
}

// refused checks that each of these requests on name fails with FAILED_PRECONDITION.
func (m modelRequests) refused(name string, reqs ...func(string) error) {
	m.t.Helper()
	for _, req := range reqs {
		wantCode(m.t, req(name), codes.FailedPrecondition)
	}
}

// trainRefusingChanges trains a model, checking every change is refused meanwhile, and returns its name.
func trainRefusingChanges(t *testing.T, e *env, m modelRequests) string {
	t.Helper()
	// While training, every change is refused.
	cop := e.create(t, parent, "m")
	md, _ := cop.Metadata()
	_ = md
	name := e.srv.Models(parent)[0].GetName()
	m.refused(name, m.deployReq, m.undeployReq, m.deleteReq)
	e.clock.Advance(2 * time.Minute)
	if _, err := cop.Wait(e.ctx); err != nil {
		t.Fatal(err)
	}

	return name
}

// deployThroughDeploying deploys the trained model: UNDEPLOYED -> DEPLOYING -> DEPLOYED.
func deployThroughDeploying(t *testing.T, e *env, m modelRequests, name string) {
	t.Helper()
	// UNDEPLOYED: undeploy refused.
	wantCode(t, m.undeployReq(name), codes.FailedPrecondition)

	// Deploy: UNDEPLOYED -> DEPLOYING -> DEPLOYED.
	dop, err := e.client.DeployIssueModel(e.ctx, &contactcenterinsightspb.DeployIssueModelRequest{Name: name}, noRetry)
	if err != nil {
		t.Fatal(err)
	}
	e.wantState(t, name, DEPLOYING)
	m.refused(name, m.deployReq, m.undeployReq, m.deleteReq)
	e.clock.Advance(DefaultDeployTime)
	resp, err := dop.Wait(e.ctx)
	if err != nil || resp == nil {
		t.Fatalf("deploy wait: %v %v", resp, err)
	}
	dmd, err := dop.Metadata()
	if err != nil || dmd.GetRequest().GetName() != name || dmd.GetEndTime() == nil {
		t.Fatalf("deploy metadata %v %v", dmd, err)
	}
	e.wantState(t, name, DEPLOYED)
	m.refused(name, m.deployReq, m.deleteReq)
}

// undeployThroughUndeploying undeploys the model: DEPLOYED -> UNDEPLOYING -> UNDEPLOYED.
func undeployThroughUndeploying(t *testing.T, e *env, m modelRequests, name string) {
	t.Helper()
	// Undeploy: DEPLOYED -> UNDEPLOYING -> UNDEPLOYED.
	uop, err := e.client.UndeployIssueModel(e.ctx, &contactcenterinsightspb.UndeployIssueModelRequest{Name: name}, noRetry)
	if err != nil {
		t.Fatal(err)
	}
	e.wantState(t, name, UNDEPLOYING)
	m.refused(name, m.deleteReq, m.undeployReq)
	e.clock.Advance(DefaultUndeployTime)
	if _, err := uop.Wait(e.ctx); err != nil {
		t.Fatal(err)
	}
	e.wantState(t, name, UNDEPLOYED)
}

// deleteThroughDeleting deletes the model (UNDEPLOYED -> DELETING -> gone) and checks the stats.
func deleteThroughDeleting(t *testing.T, e *env, m modelRequests, name string) {
	t.Helper()
	// Delete: UNDEPLOYED -> DELETING -> gone.
	delop, err := e.client.DeleteIssueModel(e.ctx, &contactcenterinsightspb.DeleteIssueModelRequest{Name: name}, noRetry)
	if err != nil {
		t.Fatal(err)
	}
	e.wantState(t, name, DELETING)
	m.refused(name, m.deleteReq, m.deployReq)
	e.clock.Advance(DefaultDeleteTime)
	if err := delop.Wait(e.ctx); err != nil {
		t.Fatal(err)
	}
	_, err = e.client.GetIssueModel(e.ctx, &contactcenterinsightspb.GetIssueModelRequest{Name: name}, noRetry)
	wantCode(t, err, codes.NotFound)
	lst, err := e.client.ListIssueModels(e.ctx, &contactcenterinsightspb.ListIssueModelsRequest{Parent: parent}, noRetry)
	if err != nil || len(lst.GetIssueModels()) != 0 {
		t.Fatalf("list after delete: %v %v", lst, err)
	}
	if st := e.srv.Stats(); st.ModelsCreated[parent] != 1 || st.Operations["succeeded"] != 4 {
		t.Fatalf("stats %+v", st)
	}
}

func TestVisibilityDelayAndTTL(t *testing.T) {
	e := newEnv(t, Options{OperationVisibilityDelay: 5 * time.Second, OperationTTL: time.Hour})
	op := e.create(t, parent, "m")
	_, err := op.Poll(e.ctx, noRetry)
	wantCode(t, err, codes.NotFound)
	if ops, _ := e.listOps(t, parent, "", 0); len(ops) != 0 {
		t.Fatalf("young op listed: %v", ops)
	}
	if _, ok := e.srv.Operation(op.Name()); !ok {
		t.Fatal("Server.Operation should bypass the visibility delay")
	}
	e.clock.Advance(5 * time.Second)
	if _, err := op.Poll(e.ctx, noRetry); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * time.Minute)
	if _, err := op.Poll(e.ctx, noRetry); err != nil || !op.Done() {
		t.Fatalf("done: %v", err)
	}
	// Done ops vanish after the TTL; the model stays.
	e.clock.Advance(time.Hour)
	_, err = e.client.GetOperation(e.ctx, &longrunningpb.GetOperationRequest{Name: op.Name()}, noRetry)
	wantCode(t, err, codes.NotFound)
	if ops, _ := e.listOps(t, parent, "", 0); len(ops) != 0 {
		t.Fatalf("expired op listed: %v", ops)
	}
	if len(e.srv.Models(parent)) != 1 {
		t.Fatal("model should outlive its operation")
	}

	// ExpireOperation: a running op vanishes but its work still happens.
	op2 := e.create(t, parent, "m2")
	e.srv.ExpireOperation(op2.Name())
	if _, ok := e.srv.Operation(op2.Name()); ok {
		t.Fatal("expired op still visible")
	}
	e.clock.Advance(time.Minute)
	_, err = e.client.CreateIssueModelOperation(op2.Name()).Poll(e.ctx, noRetry)
	wantCode(t, err, codes.NotFound)
	e.clock.Advance(2 * time.Minute)
	ms := e.srv.Models(parent)
	if len(ms) != 2 || ms[1].GetTrainingStats() == nil {
		t.Fatalf("models: %v", ms)
	}
}

func TestLostReplyWithClientRetries(t *testing.T) {
	// With default call options the client retries the UNAVAILABLE itself;
	// the retry is a second creation and runs into the concurrency quota.
	e := newEnv(t, Options{})
	e.srv.SetFaults("CreateIssueModel", Fault{LostReplyAfterCommit: true, Probability: 1})
	_, err := e.client.CreateIssueModel(e.ctx, createReq(parent, "m"))
	wantCode(t, err, codes.ResourceExhausted)
	st := e.srv.Stats()
	if st.RPCs["CreateIssueModel"] != 2 || st.ModelsCreated[parent] != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestFaultTimesAndReason: a fault with Times fires that many times and then stays quiet, and
// SERVICE_DISABLED answers as Google does for an API the project has not enabled.
func TestFaultTimesAndReason(t *testing.T) {
	e := newEnv(t, Options{})
	e.srv.SetFaults("ListIssueModels", Fault{Code: codes.ResourceExhausted, Probability: 1, Times: 1})
	_, err := e.client.ListIssueModels(e.ctx, &contactcenterinsightspb.ListIssueModelsRequest{Parent: parent})
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("first list: %v, want RESOURCE_EXHAUSTED", err)
	}
	if _, err := e.client.ListIssueModels(e.ctx, &contactcenterinsightspb.ListIssueModelsRequest{Parent: parent}); err != nil {
		t.Fatalf("second list: %v, want the fault spent", err)
	}
	e.srv.SetFaults("*", Fault{Code: codes.PermissionDenied, Probability: 1, Reason: ReasonServiceDisabled})
	_, err = e.client.ListIssueModels(e.ctx, &contactcenterinsightspb.ListIssueModelsRequest{Parent: parent})
	st := status.Convert(err)
	if st.Code() != codes.PermissionDenied {
		t.Fatalf("list with the API disabled: %v", err)
	}
	var reason string
	for _, d := range st.Details() {
		if ei, ok := d.(*errdetails.ErrorInfo); ok {
			reason = ei.GetReason()
		}
	}
	if reason != ReasonServiceDisabled || !strings.Contains(st.Message(), "has not been used in project") {
		t.Fatalf("reason %q, message %q", reason, st.Message())
	}
}
