// Package insightstest is a local emulator of the Contact Center Insights
// issue-model API and its google.longrunning Operations service, for tests,
// in the manner of pstest.
//
// NewServer serves real gRPC on a real listener, so the real client
// (cloud.google.com/go/contactcenterinsights/apiv1) talks to it through
// Server.ClientOptions. Operation progress is computed lazily from a Clock:
// an operation is done as soon as Clock.Now() reaches its end time, checked
// on every read, so a FakeClock.Advance finishes long operations at once and
// idle operations cost nothing. Quotas, injected faults and a cancel mode
// let tests reproduce the service's failures.
//
// Where it differs from the real service (README.md has the details):
//
//   - Only CreateIssueModel, GetIssueModel, ListIssueModels,
//     DeployIssueModel, UndeployIssueModel, DeleteIssueModel,
//     ExportIssueModel, ImportIssueModel, IngestConversations (from the
//     emulator's own fake Cloud Storage), BulkAnalyzeConversations,
//     ListConversations and the operations' Get, List and Cancel are served,
//     over gRPC only (no REST); everything else answers UNIMPLEMENTED.
//   - Nothing is trained: the training time comes from Options, the filter is
//     not parsed and the statistics are synthetic, deterministic per filter.
//     A model is visible, UNDEPLOYED and without statistics while it trains
//     (the real service does not document this).
//   - There is no authentication or IAM. A client that addresses one of
//     Google's Insights endpoints (its :authority) is refused resources of
//     the locations that endpoint does not serve, with WrongEndpointCode (an
//     assumption); a bare host:port is served every location. Quotas count
//     per project+location, and their errors only imitate Google's.
//   - Durations and timestamps are on the emulator's Clock; only the rate
//     limit and injected latency use real time.
//   - ListOperations filters only on done; an honoured cancel is immediate.
//   - State is in memory only.
package insightstest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	contactcenterinsightspb "cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	longrunningpb "cloud.google.com/go/longrunning/autogen/longrunningpb"
	"go.uber.org/zap"
	"golang.org/x/time/rate"
	"google.golang.org/api/option"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// Defaults applied by NewServer to zero-valued Options fields.
const (
	DefaultAddr                 = "127.0.0.1:0"
	DefaultTrainingTime         = 2 * time.Minute
	DefaultDeployTime           = 30 * time.Second
	DefaultUndeployTime         = 30 * time.Second
	DefaultDeleteTime           = 10 * time.Second
	DefaultRequestsPerMinute    = 3000
	DefaultMaxConcurrentCreates = 1
	DefaultMaxModels            = 10
	DefaultMaxDeployed          = 5
	DefaultIngestTime           = time.Minute
	DefaultAnalyzeTime          = 2 * time.Minute
	DefaultExportTime           = 10 * time.Second
	DefaultImportTime           = 30 * time.Second
	// DefaultMinTrainingConversations is how many analyzed conversations
	// matching its filter a training needs, where the location has
	// conversations (Google documents 1,000 for topic models).
	DefaultMinTrainingConversations = 1000
)

// Unlimited is a quota or rate limit that is never reached: set it in
// Options.RequestsPerMinute, MaxConcurrentCreates, MaxModels or MaxDeployed
// to lift that limit.
const Unlimited = math.MaxInt

// Instant is an Options.DeployTime, UndeployTime or DeleteTime for an
// operation that is done at the first read after it starts.
const Instant time.Duration = -1

// CancelMode selects how CancelOperation behaves.
type CancelMode string

const (
	// CancelHonor cancels a running operation: it ends done with error
	// code 1 (CANCELLED) and its effect is undone (no model is left after a
	// cancelled creation; a cancelled deploy/undeploy/delete reverts the
	// model's state).
	CancelHonor CancelMode = "honor"
	// CancelUnimplemented makes CancelOperation answer UNIMPLEMENTED.
	CancelUnimplemented CancelMode = "unimplemented"
	// CancelIgnore makes CancelOperation answer OK but the operation runs
	// to completion anyway (the API only promises best effort).
	CancelIgnore CancelMode = "ignore"
)

