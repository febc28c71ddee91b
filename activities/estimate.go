package activities

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	contactcenterinsights "cloud.google.com/go/contactcenterinsights/apiv1"
	"cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"google.golang.org/api/iterator"

	"github.com/issuemodels/durable-lro/insights"
)

// The scan of EstimateTraining is bounded: at most estimatePages pages of estimatePageSize
// operations, one ListOperations call each.
const (
	estimatePageSize = 500
	estimatePages    = 2
	// minEstimateSamples finished trainings are needed before the history says anything.
	minEstimateSamples = 20
)

// EstimateTrainingParams is the input of EstimateTraining.
type EstimateTrainingParams struct {
	// Operation is the running CreateIssueModel operation; its location's history is scanned and
	// it is itself left out.
	Operation string `json:"operation"`
	// Conversations is the operation's trainingConversationsCount (the server fills it in the
	// metadata's request); 0 when unknown, and the estimate is then not conditioned on it.
	Conversations int64 `json:"conversations,omitempty"`
	// Created is the operation's createTime as the workflow knows it (its metadata, in the API's
	// time), for when the scan does not hold the operation: beyond the scan's bound, or a scan the
	// worker reused from before the operation existed. Without it the peers could not be told
	// from the history and the "history misleads" check would be skipped. Zero: unknown.
	Created time.Time `json:"created,omitzero"`
	// StartedAt is when the workflow started the operation (workflow time): the last resort
	// against the real API, whose clock is the worker's; ignored under an APITimeScale.
	StartedAt time.Time `json:"startedAt,omitzero"`
}

// TrainingEstimate is what the location's finished trainings say about how long one takes.
// Low and High bound the span in which, by that history, about 98 % of trainings like this one
// end (counted from the operation's createTime); zero when the history says nothing.
type TrainingEstimate struct {
	Samples int           `json:"samples"`
	Median  time.Duration `json:"median,omitempty"`
	Low     time.Duration `json:"low,omitempty"`
	High    time.Duration `json:"high,omitempty"`
	// Sigma is the spread of log(duration) around the prediction.
	Sigma float64 `json:"sigma,omitempty"`
	// ByConversations: the prediction follows the conversation count (duration ∝ count^Exponent).
	ByConversations bool    `json:"byConversations,omitempty"`
	Exponent        float64 `json:"exponent,omitempty"`
	// Peers counts the trainings started within an hour of this one or later, EarlyPeers those
	// of them that ended before the history's span; Misleading: too many did (see
	// estimateAgainstPeers), and the estimate gives no span.
	Peers      int `json:"peers,omitempty"`
	EarlyPeers int `json:"earlyPeers,omitempty"`
	// RunningPeers counts the peers still running: only they can yet show the history
	// misleading, so a re-check of the estimate is worth its scan only while there are some.
	RunningPeers int  `json:"runningPeers,omitempty"`
	Misleading   bool `json:"misleading,omitempty"`
	// Calls is the number of ListOperations calls the scan made: 0 when the worker reused its
	// scan of the location from the last ScanReuse.
	Calls int `json:"calls"`
	// Why says, in a sentence, what the estimate rests on or why there is none.
	Why string `json:"why"`
}

// EstimateTraining scans the location's operations (bounded) for finished, successful
// CreateIssueModel trainings and estimates from their createTime and endTime how long this one
// will take: log(duration) fitted to log(conversations) by least squares where the counts vary
// enough, else its plain distribution; the span is the wider of the residuals' empirical 1 %
// and 99 % quantiles and ±2.33 standard deviations (a normal's 98 %), so that a few samples do
// not make it narrow. Median, Low and High are in the worker's time: the API's durations divided
// by APITimeScale (an emulator running faster than real time).
func (a *Activities) EstimateTraining(ctx context.Context, p EstimateTrainingParams) (TrainingEstimate, error) {
	c, err := a.clientOf("operation", p.Operation, insights.ValidateOperationName)
	if err != nil {
		return TrainingEstimate{}, err
	}
	ops, calls, err := a.scanTrainings(ctx, c, insights.ParentOf(p.Operation))
	if err != nil {
		return TrainingEstimate{Calls: calls}, err
	}
	var samples []trainingSample
	var own *longrunningpb.Operation
	var running []time.Time // createTimes of the trainings still running
	for _, op := range ops {
		if op.GetName() == p.Operation {
			own = op
		} else if s, ok := sampleOf(op); ok {
			samples = append(samples, s)
		} else if c := insights.CreateTimeOf(op); !op.GetDone() && isTraining(op) && !c.IsZero() {
			running = append(running, c)
		}
	}
	est := estimateAgainstPeers(samples, running, p.Conversations, a.ownCreateTime(own, p))
	est.Calls = calls
	if sc := a.APITimeScale; sc > 0 && sc != 1 && est.Median > 0 {
		div := func(d time.Duration) time.Duration { return time.Duration(float64(d) / sc).Round(time.Millisecond) }
		est.Median, est.Low, est.High = div(est.Median), div(est.Low), div(est.High)
		est.Why += fmt.Sprintf(" (in the API's time; reported divided by its time scale %g)", sc)
	}
	return est, nil
}

