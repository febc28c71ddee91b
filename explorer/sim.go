package explorer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	contactcenterinsights "cloud.google.com/go/contactcenterinsights/apiv1"
	"cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/issuemodels/durable-lro/activities"
	"github.com/issuemodels/durable-lro/insights"
	"github.com/issuemodels/durable-lro/insightstest"
	"github.com/issuemodels/durable-lro/workflows"
)

const (
	parent      = "projects/explorer/locations/us-central1"
	displayName = "explored"
	workflowID  = "explored-run"
	harnessKey  = "x-explorer-harness"
)

// base is when every run starts (workflow and emulator time).
var base = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

// simClock is the emulator's clock: the test environment's mocked clock while a run executes,
// a fixed time in between.
type simClock struct {
	mu     sync.Mutex
	env    *testsuite.TestWorkflowEnvironment
	frozen time.Time
}

func (c *simClock) Now() time.Time {
	c.mu.Lock()
	env, t := c.env, c.frozen
	c.mu.Unlock()
	if env != nil {
		return env.Now()
	}
	return t
}

func (c *simClock) follow(env *testsuite.TestWorkflowEnvironment) {
	c.mu.Lock()
	c.env = env
	c.mu.Unlock()
}

func (c *simClock) freeze(t time.Time) {
	c.mu.Lock()
	c.env, c.frozen = nil, t
	c.mu.Unlock()
}

// rpc is one call the runs made, as the emulator saw it.
type rpc struct {
	At     time.Time
	Method string
	Name   string // the operation, model or parent the call is about
	// Served: the emulator's handler ran (the call took effect, or was refused by the API
	// itself); Code is its answer. Injected: the fault the run saw instead, if any.
	Served   bool
	Code     codes.Code
	Injected string
	Op       string // CreateIssueModel: the operation created
	Display  string // CreateIssueModel: the display name
}

// run is one schedule being executed.
type run struct {
	s       Schedule
	clock   *simClock
	srv     *insightstest.Server
	harness *grpc.ClientConn
	ops     longrunningpb.OperationsClient
	cci     contactcenterinsightspb.ContactCenterInsightsClient

	mu      sync.Mutex
	rpcN    map[string]int
	actN    map[string]int
	rpcs    []rpc
	created []rpc // our CreateIssueModel calls that created an operation
	// cancels: when a cancel was requested of the run (signal or Temporal cancel).
	cancels  []time.Time
	vanished map[string]time.Time
	// ambiguous: when create attempts failed in a way that may have committed; diedAfter:
	// when workers died after a create call.
	ambiguous, diedAfter []time.Time
	extCancel            map[string]bool

	env      *testsuite.TestWorkflowEnvironment
	start    time.Time
	end      time.Time
	canCount int
	// outcome of the top-level run
	err            error
	createRes      *workflows.CreateIssueModelResult
	lifeRes        *workflows.LifecycleResult
	childRes       map[string]childResult // lifecycle children by workflow ID
	deployedBefore []string
	preparing      bool // creating the lifecycle's models before the run
	trace          []string
}

type childResult struct {
	res *workflows.CreateIssueModelResult
	err error
}

var tsuite testsuite.WorkflowTestSuite

func init() { tsuite.SetLogger(nopLogger{}) }