// ParseCancelMode parses "honor", "unimplemented" or "ignore" (case
// insensitive; "" means honor).
func ParseCancelMode(s string) (CancelMode, error) {
	switch CancelMode(strings.ToLower(strings.TrimSpace(s))) {
	case "", CancelHonor:
		return CancelHonor, nil
	case CancelUnimplemented:
		return CancelUnimplemented, nil
	case CancelIgnore:
		return CancelIgnore, nil
	}
	return "", fmt.Errorf("insightstest: unknown cancel mode %q (want honor, unimplemented or ignore)", s)
}

// Options configures a Server. Zero values select the documented defaults.
// Durations other than Fault.Latency are emulator-clock durations.
type Options struct {
	// Addr is the listen address; default "127.0.0.1:0" (loopback only).
	Addr string
	// Clock drives operation progress; default RealClock(1).
	Clock Clock
	// TrainingTime returns how long one CreateIssueModel takes (emulator
	// time). It is called once per creation with the server lock held, so
	// it need not be safe for concurrent use but must not call Server
	// methods. Default: fixed 2m.
	TrainingTime func() time.Duration
	// TrainingTimeFor, when set, is used instead of TrainingTime and gets
	// the request, so each creation can have its own training time (keyed
	// by display name, say), as TrainingOutcome decides each one's outcome.
	// Same rules as TrainingTime.
	TrainingTimeFor func(req *contactcenterinsightspb.CreateIssueModelRequest) time.Duration
	// DeployTime, UndeployTime, DeleteTime: default 30s, 30s, 10s; Instant
	// for an operation that is done at once.
	DeployTime, UndeployTime, DeleteTime time.Duration
	// TrainingOutcome decides, when the CreateIssueModel request is
	// accepted, how the training will end: nil or an OK status means
	// success; anything else makes the operation finish done with that
	// error (and the model disappears). Called with the server lock held;
	// must not call Server methods.
	TrainingOutcome func(req *contactcenterinsightspb.CreateIssueModelRequest) *status.Status
	// CancelMode: CancelHonor (default), CancelUnimplemented, CancelIgnore.
	CancelMode CancelMode
	// RequestsPerMinute is the per-project request rate limit (token
	// bucket over real time, burst = one minute's worth); default 3000,
	// Unlimited for none.
	RequestsPerMinute int
	// MaxConcurrentCreates is the number of in-flight creations per
	// project+location; default 1.
	MaxConcurrentCreates int
	// MaxModels is the number of issue models per project+location
	// (including ones still training or being deleted); default 10.
	MaxModels int
	// MaxDeployed is the number of DEPLOYED+DEPLOYING models per
	// project+location; default 5.
	MaxDeployed int
	// Objects seeds the emulator's own fake Cloud Storage: object URI
	// ("gs://bucket/path/name.json") to content. Their buckets exist.
	// Transcripts builds a set of conversation transcripts.
	Objects map[string][]byte
	// Buckets are further buckets that exist, empty (e.g. an export
	// destination), by name ("acme-models") or URI ("gs://acme-models").
	Buckets []string
	// IngestTime, AnalyzeTime, ExportTime, ImportTime are the durations of
	// IngestConversations, BulkAnalyzeConversations, ExportIssueModel and
	// ImportIssueModel: default 1m, 2m, 10s, 30s; Instant for done at once.
	IngestTime, AnalyzeTime, ExportTime, ImportTime time.Duration
	// MinTrainingConversations: a training in a location that has
	// conversations fails with FAILED_PRECONDITION when fewer analyzed
	// conversations match its filter; default 1000. Locations without
	// conversations train on synthetic statistics, as before.
	MinTrainingConversations int
	// OperationVisibilityDelay: GetOperation, CancelOperation and
	// ListOperations do not see an operation younger than this (emulator
	// time) and answer NOT_FOUND for it. Default 0.
	OperationVisibilityDelay time.Duration
	// OperationTTL: done operations older than this (emulator time since
	// they finished) vanish and answer NOT_FOUND. Default 0 = never.
	OperationTTL time.Duration
	// Interceptors run, in order, around every unary call before the
	// emulator's own counting, rate limit and faults, so they see every
	// call and its final reply (package insightstest/record is one).
	Interceptors []grpc.UnaryServerInterceptor
	// Logger; default zap.NewNop().
	Logger *zap.Logger
	// Seed seeds the random source for faults and ids; 0 => time-based.
	Seed int64
}