// ownCreateTime is the operation's createTime: from the scan when it holds the operation, else
// what the workflow passed.
func (a *Activities) ownCreateTime(own *longrunningpb.Operation, p EstimateTrainingParams) time.Time {
	if c := insights.CreateTimeOf(own); !c.IsZero() {
		return c
	}
	if !p.Created.IsZero() {
		return p.Created
	}
	if sc := a.APITimeScale; sc == 0 || sc == 1 {
		return p.StartedAt
	}
	return time.Time{}
}

// ScanReuse is how long a worker reuses its last scan of a location's operations: the runs
// training there at once share one ListOperations scan (the calls a re-check costs), at the
// price of a view up to this old (in the API's time: divided by APITimeScale).
const ScanReuse = 20 * time.Second

type locationScan struct {
	at  time.Time
	ops []*longrunningpb.Operation
}

// scanTrainings lists the location's operations (bounded: estimatePages pages), or reuses the
// worker's scan of it from the last ScanReuse; calls is the ListOperations calls made.
func (a *Activities) scanTrainings(ctx context.Context, c *contactcenterinsights.Client, parent string) (ops []*longrunningpb.Operation, calls int, err error) {
	a.scansMu.Lock()
	defer a.scansMu.Unlock() // one scan at a time per worker: the others wait and reuse it
	reuse := ScanReuse
	if sc := a.APITimeScale; sc > 1 {
		reuse = time.Duration(float64(reuse) / sc) // the API's 20 s
	}
	if s, ok := a.scans[parent]; ok && time.Since(s.at) < reuse {
		return s.ops, 0, nil
	}
	it := c.ListOperations(ctx, &longrunningpb.ListOperationsRequest{Name: parent, PageSize: estimatePageSize}, noRetry)
	pager := iterator.NewPager(it, estimatePageSize, "")
	for calls < estimatePages {
		var page []*longrunningpb.Operation
		token, err := pager.NextPage(&page)
		calls++
		if err != nil {
			return nil, calls, insights.FromAPIError("ListOperations", err)
		}
		ops = append(ops, page...)
		if token == "" {
			break
		}
	}
	if a.scans == nil {
		a.scans = map[string]locationScan{}
	}
	for k, s := range a.scans {
		if time.Since(s.at) >= reuse {
			delete(a.scans, k)
		}
	}
	a.scans[parent] = locationScan{time.Now(), ops}
	return ops, calls, nil
}

// peerWindow: trainings created this long before the operation, or after it, are its peers,
// run on today's data and code; the older ones are its history.
const peerWindow = time.Hour

// estimateAgainstPeers estimates from the history (the trainings older than the peer window)
// and then checks it against the peers, running ones included: under the history, about 1 % of
// them would end before their span's low; if significantly more did, the history misleads (the trainings have become
// faster) and the estimate gives no span, so the run polls as the plain policy does. Trainings
// that became slower only cost calls, which is no reason to distrust the history. Without a
// known createTime of the operation, or with thin history, every finished training counts.
func estimateAgainstPeers(samples []trainingSample, running []time.Time, conversations int64, created time.Time) TrainingEstimate {
	if created.IsZero() {
		return estimate(samples, conversations)
	}
	var history, peers []trainingSample
	for _, s := range samples {
		if s.created.Before(created.Add(-peerWindow)) {
			history = append(history, s)
		} else {
			peers = append(peers, s)
		}
	}
	if len(history) < minEstimateSamples {
		return estimate(samples, conversations)
	}
	est := estimate(history, conversations)
	for _, c := range running {
		if !c.Before(created.Add(-peerWindow)) {
			peers = append(peers, trainingSample{created: c, duration: -1})
			est.RunningPeers++
		}
	}
	early := 0
	for _, s := range peers {
		if s.duration >= 0 && s.duration < estimate(history, s.conversations).Low {
			early++
		}
	}
	est.Peers, est.EarlyPeers = len(peers), early
	if early > 0 && binomialTail(len(peers), early, 0.01) < 0.001 {
		est.Why = fmt.Sprintf("history misleads: %d of %d trainings started within %s of this one ended before the span the location's %d older trainings give them; polling as the plain policy does",
			early, len(peers), peerWindow, len(history))
		est.Low, est.High, est.Misleading = 0, 0, true
	}
	return est
}

