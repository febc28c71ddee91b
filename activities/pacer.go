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
	p.prune(now, rate)
	return p.interval(rate)
}

func (p *pollPacer) interval(rate float64) time.Duration {
	return time.Duration(float64(len(p.lastSeen)) / (0.9 * rate) * float64(time.Second))
}

// prune drops the operations that count as gone: an operation counts as active until it has
// not polled for three intervals (at least a minute), as it polls once per interval while it
// runs.
func (p *pollPacer) prune(now time.Time, rate float64) {
	if now.Sub(p.prunedAt) < time.Second {
		return
	}
	window := time.Minute
	if rate > 0 {
		window = max(window, 3*p.interval(rate))
	}
	for name, t := range p.lastSeen {
		if now.Sub(t) > window {
			delete(p.lastSeen, name)
		}
	}
	p.prunedAt = now
}

// active is how many operations polled through this worker lately.
func (p *pollPacer) active(now time.Time, rate float64) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.prune(now, rate)
	return len(p.lastSeen)
}

// forget drops a finished operation.
func (p *pollPacer) forget(op string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.lastSeen, op)
}