// Fault is one injected fault. See Server.SetFaults.
type Fault struct {
	// Code is the error returned (any code other than OK). OK with a
	// Latency makes a latency-only fault.
	Code codes.Code
	// Probability in [0,1] that the fault fires on a call.
	Probability float64
	// Latency is real (wall-clock) delay added before the call is served
	// when the fault fires.
	Latency time.Duration
	// LostReplyAfterCommit lets the handler run (the model and operation
	// are created, the state changes) and then replies with Code, or
	// UNAVAILABLE when Code is OK, instead of the real reply. It only
	// takes effect when the handler succeeded: a call that failed (e.g. on
	// a quota) committed nothing and returns its own error.
	LostReplyAfterCommit bool
	// Times, when positive, is how many times the fault fires at most;
	// then it stays quiet (0: no limit), e.g. one refusal by the quota.
	Times int
	// Reason, with an error Code, attaches a google.rpc.ErrorInfo with this
	// reason to the error, as Google's errors carry one: SERVICE_DISABLED
	// with PERMISSION_DENIED is Google's answer when the API is not
	// enabled for the project (see ServiceDisabledError).
	Reason string
}

// Stats are counters since the server started.
type Stats struct {
	// RPCs per short method name: every call received, including
	// faulted and rejected ones.
	RPCs map[string]int64 `json:"rpcs"`
	// ModelsCreated per parent "projects/p/locations/l": every model ever
	// created (including ones later deleted or whose training failed).
	ModelsCreated map[string]int64 `json:"models_created"`
	// Operations by outcome: "running" is the number currently not done;
	// "succeeded", "failed", "cancelled" are cumulative.
	Operations map[string]int64 `json:"operations"`
	// Faults per short method name: every injected fault that fired
	// (latency-only ones included).
	Faults map[string]int64 `json:"faults"`
	// RateLimited per short method name: calls rejected by the
	// RequestsPerMinute limit.
	RateLimited map[string]int64 `json:"rate_limited"`
	// Conversations per parent: every conversation ever ingested.
	Conversations map[string]int64 `json:"conversations"`
	// Analyses per parent: every analysis ever made (a conversation
	// analyzed twice counts twice).
	Analyses map[string]int64 `json:"analyses"`
	// Exports per object URI: every export written there.
	Exports map[string]int64 `json:"exports"`
	// ModelsImported per parent: every model an import created or replaced.
	ModelsImported map[string]int64 `json:"models_imported"`
	// WrongEndpoint per short method name: calls refused because the endpoint the client
	// addressed does not serve the resource's location (WrongEndpointCode).
	WrongEndpoint map[string]int64 `json:"wrong_endpoint"`
	// Authorities per gRPC :authority: every call received, by the endpoint its client named
	// (a bare host:port when dialled directly).
	Authorities map[string]int64 `json:"authorities"`
}

