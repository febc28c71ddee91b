package main

import (
	"fmt"
	"math"
	"math/rand"
	"sort"
	"strconv"
	"strings"
	"time"

	contactcenterinsightspb "cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
)

// plan is the one set of operations every strategy awaits: training time i (emulated) belongs
// to the operation whose display name is displayName(i), in whichever project it is created.
type plan struct {
	durations []time.Duration
}

// newPlan draws n training times from a lognormal distribution with the given median and sigma,
// clipped to [lo, hi], with a seeded source.
func newPlan(n int, median time.Duration, sigma float64, lo, hi time.Duration, seed int64) plan {
	rng := rand.New(rand.NewSource(seed))
	p := plan{durations: make([]time.Duration, n)}
	for i := range p.durations {
		d := time.Duration(float64(median) * math.Exp(sigma*rng.NormFloat64()))
		p.durations[i] = min(max(d, lo), hi).Round(time.Second)
	}
	return p
}

// displayNamePrefix starts every benchmark model's display name.
const displayNamePrefix = "bench-op-"

func displayName(i int) string { return fmt.Sprintf("%s%05d", displayNamePrefix, i) }

// opIndex is the inverse of displayName.
func opIndex(name string) (int, bool) {
	s, ok := strings.CutPrefix(name, displayNamePrefix)
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(s)
	return i, err == nil && i >= 0
}

// trainingTimeFor is the emulator's Options.TrainingTimeFor: the planned duration of the
// operation named by the request's display name (2 minutes for anything else).
func (p plan) trainingTimeFor(req *contactcenterinsightspb.CreateIssueModelRequest) time.Duration {
	if i, ok := opIndex(req.GetIssueModel().GetDisplayName()); ok && i < len(p.durations) {
		return p.durations[i]
	}
	return 2 * time.Minute
}

// quantiles of the planned durations, for the report.
func (p plan) quantile(q float64) time.Duration {
	s := append([]time.Duration(nil), p.durations...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[rank(len(s), q)]
}

func (p plan) longest() time.Duration {
	var m time.Duration
	for _, d := range p.durations {
		m = max(m, d)
	}
	return m
}

// rank is the nearest-rank index of quantile q in a sorted slice of n elements.
func rank(n int, q float64) int {
	i := int(math.Ceil(q*float64(n))) - 1
	return min(max(i, 0), n-1)
}

// parentFor is the location a strategy creates its operations in: one project per strategy,
// so the emulator's per-project request limit applies to each strategy on its own.
func parentFor(strategy string) string {
	return "projects/bench-" + strategy + "/locations/us-central1"
}

// projectFor is the project of parentFor(strategy).
func projectFor(strategy string) string { return "bench-" + strategy }
