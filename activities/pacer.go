package activities

import (
	"sync"
	"time"
)

// pollPacer remembers which operations polled through this worker lately, to tell each run the
// interval at which all of them fit the worker's poll budget: active operations / rate, with 10 %
// headroom. Every run gets the same answer, so the budget is shared evenly, and the runs wait in
// their durable timers rather than in the worker.
type pollPacer struct {
	mu       sync.Mutex
	lastSeen map[string]time.Time
	prunedAt time.Time
}

// minInterval records a poll of op at now and returns the interval for a budget of rate polls
// per second.
func (p *pollPacer) minInterval(op string, now time.Time, rate float64) time.Duration {
	if rate <= 0 {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.lastSeen == nil {
		p.lastSeen = map[string]time.Time{}
	}
	p.lastSeen[op] = now
	interval := func() time.Duration {
		return time.Duration(float64(len(p.lastSeen)) / (0.9 * rate) * float64(time.Second))
	}
	// An operation counts as active until it has not polled for three of these intervals (at
	// least a minute): it polls once per interval while it runs.
	if now.Sub(p.prunedAt) >= time.Second {
		window := max(time.Minute, 3*interval())
		for name, t := range p.lastSeen {
			if now.Sub(t) > window {
				delete(p.lastSeen, name)
			}
		}
		p.prunedAt = now
	}
	return interval()
}

// forget drops a finished operation.
func (p *pollPacer) forget(op string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.lastSeen, op)
}