// Server is a running emulator. Create it with NewServer.
type Server struct {
	contactcenterinsightspb.UnimplementedContactCenterInsightsServer

	lis       net.Listener
	gsrv      *grpc.Server
	clock     Clock
	log       *zap.Logger
	closeOnce sync.Once

	changeTime                         map[opKind]time.Duration // deploy, undeploy, delete
	rpm                                int
	maxCreates, maxModels, maxDeployed int
	visibility, ttl                    time.Duration

	mu              sync.Mutex
	rng             *rand.Rand
	faults          map[string][]Fault
	faultFired      map[faultKey]int // how often each fault with Times fired
	cancelMode      CancelMode
	trainingOutcome func(*contactcenterinsightspb.CreateIssueModelRequest) *status.Status
	trainingTime    func() time.Duration
	trainingTimeFor func(*contactcenterinsightspb.CreateIssueModelRequest) time.Duration
	idBase          uint64
	seq             uint64
	models          map[string]*model       // by name
	modelsByParent  map[string][]*model     // creation order
	ops             map[string]*operation   // by name
	opsByParent     map[string][]*operation // creation order
	pending         opHeap
	limiters        map[string]*rate.Limiter // per project
	stats           Stats
	store
}

type opsServer struct {
	longrunningpb.UnimplementedOperationsServer
	s *Server
}

// NewServer starts an emulator listening on opts.Addr. It is serving when
// NewServer returns.
func NewServer(opts Options) (*Server, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	lis, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("insightstest: listen %s: %w", opts.Addr, err)
	}
	rng := rand.New(rand.NewSource(opts.Seed))
	s := &Server{
		lis:   lis,
		clock: opts.Clock,
		log:   opts.Logger,
		changeTime: map[opKind]time.Duration{
			kindDeploy: opts.DeployTime, kindUndeploy: opts.UndeployTime, kindDelete: opts.DeleteTime},
		rpm:             opts.RequestsPerMinute,
		maxCreates:      opts.MaxConcurrentCreates,
		maxModels:       opts.MaxModels,
		maxDeployed:     opts.MaxDeployed,
		visibility:      opts.OperationVisibilityDelay,
		ttl:             opts.OperationTTL,
		rng:             rng,
		faults:          map[string][]Fault{},
		faultFired:      map[faultKey]int{},
		cancelMode:      opts.CancelMode,
		trainingOutcome: opts.TrainingOutcome,
		trainingTime:    opts.TrainingTime,
		trainingTimeFor: opts.TrainingTimeFor,
		// Ids look like Google's: long decimal numbers, random start.
		idBase:         1_000_000_000_000_000_000 + uint64(rng.Int63n(8_000_000_000_000_000_000)),
		models:         map[string]*model{},
		modelsByParent: map[string][]*model{},
		ops:            map[string]*operation{},
		opsByParent:    map[string][]*operation{},
		limiters:       map[string]*rate.Limiter{},
		stats:          newStats(),
		store:          newStore(opts),
	}
	interceptors := append(slices.Clone(opts.Interceptors), s.intercept)
	s.gsrv = grpc.NewServer(grpc.ChainUnaryInterceptor(interceptors...), grpc.WaitForHandlers(true))
	contactcenterinsightspb.RegisterContactCenterInsightsServer(s.gsrv, s)
	longrunningpb.RegisterOperationsServer(s.gsrv, &opsServer{s: s})
	go func() {
		if err := s.gsrv.Serve(lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			s.log.Error("insights emulator: serve failed", zap.Error(err))
		}
	}()
	s.log.Info("insights emulator listening", zap.String("addr", s.Addr()),
		zap.String("cancel_mode", string(opts.CancelMode)), zap.Int("rpm", opts.RequestsPerMinute),
		zap.Int("max_concurrent_creates", opts.MaxConcurrentCreates), zap.Int("max_models", opts.MaxModels),
		zap.Int("max_deployed", opts.MaxDeployed))
	return s, nil
}

