package workflows

import (
	"fmt"
	"math"
	"time"

	"github.com/issuemodels/durable-lro/insights"
)

// PollingPolicy controls how an operation is awaited. Durations are strings such as "30s" or
// "2h". Every field is optional.
type PollingPolicy struct {
	// InitialInterval is the wait before the first poll and the base of the backoff.
	InitialInterval string `json:"initialInterval,omitempty"`
	// Multiplier grows the interval after each poll, up to MaxInterval.
	Multiplier float64 `json:"multiplier,omitempty"`
	// MaxInterval caps the interval between polls.
	MaxInterval string `json:"maxInterval,omitempty"`
	// AgeFraction, when positive, lets the interval grow past MaxInterval to this fraction of
	// the operation's age (0.05: an operation running for an hour is polled every 3 minutes),
	// trading absolute detection lag on long operations for API calls. Off by default; not
	// applied while a cancellation is being confirmed.
	AgeFraction float64 `json:"ageFraction,omitempty"`
	// Timeout bounds the whole wait, counted from when the operation was started or attached;
	// when it passes, cancellation is requested and the run fails with PollTimeout.
	Timeout string `json:"timeout,omitempty"`
	// Jitter spreads each interval by ±Jitter (a fraction) so that thousands of runs do not
	// poll in lockstep. Default 0.1.
	Jitter *float64 `json:"jitter,omitempty"`
	// NotFoundGrace is how long after the operation started a NOT_FOUND from GetOperation is
	// taken for eventual consistency and tolerated; later it means the operation vanished.
	NotFoundGrace string `json:"notFoundGrace,omitempty"`
	// ContinueAsNewAfterPolls continues the run as new after this many polls (default 500, at
	// most 600), or earlier when its history reaches 3,500 events or Temporal suggests it, so
	// that no run's history passes 4,096 events however long the operation takes (a poll costs
	// 11 events, so with the defaults a run continues as new after about 317 polls).
	ContinueAsNewAfterPolls int `json:"continueAsNewAfterPolls,omitempty"`
	// Learn (CreateIssueModelWorkflow only) skips the polls that the location's finished
	// trainings say are wasted: after the early polls, one EstimateTraining scan of the
	// location's operations predicts this training's span; the run makes no poll until the
	// span's low (while other trainings run beside it, re-checking the estimate, so that their
	// ending sooner than the history said stops the skip), then polls at the policy's cadence. Thin, misleading or
	// missing history leaves the plain policy. Off by default (docs/PERFORMANCE.md, "Learned
	// polling").
	Learn bool `json:"learn,omitempty"`
}

// Defaults suit trainings of minutes to hours and were tuned with the bench (docs/PERFORMANCE.md)
// against op.Wait, whose full-jitter backoff polls every 30s on average once it reaches its 1m
// cap: polling every 45s ±10% notices the end of a long training as promptly at the 99th
// percentile (within ~50s) for about two thirds of the GetOperation calls; the first poll after
// 10s, growing by 1.5x, catches requests that fail fast. One run costs ~80 calls per hour, so a
// project's quota of 3,000 calls a minute serves ~2,000 concurrent runs beside its other calls.
// A day is far beyond any documented training time and still finite.
const (
	DefaultInitialInterval         = 10 * time.Second
	DefaultMultiplier              = 1.5
	DefaultMaxInterval             = 45 * time.Second
	DefaultTimeout                 = 24 * time.Hour
	DefaultJitter                  = 0.1
	DefaultNotFoundGrace           = 2 * time.Minute
	DefaultContinueAsNewAfterPolls = 500
)

// DefaultPollingPolicy is the policy a run uses when its input sets none, spelled out.
func DefaultPollingPolicy() PollingPolicy {
	jitter := DefaultJitter
	return PollingPolicy{
		InitialInterval:         DefaultInitialInterval.String(),
		Multiplier:              DefaultMultiplier,
		MaxInterval:             DefaultMaxInterval.String(),
		Timeout:                 DefaultTimeout.String(),
		Jitter:                  &jitter,
		NotFoundGrace:           DefaultNotFoundGrace.String(),
		ContinueAsNewAfterPolls: DefaultContinueAsNewAfterPolls,
	}
}

// Bounds that reject nonsensical policies.
const (
	minPolicyInterval = time.Second
	maxInterval       = 24 * time.Hour
	maxTimeout        = 366 * 24 * time.Hour
	maxMultiplier     = 10
	maxNotFoundGrace  = time.Hour
	maxAgeFraction    = 0.5
	// maxContinueAsNewAfterPolls bounds the count; the history length bounds a run's events
	// (maxHistoryEvents).
	maxContinueAsNewAfterPolls = 600
)

