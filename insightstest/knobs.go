package insightstest

import (
	"fmt"
	"math/rand"
	"strconv"
	"strings"
	"sync"
	"time"

	contactcenterinsightspb "cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// lockedRand is a goroutine-safe rand source.
type lockedRand struct {
	mu sync.Mutex
	r  *rand.Rand
}

func newLockedRand(seed int64) *lockedRand {
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	return &lockedRand{r: rand.New(rand.NewSource(seed))}
}

// draw returns draw(source), one caller at a time: e.g. (*rand.Rand).Float64.
func (l *lockedRand) draw(draw func(*rand.Rand) float64) float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return draw(l.r)
}

// ParseTrainingTime parses a training-time specification into a function
// usable as Options.TrainingTime. The returned function is safe for
// concurrent use. Syntax:
//
//	2m               fixed duration (any time.ParseDuration string)
//	fixed:2m         same
//	uniform:1m-5m    uniformly distributed in [1m, 5m]
//	exp:5m           exponentially distributed with mean 5m
//	exp:5m-1h        exponential with mean 5m, capped at 1h
//
// seed seeds the random source (0 => time-based).
func ParseTrainingTime(spec string, seed int64) (func() time.Duration, error) {
	spec = strings.TrimSpace(spec)
	kind, arg, found := strings.Cut(spec, ":")
	if !found {
		kind, arg = "fixed", spec
	}
	bad := func(err error) (func() time.Duration, error) {
		return nil, fmt.Errorf("insightstest: bad training time %q (want DURATION, fixed:D, uniform:MIN-MAX, exp:MEAN or exp:MEAN-MAX): %v", spec, err)
	}
	rng := newLockedRand(seed)
	switch strings.ToLower(kind) {
	case "fixed":
		d, err := time.ParseDuration(arg)
		if err != nil {
			return bad(err)
		}
		if d < 0 {
			return bad(fmt.Errorf("negative duration"))
		}
		return func() time.Duration { return d }, nil
	case "uniform":
		lo, hi, err := parseRange(arg)
		if err != nil {
			return bad(err)
		}
		if hi < lo {
			return bad(fmt.Errorf("max < min"))
		}
		return func() time.Duration { return lo + time.Duration(rng.draw((*rand.Rand).Float64)*float64(hi-lo)) }, nil
	case "exp":
		mean, max, err := parseRange(arg)
		if !strings.Contains(arg, "-") {
			mean, err = time.ParseDuration(arg)
			max = 0
		}
		if err != nil {
			return bad(err)
		}
		if mean <= 0 {
			return bad(fmt.Errorf("mean must be positive"))
		}
		return func() time.Duration {
			d := time.Duration(rng.draw((*rand.Rand).ExpFloat64) * float64(mean))
			if max > 0 && d > max {
				d = max
			}
			return d
		}, nil
	}
	return bad(fmt.Errorf("unknown distribution %q", kind))
}

func parseRange(s string) (lo, hi time.Duration, err error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, fmt.Errorf("want MIN-MAX")
	}
	if lo, err = time.ParseDuration(a); err != nil {
		return 0, 0, err
	}
	if hi, err = time.ParseDuration(b); err != nil {
		return 0, 0, err
	}
	if lo < 0 || hi < 0 {
		return 0, 0, fmt.Errorf("negative duration")
	}
	return lo, hi, nil
}

// TooFewConversations is the training failure used by RandomTrainingFailure.
const TooFewConversations = "Issue model training failed: too few conversations match the filter."

// RandomTrainingFailure returns an Options.TrainingOutcome that fails a
// training with probability rate, with FAILED_PRECONDITION "too few
// conversations match the filter". Safe for concurrent use.
func RandomTrainingFailure(rate float64, seed int64) func(*contactcenterinsightspb.CreateIssueModelRequest) *status.Status {
	rng := newLockedRand(seed)
	return func(*contactcenterinsightspb.CreateIssueModelRequest) *status.Status {
		if rate > 0 && (rate >= 1 || rng.draw((*rand.Rand).Float64) < rate) {
			return status.New(codes.FailedPrecondition, TooFewConversations)
		}
		return nil
	}
}

// ParseCode parses a gRPC code name ("UNAVAILABLE", "unavailable",
// "ResourceExhausted", "resource_exhausted") or number ("14").
func ParseCode(s string) (codes.Code, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.Atoi(s); err == nil {
		if n < 0 || n > 16 {
			return 0, fmt.Errorf("insightstest: code %d out of range", n)
		}
		return codes.Code(n), nil
	}
	norm := func(x string) string { return strings.ToLower(strings.ReplaceAll(x, "_", "")) }
	for c := codes.OK; c <= codes.Unauthenticated; c++ {
		if norm(c.String()) == norm(s) {
			return c, nil
		}
	}
	if norm(s) == "cancelled" {
		return codes.Canceled, nil
	}
	return 0, fmt.Errorf("insightstest: unknown gRPC code %q", s)
}

// ParseFault parses "method:code:probability[:reason]", e.g.
// "CreateIssueModel:UNAVAILABLE:0.1", "*:RESOURCE_EXHAUSTED:0.05", or
// "*:PERMISSION_DENIED:1:SERVICE_DISABLED" (the API not enabled; Fault.Reason).
func ParseFault(spec string) (method string, f Fault, err error) {
	parts := strings.Split(spec, ":")
	if len(parts) == 4 && parts[3] != "" {
		f.Reason, parts = parts[3], parts[:3]
	}
	if len(parts) != 3 {
		return "", Fault{}, fmt.Errorf("insightstest: bad fault %q: want method:code:probability[:reason]", spec)
	}
	if f.Code, err = ParseCode(parts[1]); err != nil {
		return "", Fault{}, err
	}
	if f.Probability, err = parseProbability(parts[2]); err != nil {
		return "", Fault{}, fmt.Errorf("insightstest: bad fault %q: %v", spec, err)
	}
	return parts[0], f, nil
}

// ParseLatency parses "method:duration:probability", e.g.
// "GetOperation:2s:0.5", into a latency-only fault.
func ParseLatency(spec string) (method string, f Fault, err error) {
	parts := strings.Split(spec, ":")
	if len(parts) != 3 {
		return "", Fault{}, fmt.Errorf("insightstest: bad latency %q: want method:duration:probability", spec)
	}
	if f.Latency, err = time.ParseDuration(parts[1]); err != nil || f.Latency < 0 {
		return "", Fault{}, fmt.Errorf("insightstest: bad latency %q: bad duration", spec)
	}
	if f.Probability, err = parseProbability(parts[2]); err != nil {
		return "", Fault{}, fmt.Errorf("insightstest: bad latency %q: %v", spec, err)
	}
	return parts[0], f, nil
}

func parseProbability(s string) (float64, error) {
	p, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || p < 0 || p > 1 {
		return 0, fmt.Errorf("probability must be a number in [0,1], got %q", s)
	}
	return p, nil
}

// MutatingMethods are the RPCs whose reply can be lost after the change
// was committed (used by the binary's -lost-reply-rate).
var MutatingMethods = []string{"CreateIssueModel", "DeployIssueModel", "UndeployIssueModel", "DeleteIssueModel", "CancelOperation",
	"IngestConversations", "BulkAnalyzeConversations", "ExportIssueModel", "ImportIssueModel"}