// withDefaults fills in the zero-valued fields and rejects invalid ones.
func (o Options) withDefaults() (Options, error) {
	o.Addr = cmp.Or(o.Addr, DefaultAddr)
	if o.Clock == nil {
		o.Clock = RealClock(1)
	}
	if o.TrainingTime == nil {
		o.TrainingTime = func() time.Duration { return DefaultTrainingTime }
	}
	for _, d := range []struct {
		p    *time.Duration
		dflt time.Duration
	}{{&o.DeployTime, DefaultDeployTime}, {&o.UndeployTime, DefaultUndeployTime}, {&o.DeleteTime, DefaultDeleteTime}} {
		*d.p = max(cmp.Or(*d.p, d.dflt), 0) // Instant (negative) is 0: done at once
	}
	for _, q := range []struct {
		name string
		p    *int
		dflt int
	}{
		{"RequestsPerMinute", &o.RequestsPerMinute, DefaultRequestsPerMinute},
		{"MaxConcurrentCreates", &o.MaxConcurrentCreates, DefaultMaxConcurrentCreates},
		{"MaxModels", &o.MaxModels, DefaultMaxModels},
		{"MaxDeployed", &o.MaxDeployed, DefaultMaxDeployed},
	} {
		if *q.p < 0 {
			return o, fmt.Errorf("insightstest: Options.%s is %d: use 0 for the default or Unlimited for no limit", q.name, *q.p)
		}
		*q.p = cmp.Or(*q.p, q.dflt)
	}
	o.CancelMode = cmp.Or(o.CancelMode, CancelHonor)
	if _, err := ParseCancelMode(string(o.CancelMode)); err != nil {
		return o, err
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Seed == 0 {
		o.Seed = time.Now().UnixNano()
	}
	for _, d := range []struct {
		p    *time.Duration
		dflt time.Duration
	}{{&o.IngestTime, DefaultIngestTime}, {&o.AnalyzeTime, DefaultAnalyzeTime}, {&o.ExportTime, DefaultExportTime}, {&o.ImportTime, DefaultImportTime}} {
		*d.p = max(cmp.Or(*d.p, d.dflt), 0)
	}
	if o.MinTrainingConversations < 0 {
		return o, fmt.Errorf("insightstest: Options.MinTrainingConversations is %d: use 0 for the default", o.MinTrainingConversations)
	}
	o.MinTrainingConversations = cmp.Or(o.MinTrainingConversations, DefaultMinTrainingConversations)
	for uri := range o.Objects {
		if _, _, ok := parseObjectURI(uri); !ok {
			return o, fmt.Errorf("insightstest: Options.Objects: %q is not gs://bucket/object", uri)
		}
	}
	o.OperationVisibilityDelay = max(o.OperationVisibilityDelay, 0)
	o.OperationTTL = max(o.OperationTTL, 0)
	return o, nil
}

func newStats() Stats {
	return Stats{
		RPCs:          map[string]int64{},
		ModelsCreated: map[string]int64{},
		Operations:    map[string]int64{"running": 0, "succeeded": 0, "failed": 0, "cancelled": 0},
		Faults:        map[string]int64{},
		RateLimited:   map[string]int64{},
		Conversations: map[string]int64{}, Analyses: map[string]int64{},
		Exports: map[string]int64{}, ModelsImported: map[string]int64{},
		WrongEndpoint: map[string]int64{}, Authorities: map[string]int64{},
	}
}

// Addr returns the host:port the server listens on.
func (s *Server) Addr() string { return s.lis.Addr().String() }

// ClientOptions returns the options that point the real client at this
// server: endpoint, no authentication, insecure transport.
func (s *Server) ClientOptions() []option.ClientOption {
	return []option.ClientOption{
		option.WithEndpoint(s.Addr()),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}
}

// Close stops the gRPC server: it closes the listener and open connections,
// cancels in-flight calls and waits for their handlers to return. Idempotent.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.gsrv.Stop()
		s.log.Info("insights emulator stopped", zap.String("addr", s.Addr()))
	})
}

// GracefulClose stops accepting new calls and waits up to timeout for
// in-flight calls to finish, then closes. Idempotent with Close.
func (s *Server) GracefulClose(timeout time.Duration) {
	s.closeOnce.Do(func() {
		done := make(chan struct{})
		go func() { s.gsrv.GracefulStop(); close(done) }()
		select {
		case <-done:
		case <-time.After(timeout):
			s.gsrv.Stop()
		}
		s.log.Info("insights emulator stopped", zap.String("addr", s.Addr()))
	})
}