// validPolicy is a validated PollingPolicy with defaults applied.
type validPolicy struct {
	initial, max, timeout, notFoundGrace time.Duration
	multiplier, jitter, ageFraction      float64
	continueAsNewAfterPolls              int
	learn                                bool
}

func parseDuration(field, s string, def, min, max time.Duration) (time.Duration, error) {
	if s == "" {
		return def, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, insights.InvalidArgument(field, fmt.Sprintf("%q is not a duration such as \"30s\" or \"2h\"", insights.Clip(s)))
	}
	if d < min || d > max {
		return 0, insights.InvalidArgument(field, fmt.Sprintf("%s is outside %s..%s", d, min, max))
	}
	return d, nil
}

// parse validates the policy; prefix names it in errors (e.g. "polling").
func (p *PollingPolicy) parse(prefix string) (validPolicy, error) {
	if p == nil {
		p = &PollingPolicy{}
	}
	out := validPolicy{multiplier: p.Multiplier, jitter: DefaultJitter, ageFraction: p.AgeFraction, continueAsNewAfterPolls: p.ContinueAsNewAfterPolls, learn: p.Learn}
	var err error
	if out.initial, err = parseDuration(prefix+".initialInterval", p.InitialInterval, DefaultInitialInterval, minPolicyInterval, maxInterval); err != nil {
		return out, err
	}
	defMax := max(DefaultMaxInterval, out.initial)
	if out.max, err = parseDuration(prefix+".maxInterval", p.MaxInterval, defMax, minPolicyInterval, maxInterval); err != nil {
		return out, err
	}
	if out.max < out.initial {
		return out, insights.InvalidArgument(prefix+".maxInterval", fmt.Sprintf("%s is shorter than initialInterval %s", out.max, out.initial))
	}
	if out.timeout, err = parseDuration(prefix+".timeout", p.Timeout, DefaultTimeout, minPolicyInterval, maxTimeout); err != nil {
		return out, err
	}
	if out.timeout < out.initial {
		return out, insights.InvalidArgument(prefix+".timeout", fmt.Sprintf("%s is shorter than initialInterval %s", out.timeout, out.initial))
	}
	if out.notFoundGrace, err = parseDuration(prefix+".notFoundGrace", p.NotFoundGrace, DefaultNotFoundGrace, 0, maxNotFoundGrace); err != nil {
		return out, err
	}
	switch {
	case out.multiplier == 0:
		out.multiplier = DefaultMultiplier
	case math.IsNaN(out.multiplier) || out.multiplier < 1 || out.multiplier > maxMultiplier:
		return out, insights.InvalidArgument(prefix+".multiplier", fmt.Sprintf("%v is outside 1..%d", p.Multiplier, maxMultiplier))
	}
	if f := out.ageFraction; math.IsNaN(f) || f < 0 || f > maxAgeFraction {
		return out, insights.InvalidArgument(prefix+".ageFraction", fmt.Sprintf("%v is outside 0..%g", f, maxAgeFraction))
	}
	if p.Jitter != nil {
		if j := *p.Jitter; math.IsNaN(j) || j < 0 || j > 1 {
			return out, insights.InvalidArgument(prefix+".jitter", fmt.Sprintf("%v is outside 0..1", j))
		}
		out.jitter = *p.Jitter
	}
	switch n := out.continueAsNewAfterPolls; {
	case n == 0:
		out.continueAsNewAfterPolls = DefaultContinueAsNewAfterPolls
	case n < 0 || n > maxContinueAsNewAfterPolls:
		return out, insights.InvalidArgument(prefix+".continueAsNewAfterPolls", fmt.Sprintf("%d is outside 1..%d", n, maxContinueAsNewAfterPolls))
	}
	return out, nil
}

// interval is the wait before poll number k (0-based since the last backoff reset), before
// jitter: initial·multiplier^k, capped at max.
func (p validPolicy) interval(k int) time.Duration {
	d := float64(p.initial) * math.Pow(p.multiplier, float64(k))
	if d > float64(p.max) || math.IsInf(d, 0) {
		return p.max
	}
	return time.Duration(d)
}

// ageInterval is the wait before the next poll of an operation that has run for age: the
// backoff interval, or the age fraction of age when that is longer (at most 24h).
func (p validPolicy) ageInterval(k int, age time.Duration) time.Duration {
	d := p.interval(k)
	if p.ageFraction > 0 {
		d = max(d, min(time.Duration(p.ageFraction*float64(age)), maxInterval))
	}
	return d
}