// Run executes the schedule and returns the violated invariants (none when it holds) and a
// trace of what happened.
func Run(s Schedule) (violations []Violation, trace []string, err error) {
	r := &run{s: s, clock: &simClock{frozen: base.Add(-24 * time.Hour)}, rpcN: map[string]int{}, actN: map[string]int{},
		vanished: map[string]time.Time{}, extCancel: map[string]bool{}, childRes: map[string]childResult{}}
	holds := map[string]time.Duration{}
	for i, e := range s.Events {
		if e.Kind == SlotTaken {
			holds[fmt.Sprintf("other-%d", i)] = e.Hold
		}
	}
	mode, err := insightstest.ParseCancelMode(s.CancelMode)
	if err != nil {
		return nil, nil, err
	}
	r.srv, err = insightstest.NewServer(insightstest.Options{
		Clock: r.clock,
		TrainingTimeFor: func(req *contactcenterinsightspb.CreateIssueModelRequest) time.Duration {
			name := req.GetIssueModel().GetDisplayName()
			if r.preparing {
				return time.Minute
			}
			if name == displayName {
				return s.TrainingTime
			}
			if d, ok := holds[name]; ok {
				return d
			}
			return time.Minute
		},
		TrainingOutcome: func(req *contactcenterinsightspb.CreateIssueModelRequest) *status.Status {
			if s.TrainingFails && !r.preparing && req.GetIssueModel().GetDisplayName() == displayName {
				return status.New(codes.FailedPrecondition, insightstest.TooFewConversations)
			}
			return nil
		},
		CancelMode:               mode,
		RequestsPerMinute:        insightstest.Unlimited,
		OperationVisibilityDelay: s.VisibilityDelay,
		OperationTTL:             s.OperationTTL,
		Interceptors:             []grpc.UnaryServerInterceptor{r.intercept},
		Seed:                     1,
	})
	if err != nil {
		return nil, nil, err
	}
	defer r.srv.Close()
	ctx := context.Background()
	c, err := contactcenterinsights.NewClient(ctx, r.srv.ClientOptions()...)
	if err != nil {
		return nil, nil, err
	}
	defer func() { _ = c.Close() }()
	r.harness, err = grpc.NewClient(r.srv.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, nil, err
	}
	defer func() { _ = r.harness.Close() }()
	r.ops = longrunningpb.NewOperationsClient(r.harness)
	r.cci = contactcenterinsightspb.NewContactCenterInsightsClient(r.harness)
	if err := r.prepare(); err != nil {
		return nil, nil, err
	}
	acts := &activities.Activities{Client: c}
	if err := r.execute(acts); err != nil {
		return nil, r.trace, err
	}
	r.clock.freeze(r.end)
	return r.check(), r.trace, nil
}

func (r *run) logf(format string, args ...any) {
	at := ""
	if r.env != nil {
		at = r.env.Now().Sub(base).String()
	}
	r.mu.Lock()
	r.trace = append(r.trace, fmt.Sprintf("%8s %s", at, fmt.Sprintf(format, args...)))
	r.mu.Unlock()
}

func harnessCtx() context.Context {
	return metadata.AppendToOutgoingContext(context.Background(), harnessKey, "1")
}

// prepare creates the lifecycle's deployed models, a day before the run.
func (r *run) prepare() error {
	if r.s.Workflow != Lifecycle {
		return nil
	}
	ctx := harnessCtx()
	t := base.Add(-24 * time.Hour)
	r.preparing = true
	defer func() { r.preparing = false }()
	deploy := func(name string) error {
		op, err := r.cci.CreateIssueModel(ctx, &contactcenterinsightspb.CreateIssueModelRequest{Parent: parent, IssueModel: issueModelProto(name)})
		if err != nil {
			return err
		}
		t = t.Add(2 * time.Minute)
		r.clock.freeze(t)
		got, ok := r.srv.Operation(op.GetName())
		if !ok {
			return fmt.Errorf("explorer: preparing: operation %s not found", op.GetName())
		}
		m := &contactcenterinsightspb.IssueModel{}
		if err := got.GetResponse().UnmarshalTo(m); err != nil {
			return err
		}
		if _, err := r.cci.DeployIssueModel(ctx, &contactcenterinsightspb.DeployIssueModelRequest{Name: m.GetName()}); err != nil {
			return err
		}
		t = t.Add(2 * time.Minute)
		r.clock.freeze(t)
		r.deployedBefore = append(r.deployedBefore, m.GetName())
		return nil
	}
	for i := 0; i < r.s.Replaced; i++ {
		if err := deploy(displayName); err != nil {
			return err
		}
	}
	for i := 0; i < r.s.OtherDeployed; i++ {
		if err := deploy(fmt.Sprintf("other-deployed-%d", i)); err != nil {
			return err
		}
	}
	return nil
}

func issueModelProto(name string) *contactcenterinsightspb.IssueModel {
	return &contactcenterinsightspb.IssueModel{DisplayName: name, InputDataConfig: &contactcenterinsightspb.IssueModel_InputDataConfig{
		Filter: `medium="CHAT"`}}
}

func (r *run) spec() insights.IssueModelSpec {
	return insights.IssueModelSpec{DisplayName: displayName, InputDataConfig: insights.InputDataConfig{Medium: "CHAT", Filter: `medium="CHAT"`}}
}

func (r *run) policy() *workflows.PollingPolicy {
	jitter := 0.0 // keeps the workflows' timers on a grid the events avoid (see fireAt)
	p := &workflows.PollingPolicy{Timeout: r.s.Timeout.String(), ContinueAsNewAfterPolls: r.s.ContinueAsNewAfterPolls, Jitter: &jitter}
	if r.s.MaxInterval != 0 {
		p.MaxInterval = r.s.MaxInterval.String()
	}
	if r.s.NotFoundGrace != 0 {
		p.NotFoundGrace = r.s.NotFoundGrace.String()
	}
	return p
}