// Clock returns the server's clock.
func (s *Server) Clock() Clock { return s.clock }

// SetFaults replaces the faults of one method (short RPC name such as
// "CreateIssueModel" or "GetOperation", or "*" for every method). Calling
// it with no faults clears that method's faults. On each call the method's
// faults are tried in order, then the "*" faults; each fires
// independently with its Probability. Latency-only faults add their delay
// and evaluation continues; the first error (or lost-reply) fault that
// fires decides the call.
func (s *Server) SetFaults(method string, faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(faults) == 0 {
		delete(s.faults, method)
		return
	}
	s.faults[method] = append([]Fault(nil), faults...)
	for k := range s.faultFired {
		if k.method == method {
			delete(s.faultFired, k)
		}
	}
	s.log.Info("faults set", zap.String("method", method), zap.Int("count", len(faults)))
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = map[string][]Fault{}
	s.faultFired = map[faultKey]int{}
	s.log.Info("faults cleared")
}

// SetCancelMode changes how CancelOperation behaves from now on.
func (s *Server) SetCancelMode(m CancelMode) {
	if m == "" {
		m = CancelHonor
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cancelMode = m
	s.log.Info("cancel mode set", zap.String("mode", string(m)))
}

// SetTrainingOutcome replaces Options.TrainingOutcome for creations
// accepted from now on (nil: always succeed).
func (s *Server) SetTrainingOutcome(f func(*contactcenterinsightspb.CreateIssueModelRequest) *status.Status) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.trainingOutcome = f
}