// binomialTail is P(X >= k) for X ~ Binomial(n, p).
func binomialTail(n, k int, p float64) float64 {
	var below float64
	for i := range k {
		lg := lgammaOf(n+1) - lgammaOf(i+1) - lgammaOf(n-i+1)
		below += math.Exp(lg + float64(i)*math.Log(p) + float64(n-i)*math.Log1p(-p))
	}
	return max(1-below, 0)
}

func lgammaOf(n int) float64 {
	v, _ := math.Lgamma(float64(n))
	return v
}

// isTraining: op is a CreateIssueModel operation (a location lists every kind).
func isTraining(op *longrunningpb.Operation) bool {
	return op.GetMetadata().MessageIs(&contactcenterinsightspb.CreateIssueModelMetadata{})
}

type trainingSample struct {
	created       time.Time
	duration      time.Duration
	conversations int64
}

// sampleOf is a finished, successful training's duration and conversation count.
func sampleOf(op *longrunningpb.Operation) (trainingSample, bool) {
	md := &contactcenterinsightspb.CreateIssueModelMetadata{}
	if !op.GetDone() || op.GetError() != nil || op.GetMetadata().UnmarshalTo(md) != nil ||
		md.GetCreateTime() == nil || md.GetEndTime() == nil {
		return trainingSample{}, false
	}
	d := md.GetEndTime().AsTime().Sub(md.GetCreateTime().AsTime())
	if d <= 0 {
		return trainingSample{}, false
	}
	return trainingSample{md.GetCreateTime().AsTime(), d, md.GetRequest().GetIssueModel().GetInputDataConfig().GetTrainingConversationsCount()}, true
}

// estimate fits the samples; see EstimateTraining.
func estimate(samples []trainingSample, conversations int64) TrainingEstimate {
	out := TrainingEstimate{Samples: len(samples)}
	if len(samples) < minEstimateSamples {
		out.Why = fmt.Sprintf("history thin: %d finished trainings in the location, %d needed", len(samples), minEstimateSamples)
		return out
	}
	ys := make([]float64, len(samples))
	xs := make([]float64, len(samples))
	lo, hi := int64(math.MaxInt64), int64(0)
	for i, s := range samples {
		ys[i] = math.Log(s.duration.Seconds())
		if s.conversations > 0 {
			xs[i] = math.Log(float64(s.conversations))
			lo, hi = min(lo, s.conversations), max(hi, s.conversations)
		}
	}
	// Condition on the count only when this run's is known, every sample has one, and they
	// spread over at least a factor of 2 (else the slope is noise).
	byCount := conversations > 0 && !slices.Contains(xs, 0) && hi >= 2*lo
	var slope, intercept float64
	if byCount {
		mx, my := mean(xs), mean(ys)
		var sxy, sxx float64
		for i := range xs {
			sxy += (xs[i] - mx) * (ys[i] - my)
			sxx += (xs[i] - mx) * (xs[i] - mx)
		}
		slope = sxy / sxx
		intercept = my - slope*mx
	} else {
		intercept = mean(ys)
	}
	res := make([]float64, len(ys))
	for i := range ys {
		res[i] = ys[i] - (intercept + slope*xs[i])
	}
	n := float64(len(res))
	var ss float64
	for _, r := range res {
		ss += r * r
	}
	sigma := math.Sqrt(ss/max(n-2, 1)) * math.Sqrt(1+1/n)
	slices.Sort(res)
	pred := intercept
	if byCount {
		pred += slope * math.Log(float64(conversations))
	}
	const z98 = 2.326
	low := min(res[int(0.01*(n-1))], -z98*sigma)
	high := max(res[int(math.Ceil(0.99*(n-1)))], z98*sigma)
	secs := func(v float64) time.Duration {
		return time.Duration(math.Exp(v) * float64(time.Second)).Round(time.Second)
	}
	out.Median, out.Low, out.High, out.Sigma = secs(pred), secs(pred+low), secs(pred+high), sigma
	out.ByConversations, out.Exponent = byCount, slope
	if byCount {
		out.Why = fmt.Sprintf("%d finished trainings of %d–%d conversations, duration ∝ conversations^%.2f, spread σ %.2f: one of %d conversations ends %s–%s after it starts (median %s)",
			len(samples), lo, hi, slope, sigma, conversations, out.Low, out.High, out.Median)
	} else {
		out.Why = fmt.Sprintf("%d finished trainings, spread σ %.2f: %s–%s (median %s)", len(samples), sigma, out.Low, out.High, out.Median)
	}
	return out
}

func mean(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}