// bound is how long a run may take (docs/RELIABILITY.md): the create loop's deadline (the
// policy timeout), the poll loop's (the timeout again), then the outcome awaited after the
// timeout's cancel for min(timeout, 1h) (README, "The end of a run waits for the operation's
// outcome"), plus 15 minutes for activity retries and a deletion; a lifecycle, five such steps
// and an hour.
func (r *run) bound() time.Duration {
	step := r.s.Timeout + min(r.s.Timeout, time.Hour)
	if r.s.Workflow == Lifecycle {
		return 5*step + time.Hour
	}
	return r.s.Timeout + step + 15*time.Minute
}

// execute runs the workflow to its end, restarting it in a fresh environment at each
// continue-as-new with the API's state carried over.
func (r *run) execute(acts *activities.Activities) error {
	r.start = base
	wfType, input := r.workflowAndInput()
	cap := r.bound() + 24*time.Hour
	terminateAt := r.terminateAt()
	now := base
	for {
		elapsed := now.Sub(base)
		runTimeout := cap - elapsed
		if terminateAt > 0 && terminateAt-elapsed < runTimeout {
			runTimeout = terminateAt - elapsed
		}
		env := r.newEnv(acts, now, runTimeout)
		r.clock.follow(env)
		env.ExecuteWorkflow(wfType, input)
		now = env.Now()
		r.clock.freeze(now)
		if !env.IsWorkflowCompleted() {
			return errors.New("explorer: the workflow did not complete")
		}
		err := env.GetWorkflowError()
		var can *workflow.ContinueAsNewError
		if errors.As(err, &can) {
			r.canCount++
			var next workflows.CreateIssueModelInput
			if derr := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); derr != nil {
				return fmt.Errorf("explorer: decoding the continue-as-new input: %w", derr)
			}
			r.logf("continued as new (%d)", r.canCount)
			input = next
			continue
		}
		r.end = now
		r.err = err
		r.recordResult(env, err)
		return nil
	}
}

// workflowAndInput is the workflow type the schedule runs and its first input.
func (r *run) workflowAndInput() (string, any) {
	if r.s.Workflow == Lifecycle {
		return workflows.IssueModelLifecycleWorkflowType, workflows.LifecycleInput{Parent: parent, IssueModel: r.spec(), Polling: r.policy()}
	}
	return workflows.CreateIssueModelWorkflowType, workflows.CreateIssueModelInput{Parent: parent, IssueModel: r.spec(), Polling: r.policy(), DeleteModelIfCancelFails: r.s.DeleteModelIfCancelFails}
}

// terminateAt is when the first TerminateParent event fires (0: none).
func (r *run) terminateAt() time.Duration {
	terminateAt := time.Duration(0)
	for i, e := range r.s.Events {
		if e.Kind == TerminateParent && (terminateAt == 0 || fireAt(i, e) < terminateAt) {
			terminateAt = fireAt(i, e)
		}
	}
	return terminateAt
}

// newEnv is a fresh test environment for the run's next execution, starting at now, with the
// schedule's events still to come registered.
func (r *run) newEnv(acts *activities.Activities, now time.Time, runTimeout time.Duration) *testsuite.TestWorkflowEnvironment {
	env := tsuite.NewTestWorkflowEnvironment()
	r.env = env
	env.SetStartTime(now)
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: workflowID, TaskQueue: workflows.DefaultTaskQueue})
	env.SetWorkerOptions(worker.Options{Interceptors: []interceptor.WorkerInterceptor{&dieInterceptor{r: r}}})
	env.SetTestTimeout(30 * time.Second)
	workflows.RegisterWorkflows(env)
	env.RegisterActivity(acts)
	elapsed := now.Sub(base)
	env.SetWorkflowRunTimeout(runTimeout)
	if r.canCount > 0 {
		// As the server marks a continued run; the workflows tell their own continuation
		// from a person's by it.
		env.SetContinuedExecutionRunID(fmt.Sprintf("explored-run-%d", r.canCount))
	}
	env.SetOnChildWorkflowCompletedListener(r.childCompleted)
	for i, e := range r.s.Events {
		if at := fireAt(i, e); at > elapsed && e.Kind != TerminateParent {
			env.RegisterDelayedCallback(func() { r.fire(env, i, e) }, at-elapsed)
		}
	}
	return env
}