// SetTrainingTime replaces Options.TrainingTime for creations accepted
// from now on (nil: the 2m default).
func (s *Server) SetTrainingTime(f func() time.Duration) {
	if f == nil {
		f = func() time.Duration { return DefaultTrainingTime }
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.trainingTime = f
}

// Stats returns a deep copy of the counters (after bringing every
// operation up to the clock's current time).
func (s *Server) Stats() Stats {
	s.lockSettled()
	defer s.mu.Unlock()
	out := newStats()
	for _, p := range []struct{ dst, src map[string]int64 }{
		{out.RPCs, s.stats.RPCs}, {out.ModelsCreated, s.stats.ModelsCreated},
		{out.Operations, s.stats.Operations}, {out.Faults, s.stats.Faults},
		{out.RateLimited, s.stats.RateLimited}, {out.Conversations, s.stats.Conversations},
		{out.Analyses, s.stats.Analyses}, {out.Exports, s.stats.Exports}, {out.ModelsImported, s.stats.ModelsImported},
		{out.WrongEndpoint, s.stats.WrongEndpoint}, {out.Authorities, s.stats.Authorities},
	} {
		for k, v := range p.src {
			p.dst[k] = v
		}
	}
	return out
}

// Models returns clones of the current models under parent
// ("projects/p/locations/l"), in creation order.
func (s *Server) Models(parent string) []*contactcenterinsightspb.IssueModel {
	return settledClones(s, func() []*model { return s.modelsByParent[parent] },
		func(m *model) *contactcenterinsightspb.IssueModel { return m.pb })
}

// Operation returns a clone of the current view of an operation,
// bypassing visibility delay and faults. It reports false for unknown or
// expired operations.
func (s *Server) Operation(name string) (*longrunningpb.Operation, bool) {
	now := s.lockSettled()
	defer s.mu.Unlock()
	op := s.ops[name]
	if op == nil || s.expireIfDueLocked(op, now) {
		return nil, false
	}
	return op.toProto(now), true
}

// ExpireOperation makes an operation vanish now (later reads answer
// NOT_FOUND). A running operation keeps running in the background: its
// effect on the model still happens.
func (s *Server) ExpireOperation(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if op := s.ops[name]; op != nil {
		s.removeOpLocked(op)
		s.log.Info("operation expired by request", zap.String("operation", name))
	}
}

// intercept counts, rate-limits and injects faults around every unary RPC.
func (s *Server) intercept(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	method := info.FullMethod
	if i := strings.LastIndexByte(method, '/'); i >= 0 {
		method = method[i+1:]
	}
	start := time.Now()
	resp, err := s.serve(ctx, method, req, handler)
	if ce := s.log.Check(zap.DebugLevel, "rpc"); ce != nil {
		ce.Write(zap.String("method", method), zap.Stringer("code", status.Code(err)),
			zap.Duration("took", time.Since(start)), zap.Error(err))
	}
	return resp, err
}

// serve counts the call, applies the rate limit and the faults, and runs
// the handler.
func (s *Server) serve(ctx context.Context, method string, req any, handler grpc.UnaryHandler) (any, error) {
	s.mu.Lock()
	s.stats.RPCs[method]++
	if auth := authorityOf(ctx); auth != "" {
		s.stats.Authorities[auth]++
	}
	if err := checkEndpoint(ctx, req); err != nil {
		s.stats.WrongEndpoint[method]++
		s.mu.Unlock()
		s.log.Info("wrong regional endpoint", zap.String("method", method), zap.Error(err))
		return nil, err
	}
	if project := projectOf(req); project != "" && !s.limiterLocked(project).Allow() {
		s.stats.RateLimited[method]++
		s.mu.Unlock()
		s.log.Info("rate limited", zap.String("method", method), zap.String("project", project))
		return nil, rateLimitError(project, s.rpm)
	}
	latency, fired := s.rollFaultsLocked(method)
	s.mu.Unlock()

	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, status.FromContextError(ctx.Err()).Err()
		}
	}
	if fired != nil && !fired.LostReplyAfterCommit {
		s.log.Info("fault injected", zap.String("method", method), zap.Stringer("code", fired.Code))
		if fired.Reason != "" {
			return nil, faultError(fired.Code, fired.Reason, method, projectOf(req))
		}
		return nil, status.Errorf(fired.Code, "insightstest: injected fault on %s", method)
	}
	resp, err := handler(ctx, req)
	if fired != nil && err == nil {
		s.mu.Lock()
		s.stats.Faults[method]++
		s.mu.Unlock()
		code := fired.Code
		if code == codes.OK {
			code = codes.Unavailable
		}
		s.log.Info("fault injected: reply lost after commit", zap.String("method", method),
			zap.Stringer("code", code))
		return nil, status.Errorf(code, "insightstest: injected fault on %s: connection lost after the request was processed", method)
	}
	return resp, err
}

// rollFaultsLocked tries method's faults, then the "*" ones: the latencies
// of those that fire add up, and the first error or lost-reply fault that
// fires decides the call (nil when none does).
func (s *Server) rollFaultsLocked(method string) (latency time.Duration, fired *Fault) {
	own := len(s.faults[method])
	for i, f := range slices.Concat(s.faults[method], s.faults["*"]) {
		if f.Probability <= 0 || (f.Probability < 1 && s.rng.Float64() >= f.Probability) {
			continue
		}
		if f.Times > 0 {
			k := faultKey{method, i}
			if i >= own {
				k = faultKey{"*", i - own}
			}
			if s.faultFired[k] >= f.Times {
				continue
			}
			s.faultFired[k]++
		}
		latency += f.Latency
		if !f.LostReplyAfterCommit {
			s.stats.Faults[method]++ // lost replies count once committed
		}
		if f.Code != codes.OK || f.LostReplyAfterCommit {
			return latency, &f
		}
	}
	return latency, nil
}

// limiterLocked returns project's token bucket: a burst of one minute's
// worth of requests, refilled at RequestsPerMinute, in real time.
func (s *Server) limiterLocked(project string) *rate.Limiter {
	l := s.limiters[project]
	if l == nil {
		limit := rate.Limit(float64(s.rpm) / 60)
		if s.rpm == Unlimited {
			limit = rate.Inf
		}
		l = rate.NewLimiter(limit, s.rpm)
		s.limiters[project] = l
	}
	return l
}

