// Package record is an optional recorder for the insightstest emulator, for
// benchmarks: a gRPC interceptor that notes how the emulator's callers
// polled each operation and how many calls arrived each second. The
// emulator itself keeps no such records.
//
//	clock := insightstest.RealClock(60)
//	rec := record.New(clock)
//	srv, err := insightstest.NewServer(insightstest.Options{
//		Clock:        clock,
//		Interceptors: []grpc.UnaryServerInterceptor{rec.Intercept},
//	})
//
// It sees what the emulator's callers see: an operation is recorded from
// the first reply that names it (its creation, or a GetOperation), so one
// whose creation reply was lost to an injected fault and that nobody polled
// is missing.
package record

import (
	"cmp"
	"context"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"github.com/issuemodels/durable-lro/insightstest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Operation is what the callers were told about one operation. Times are on
// the emulator's clock, so with a scaled RealClock they run ahead of wall
// time.
type Operation struct {
	Name   string
	Parent string
	// Kind is "create", "deploy", "undeploy" or "delete".
	Kind string
	// DisplayName is the requested model's display name (creations only).
	DisplayName string
	CreateTime  time.Time
	// EndTime is when the operation finished, from the first GetOperation
	// answer that said done; zero while no answer has.
	EndTime time.Time
	// GetOperationCalls counts the GetOperation calls answered for this
	// operation. Calls rejected before reaching it (rate limit, injected
	// faults, visibility delay) are not counted here; CallsPerSecond counts
	// them.
	GetOperationCalls int64
	// FirstDoneServed is when the first GetOperation answer that said done
	// was sent; zero when none has. FirstDoneServed - EndTime is how long
	// the callers took to notice.
	FirstDoneServed time.Time
}

// SecondCount is the number of calls received in one second of real
// (wall-clock) time.
type SecondCount struct {
	// Second is the Unix time of the second's start.
	Second int64
	Calls  int64
}

// Recorder records operations and calls. Install its Intercept through
// insightstest.Options.Interceptors. It is safe for concurrent use.
type Recorder struct {
	clock insightstest.Clock

	mu    sync.Mutex
	ops   map[string]*Operation // by name
	calls map[callSecond]int64
	// refused counts RESOURCE_EXHAUSTED answers by project.
	refused map[string]int64
}

type callSecond struct {
	method, project string
	unix            int64
}

// New returns a Recorder that reads the emulator's clock for
// FirstDoneServed: pass it the Clock given to the emulator.
func New(clock insightstest.Clock) *Recorder {
	return &Recorder{clock: clock, ops: map[string]*Operation{}, calls: map[callSecond]int64{}, refused: map[string]int64{}}
}

// Intercept is a grpc.UnaryServerInterceptor: it counts every call as it
// arrives and notes the operations in the replies.
func (r *Recorder) Intercept(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	method := path.Base(info.FullMethod)
	r.mu.Lock()
	r.calls[callSecond{method: method, project: projectIn(req), unix: time.Now().Unix()}]++
	r.mu.Unlock()
	resp, err := handler(ctx, req)
	if status.Code(err) == codes.ResourceExhausted {
		r.mu.Lock()
		r.refused[projectIn(req)]++
		r.mu.Unlock()
	}
	if op, ok := resp.(*longrunningpb.Operation); ok && err == nil {
		r.note(op, method == "GetOperation")
	}
	return resp, err
}

// metadata is what the four issue-model operations' metadata have in common.
type metadata interface {
	GetCreateTime() *timestamppb.Timestamp
	GetEndTime() *timestamppb.Timestamp
}

// note records an operation from a reply; polled says the reply answered a
// GetOperation.
func (r *Recorder) note(op *longrunningpb.Operation, polled bool) {
	m, err := op.GetMetadata().UnmarshalNew()
	if err != nil {
		return
	}
	md, ok := m.(metadata)
	if !ok {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	rec := r.ops[op.GetName()]
	if rec == nil {
		parent, _, _ := strings.Cut(op.GetName(), "/operations/")
		rec = &Operation{Name: op.GetName(), Parent: parent, CreateTime: md.GetCreateTime().AsTime()}
		rec.Kind, rec.DisplayName = kindOf(md)
		r.ops[op.GetName()] = rec
	}
	if !polled {
		return
	}
	rec.GetOperationCalls++
	if op.GetDone() && rec.FirstDoneServed.IsZero() {
		rec.FirstDoneServed = r.clock.Now()
		rec.EndTime = md.GetEndTime().AsTime()
	}
}

// kindOf names an operation's kind from its metadata, and the display name
// a creation asked for.
func kindOf(md metadata) (kind, displayName string) {
	switch md := md.(type) {
	case *contactcenterinsightspb.CreateIssueModelMetadata:
		return "create", md.GetRequest().GetIssueModel().GetDisplayName()
	case *contactcenterinsightspb.DeployIssueModelMetadata:
		return "deploy", ""
	case *contactcenterinsightspb.UndeployIssueModelMetadata:
		return "undeploy", ""
	case *contactcenterinsightspb.DeleteIssueModelMetadata:
		return "delete", ""
	}
	return "", ""
}

// projectIn is the project id a request names in its parent or name.
func projectIn(req any) string {
	var name string
	if r, ok := req.(interface{ GetParent() string }); ok {
		name = r.GetParent()
	} else if r, ok := req.(interface{ GetName() string }); ok {
		name = r.GetName()
	}
	if parts := strings.SplitN(name, "/", 3); len(parts) >= 2 && parts[0] == "projects" {
		return parts[1]
	}
	return ""
}

// Operations returns the operations recorded under parent
// ("projects/p/locations/l"; "" for all) in creation order.
func (r *Recorder) Operations(parent string) []Operation {
	r.mu.Lock()
	var out []Operation
	for _, op := range r.ops {
		if parent == "" || op.Parent == parent {
			out = append(out, *op)
		}
	}
	r.mu.Unlock()
	slices.SortFunc(out, func(a, b Operation) int {
		return cmp.Or(a.CreateTime.Compare(b.CreateTime), cmp.Compare(a.Name, b.Name))
	})
	return out
}

// Refused is how many calls naming project ("" for every project) were refused with
// RESOURCE_EXHAUSTED: the request rate limit, or a creation or model quota.
func (r *Recorder) Refused(project string) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if project != "" {
		return r.refused[project]
	}
	var n int64
	for _, c := range r.refused {
		n += c
	}
	return n
}

// CallsPerSecond returns how many calls of method (short RPC name, e.g.
// "GetOperation") were received in each second of real time, counting
// every call as the emulator's Stats.RPCs does (rejected ones too), for
// requests naming project ("" for every project), in time order. Seconds
// without calls are left out. The rate limit is counted in real time too,
// so this is the series to compare with it.
func (r *Recorder) CallsPerSecond(method, project string) []SecondCount {
	r.mu.Lock()
	bySec := map[int64]int64{}
	for k, n := range r.calls {
		if k.method == method && (project == "" || k.project == project) {
			bySec[k.unix] += n
		}
	}
	r.mu.Unlock()
	return sortedCounts(bySec)
}

// sortedCounts is bySec in time order.
func sortedCounts(bySec map[int64]int64) []SecondCount {
	out := make([]SecondCount, 0, len(bySec))
	for sec, n := range bySec {
		out = append(out, SecondCount{Second: sec, Calls: n})
	}
	slices.SortFunc(out, func(a, b SecondCount) int { return cmp.Compare(a.Second, b.Second) })
	return out
}

// AllCallsPerSecond is CallsPerSecond for every method together: what a per-project request
// quota counts.
func (r *Recorder) AllCallsPerSecond(project string) []SecondCount {
	r.mu.Lock()
	bySec := map[int64]int64{}
	for k, n := range r.calls {
		if project == "" || k.project == project {
			bySec[k.unix] += n
		}
	}
	r.mu.Unlock()
	return sortedCounts(bySec)
}

// PeakWindow is the most calls in any width consecutive seconds of series (in time order).
func PeakWindow(series []SecondCount, width int64) int64 {
	var best, sum int64
	lo := 0
	for hi := range series {
		sum += series[hi].Calls
		for series[hi].Second-series[lo].Second >= width {
			sum -= series[lo].Calls
			lo++
		}
		best = max(best, sum)
	}
	return best
}