// recordResult keeps the ended run's result (or the details of its cancellation) and logs it.
func (r *run) recordResult(env *testsuite.TestWorkflowEnvironment, err error) {
	var canceled *temporal.CanceledError
	switch {
	case err == nil:
		r.decodeResult(func(v any) error { return env.GetWorkflowResult(v) })
	case errors.As(err, &canceled) && canceled.HasDetails():
		r.decodeResult(func(v any) error { return canceled.Details(v) })
	}
	switch {
	case r.createRes != nil:
		r.logf("ended: outcome %s, operation %q, cancelReason %q (err %v)", r.createRes.Outcome, r.createRes.Operation, r.createRes.CancelReason, err)
	case r.lifeRes != nil:
		r.logf("ended: lifecycle %s, model %q state %s (err %v)", r.lifeRes.Outcome, r.lifeRes.Model, r.lifeRes.State, err)
	default:
		r.logf("ended: %v", err)
	}
}

// decodeResult decodes the run's result (a completed run's, or a cancelled one's details) into
// the result of its workflow type.
func (r *run) decodeResult(decode func(any) error) {
	if r.s.Workflow == Lifecycle {
		r.lifeRes = &workflows.LifecycleResult{}
		_ = decode(r.lifeRes)
		return
	}
	r.createRes = &workflows.CreateIssueModelResult{}
	_ = decode(r.createRes)
}

func (r *run) childCompleted(info *workflow.Info, result converter.EncodedValue, err error) {
	if info.WorkflowType.Name != workflows.CreateIssueModelWorkflowType {
		return
	}
	cr := childResult{err: err}
	if err == nil && result != nil {
		cr.res = &workflows.CreateIssueModelResult{}
		_ = result.Get(cr.res)
	} else {
		var canceled *temporal.CanceledError
		if errors.As(err, &canceled) && canceled.HasDetails() {
			cr.res = &workflows.CreateIssueModelResult{}
			_ = canceled.Details(cr.res)
		}
	}
	var can *workflow.ContinueAsNewError
	if errors.As(err, &can) {
		return
	}
	r.mu.Lock()
	r.childRes[info.WorkflowExecution.ID] = cr
	r.mu.Unlock()
}

// fire makes event i happen (in the environment's main loop).
func (r *run) fire(env *testsuite.TestWorkflowEnvironment, i int, e Event) {
	ctx := harnessCtx()
	switch e.Kind {
	case CancelSignal, TemporalCancel:
		if env.IsWorkflowCompleted() {
			// A terminated lifecycle whose children still wind down: nothing to cancel.
			r.logf("event %s: the run has ended", e.Kind)
			return
		}
		r.cancelRequested()
		if e.Kind == CancelSignal {
			env.SignalWorkflow(workflows.CancelSignal, workflows.CancelRequest{Reason: "explorer"})
		} else {
			env.CancelWorkflow()
		}
	case PollNow:
		env.SignalWorkflow(workflows.PollNowSignal, nil)
	case SlotTaken:
		_, err := r.cci.CreateIssueModel(ctx, &contactcenterinsightspb.CreateIssueModelRequest{Parent: parent, IssueModel: issueModelProto(fmt.Sprintf("other-%d", i))})
		r.logf("event %s: another creator: %v", e.Kind, status.Code(err))
		return
	case Vanish, ExternalCancel:
		op := r.latestOp()
		if op == "" {
			r.logf("event %s: no operation yet", e.Kind)
			return
		}
		if e.Kind == Vanish {
			r.srv.ExpireOperation(op)
			r.mu.Lock()
			r.vanished[op] = env.Now()
			r.mu.Unlock()
		} else {
			_, err := r.ops.CancelOperation(ctx, &longrunningpb.CancelOperationRequest{Name: op})
			r.mu.Lock()
			r.extCancel[op] = true
			r.mu.Unlock()
			r.logf("event %s %s: %v", e.Kind, op, status.Code(err))
			return
		}
	}
	r.logf("event %s", e.Kind)
}

func (r *run) cancelRequested() {
	r.mu.Lock()
	r.cancels = append(r.cancels, r.env.Now())
	r.mu.Unlock()
}

func (r *run) latestOp() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.created) == 0 {
		return ""
	}
	return r.created[len(r.created)-1].Op
}

