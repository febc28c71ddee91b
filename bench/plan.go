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

	"github.com/issuemodels/durable-lro/insightstest"
)

// plan is the one set of operations every strategy awaits: training time i (emulated) belongs
// to the operation whose display name is displayName(i), in whichever project it is created,
// and every strategy creates it with filter i.
type plan struct {
	durations []time.Duration
	// filters are the requests' input data filters; conversations the trainingConversationsCount
	// the emulator computes from each (insightstest.SyntheticTrainingConversations).
	filters       []string
	conversations []int64
}

// Workloads (-workload).
const (
	// workloadIndependent: every operation has the same filter (so the same data size) and a
	// length drawn independently from the lognormal distribution.
	workloadIndependent = "independent"
	// workloadDataSize: each operation trains on its own batch (filter labels.batch), whose
	// conversation count spreads log-uniformly over a factor of 100; its length is
	// insightstest.DataSizeTrainingTime: -median per 5,000 conversations, lognormal noise -sigma.
	workloadDataSize = "datasize"
)

// dataSizeAt is the conversation count at which a datasize training's median length is -median.
const dataSizeAt = 5000

// independentFilter is every operation's filter in the independent workload.
const independentFilter = `medium="CHAT"`

// filterFor is the filter of operation i's request in a workload.
func filterFor(workload string, i int) string {
	if workload == workloadDataSize {
		return batchFilter(fmt.Sprintf("%05d", i))
	}
	return independentFilter
}

func batchFilter(batch string) string {
	return fmt.Sprintf(`medium="CHAT" AND labels.batch="%s"`, batch)
}

// createRequest is the CreateIssueModel request every strategy makes for a display name and filter
// (the workflow's, from its input, is the same).
func createRequest(parent, displayName, filter string) *contactcenterinsightspb.CreateIssueModelRequest {
	return &contactcenterinsightspb.CreateIssueModelRequest{
		Parent: parent,
		IssueModel: &contactcenterinsightspb.IssueModel{
			DisplayName:     displayName,
			InputDataConfig: &contactcenterinsightspb.IssueModel_InputDataConfig{Filter: filter},
		},
	}
}

// newWorkloadPlan is the plan of cfg's workload.
func newWorkloadPlan(cfg config) plan {
	if cfg.workload == workloadDataSize {
		return newDataSizePlan(cfg.ops, cfg.median, cfg.sigma, cfg.minDur, cfg.maxDur, cfg.seed)
	}
	return newPlan(cfg.ops, cfg.median, cfg.sigma, cfg.minDur, cfg.maxDur, cfg.seed)
}

// newDataSizePlan is the datasize workload: operation i trains on batch i, of
// SyntheticTrainingConversations(its filter) conversations, for DataSizeTrainingTime of the
// request as the emulator echoes it (count filled in), clipped to [lo, hi].
func newDataSizePlan(n int, median time.Duration, sigma float64, lo, hi time.Duration, seed int64) plan {
	model := insightstest.DataSizeTrainingTime(median, dataSizeAt, sigma, seed)
	p := plan{durations: make([]time.Duration, n), filters: make([]string, n), conversations: make([]int64, n)}
	for i := range n {
		p.filters[i] = filterFor(workloadDataSize, i)
		p.conversations[i] = insightstest.SyntheticTrainingConversations(p.filters[i])
		p.durations[i] = dataSizeLength(model, displayName(i), p.filters[i], p.conversations[i], lo, hi)
	}
	return p
}

// dataSizeLength is the clipped length the data-size model gives a request.
func dataSizeLength(model func(*contactcenterinsightspb.CreateIssueModelRequest) time.Duration, name, filter string, conversations int64, lo, hi time.Duration) time.Duration {
	req := createRequest("", name, filter)
	req.IssueModel.InputDataConfig.TrainingConversationsCount = conversations
	return min(max(model(req), lo), hi).Round(time.Second)
}

// newPlan is the independent workload: it draws n training times from a lognormal distribution with the given median and sigma,
// clipped to [lo, hi], with a seeded source.
func newPlan(n int, median time.Duration, sigma float64, lo, hi time.Duration, seed int64) plan {
	rng := rand.New(rand.NewSource(seed))
	p := plan{durations: make([]time.Duration, n), filters: make([]string, n), conversations: make([]int64, n)}
	for i := range p.durations {
		d := time.Duration(float64(median) * math.Exp(sigma*rng.NormFloat64()))
		p.durations[i] = min(max(d, lo), hi).Round(time.Second)
		p.filters[i] = independentFilter
		p.conversations[i] = insightstest.SyntheticTrainingConversations(independentFilter)
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

// filter is operation i's filter (the independent one past the plan).
func (p plan) filter(i int) string {
	if i < len(p.filters) {
		return p.filters[i]
	}
	return independentFilter
}

// historySeedOffset makes the history's draws differ from the operations' (another seed).
const historySeedOffset = 7919

// historySpan is how far back the seeded history's trainings ended: spread evenly over it.
const historySpan = 72 * time.Hour

// historyDisplayName names seeded history trainings (not opIndex's: the report leaves them out).
func historyDisplayName(i int) string { return fmt.Sprintf("history-%05d", i) }

// newHistory is -history: n finished trainings of the same workload as the plan (the same spread
// of conversation counts, the same duration model, clipped the same), drawn with another seed,
// their durations (emulated time) multiplied by shift (1: the history tells the truth; else it
// misleads, the workload having shifted since), ended over the last historySpan.
func newHistory(cfg config, n int, shift float64) []insightstest.FinishedTraining {
	if n <= 0 {
		return nil
	}
	seed := cfg.seed + historySeedOffset
	var durations []time.Duration
	filters := make([]string, n)
	counts := make([]int64, n)
	switch cfg.workload {
	case workloadDataSize:
		model := insightstest.DataSizeTrainingTime(cfg.median, dataSizeAt, cfg.sigma, seed)
		for i := range n {
			filters[i] = batchFilter(fmt.Sprintf("h%05d", i))
			counts[i] = insightstest.SyntheticTrainingConversations(filters[i])
			durations = append(durations, dataSizeLength(model, historyDisplayName(i), filters[i], counts[i], cfg.minDur, cfg.maxDur))
		}
	default:
		durations = newPlan(n, cfg.median, cfg.sigma, cfg.minDur, cfg.maxDur, seed).durations
		for i := range n {
			filters[i] = independentFilter
			counts[i] = insightstest.SyntheticTrainingConversations(independentFilter)
		}
	}
	out := make([]insightstest.FinishedTraining, n)
	for i := range n {
		req := createRequest("", historyDisplayName(i), filters[i])
		req.IssueModel.InputDataConfig.TrainingConversationsCount = counts[i]
		out[i] = insightstest.FinishedTraining{
			Request:  req,
			Duration: time.Duration(float64(durations[i]) * shift).Round(time.Second),
			EndedAgo: time.Duration(float64(historySpan) * (float64(i) + 0.5) / float64(n)).Round(time.Second),
		}
	}
	return out
}