// projectOf extracts the project id from a request's name or parent.
func projectOf(req any) string {
	var n string
	switch r := req.(type) {
	case interface{ GetParent() string }:
		n = r.GetParent()
	case interface{ GetName() string }:
		n = r.GetName()
	}
	rest, ok := strings.CutPrefix(n, "projects/")
	if !ok {
		return ""
	}
	p, _, _ := strings.Cut(rest, "/")
	return p
}

// faultKey names one fault: its method's key in Server.faults and its index there.
type faultKey struct {
	method string
	index  int
}

// faultError is an injected fault's error with a google.rpc.ErrorInfo of the given reason.
func faultError(code codes.Code, reason, method, project string) error {
	if code == codes.PermissionDenied && reason == ReasonServiceDisabled {
		return ServiceDisabledError(project)
	}
	st := status.Newf(code, "insightstest: injected fault on %s (%s)", method, reason)
	if d, err := st.WithDetails(&errdetails.ErrorInfo{Reason: reason, Domain: "googleapis.com",
		Metadata: map[string]string{"service": "contactcenterinsights.googleapis.com", "method": method}}); err == nil {
		st = d
	}
	return st.Err()
}

// ReasonServiceDisabled is the google.rpc.ErrorInfo reason of an API not enabled for a project.
const ReasonServiceDisabled = "SERVICE_DISABLED"

// ServiceDisabledError looks like Google's answer to a call to an API that the project has not
// enabled: PERMISSION_DENIED with an ErrorInfo of reason SERVICE_DISABLED, domain
// googleapis.com, and the service, the consumer and where to enable it in its metadata.
func ServiceDisabledError(project string) error {
	st := status.Newf(codes.PermissionDenied,
		"Contact Center AI Insights API has not been used in project %s before or it is disabled. Enable it by visiting https://console.developers.google.com/apis/api/contactcenterinsights.googleapis.com/overview?project=%s then retry.",
		project, project)
	if d, err := st.WithDetails(&errdetails.ErrorInfo{
		Reason: ReasonServiceDisabled,
		Domain: "googleapis.com",
		Metadata: map[string]string{
			"service":       "contactcenterinsights.googleapis.com",
			"consumer":      "projects/" + project,
			"serviceTitle":  "Contact Center AI Insights API",
			"activationUrl": "https://console.developers.google.com/apis/api/contactcenterinsights.googleapis.com/overview?project=" + project,
			"containerInfo": project,
		},
	}); err == nil {
		st = d
	}
	return st.Err()
}

// rateLimitError looks like Google's per-minute quota error: code
// RESOURCE_EXHAUSTED with ErrorInfo reason RATE_LIMIT_EXCEEDED and a
// QuotaFailure detail.
func rateLimitError(project string, rpm int) error {
	st := status.Newf(codes.ResourceExhausted,
		"Quota exceeded for quota metric 'Requests' and limit 'Requests per minute per project' of service 'contactcenterinsights.googleapis.com' for consumer 'project:%s' (limit %d per minute).",
		project, rpm)
	if d, err := st.WithDetails(
		&errdetails.ErrorInfo{
			Reason: "RATE_LIMIT_EXCEEDED",
			Domain: "googleapis.com",
			Metadata: map[string]string{
				"service":     "contactcenterinsights.googleapis.com",
				"consumer":    "projects/" + project,
				"quota_limit": "RequestsPerMinutePerProject",
			},
		},
		&errdetails.QuotaFailure{Violations: []*errdetails.QuotaFailure_Violation{{
			Subject:     "project:" + project,
			Description: fmt.Sprintf("Requests per minute per project (limit %d)", rpm),
		}}},
	); err == nil {
		st = d
	}
	return st.Err()
}