// intercept records every call of the runs and applies the schedule's RPC faults.
func (r *run) intercept(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if md, ok := metadata.FromIncomingContext(ctx); ok && len(md.Get(harnessKey)) > 0 {
		return handler(ctx, req)
	}
	method := info.FullMethod[strings.LastIndexByte(info.FullMethod, '/')+1:]
	r.mu.Lock()
	r.rpcN[method]++
	n := r.rpcN[method]
	r.mu.Unlock()
	call := rpc{At: r.clock.Now(), Method: method}
	switch q := req.(type) {
	case interface{ GetName() string }:
		call.Name = q.GetName()
	case interface{ GetParent() string }:
		call.Name = q.GetParent()
	}
	var fault *Fault
	for i, f := range r.s.Faults {
		if f.Call == method && f.N == n && (f.Kind == Refuse || f.Kind == LostReply) {
			fault = &r.s.Faults[i]
			break
		}
	}
	var resp any
	var err error
	if fault != nil && fault.Kind == Refuse {
		call.Injected = fault.Code.String()
		err = status.Errorf(fault.Code, "explorer: injected %s", fault.Code)
	} else {
		resp, err = handler(ctx, req)
		call.Served, call.Code = true, status.Code(err)
		if q, ok := req.(*contactcenterinsightspb.CreateIssueModelRequest); ok && err == nil {
			call.Op, call.Display = resp.(*longrunningpb.Operation).GetName(), q.GetIssueModel().GetDisplayName()
		}
		if fault != nil && err == nil {
			call.Injected = "lost reply: " + fault.Code.String()
			resp, err = nil, status.Errorf(fault.Code, "explorer: reply lost after commit")
		}
	}
	r.mu.Lock()
	if method == "CreateIssueModel" && (call.Injected != "" && (fault.Kind == LostReply || isAmbiguous(fault.Code))) {
		r.ambiguous = append(r.ambiguous, call.At)
	}
	r.rpcs = append(r.rpcs, call)
	if call.Op != "" && call.Display == displayName {
		r.created = append(r.created, call)
	}
	r.mu.Unlock()
	r.logf("rpc %s#%d %s served=%v code=%s injected=%q op=%s", method, n, call.Name, call.Served, call.Code, call.Injected, call.Op)
	return resp, err
}

// dieInterceptor kills the worker mid-call where the schedule says: the activity fails with
// a start-to-close timeout, before or after the real call.
type dieInterceptor struct {
	interceptor.WorkerInterceptorBase
	r *run
}

func (d *dieInterceptor) InterceptActivity(ctx context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	i := &dieInbound{r: d.r}
	i.Next = next
	return i
}

type dieInbound struct {
	interceptor.ActivityInboundInterceptorBase
	r *run
}

func (i *dieInbound) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (any, error) {
	name := activity.GetInfo(ctx).ActivityType.Name
	r := i.r
	r.mu.Lock()
	r.actN[name]++
	n := r.actN[name]
	r.mu.Unlock()
	var kind FaultKind
	for _, f := range r.s.Faults {
		if f.Call == name && f.N == n && (f.Kind == DieBefore || f.Kind == DieAfter) {
			kind = f.Kind
			break
		}
	}
	timeout := temporal.NewTimeoutError(enumspb.TIMEOUT_TYPE_START_TO_CLOSE, nil)
	if kind != "" && name == "CreateIssueModel" {
		r.mu.Lock()
		r.ambiguous = append(r.ambiguous, r.clock.Now())
		if kind == DieAfter {
			r.diedAfter = append(r.diedAfter, r.clock.Now())
		}
		r.mu.Unlock()
	}
	switch kind {
	case DieBefore:
		r.logf("activity %s#%d: worker died before the call", name, n)
		return nil, timeout
	case DieAfter:
		_, err := i.Next.ExecuteActivity(ctx, in)
		r.logf("activity %s#%d: worker died after the call (%v)", name, n, err)
		return nil, timeout
	}
	return i.Next.ExecuteActivity(ctx, in)
}

// isAmbiguous: a refusal with this code may, for all the caller knows, have committed.
func isAmbiguous(c codes.Code) bool {
	return c == codes.Unavailable || c == codes.DeadlineExceeded || c == codes.Internal || c == codes.Aborted || c == codes.Unknown
}

type nopLogger struct{}

func (nopLogger) Debug(string, ...any) {}
func (nopLogger) Info(string, ...any)  {}
func (nopLogger) Warn(string, ...any)  {}
func (nopLogger) Error(string, ...any) {}
