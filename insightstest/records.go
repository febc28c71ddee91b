package insightstest

import (
	"sort"
	"time"

	contactcenterinsightspb "cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
)

// OperationRecord is the emulator's own account of one operation, for benchmarks that measure
// how promptly and at what cost a client notices that an operation finished. Times are on the
// emulator's clock (Server.Clock), so with a scaled RealClock they run ahead of wall time.
type OperationRecord struct {
	Name   string `json:"name"`
	Parent string `json:"parent"`
	// Kind is "create", "deploy", "undeploy" or "delete".
	Kind string `json:"kind"`
	// DisplayName is the requested model's display name (creations only).
	DisplayName string    `json:"displayName,omitempty"`
	CreateTime  time.Time `json:"createTime"`
	// EndTime is when the operation finished, or will finish while it runs (a cancel moves it).
	EndTime time.Time `json:"endTime"`
	Done    bool      `json:"done"`
	// GetOperationCalls counts the GetOperation calls answered for this operation. Calls
	// rejected before reaching it (rate limit, injected faults, visibility delay) are not
	// counted here; Stats and CallsPerSecond count them.
	GetOperationCalls int64 `json:"getOperationCalls"`
	// FirstDoneServed is the emulated time of the first GetOperation answer that said done;
	// zero when no caller has seen it done yet. FirstDoneServed - EndTime is how long the
	// callers took to notice.
	FirstDoneServed time.Time `json:"firstDoneServed,omitzero"`
}

// OperationRecords returns a record of every operation ever started under parent
// ("projects/p/locations/l"; "" for all), in creation order, including operations that have
// since expired.
func (s *Server) OperationRecords(parent string) []OperationRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settleLocked(s.clock.Now())
	var out []OperationRecord
	for _, op := range s.allOps {
		if parent != "" && op.parent != parent {
			continue
		}
		r := OperationRecord{
			Name: op.name, Parent: op.parent, Kind: op.kind.String(),
			CreateTime: op.createTime, EndTime: op.endTime, Done: op.done,
			GetOperationCalls: op.getCalls, FirstDoneServed: op.firstDoneServed,
		}
		if req, ok := op.req.(*contactcenterinsightspb.CreateIssueModelRequest); ok {
			r.DisplayName = req.GetIssueModel().GetDisplayName()
		}
		out = append(out, r)
	}
	return out
}

// callSecond keys the per-second call counters.
type callSecond struct {
	method, project string
	sec             int64
}

// SecondCount is the number of calls received in one second of real (wall-clock) time.
type SecondCount struct {
	// Second is the Unix time of the second's start.
	Second int64 `json:"second"`
	Calls  int64 `json:"calls"`
}

// CallsPerSecond returns how many calls of method (short RPC name, e.g. "GetOperation") were
// received in each second of real time, counting every call as Stats.RPCs does (rejected ones
// too), for requests naming project ("" for every project), in time order. Seconds without
// calls are left out. The rate limit is counted in real time too, so this is the series to
// compare with it.
func (s *Server) CallsPerSecond(method, project string) []SecondCount {
	s.mu.Lock()
	bySec := map[int64]int64{}
	for k, n := range s.perSecond {
		if k.method == method && (project == "" || k.project == project) {
			bySec[k.sec] += n
		}
	}
	s.mu.Unlock()
	out := make([]SecondCount, 0, len(bySec))
	for sec, n := range bySec {
		out = append(out, SecondCount{Second: sec, Calls: n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Second < out[j].Second })
	return out
}
