package activities

import (
	"slices"
	"sync"
	"time"
)

// pollPacer schedules the poll loop's calls through this worker. Every operation polling here
// holds a slot of its own for its next call, the slots at least 1/(0.9 × rate) apart: runs that
// poll at their slots (PollResult.NextPollAt) use 90 % of the worker's budget and seldom find it
// spent, even when they all started at once. A call off its slot (a first poll, a poll-now, a
// run of an older release) takes the first free slot if it is at most MaxPollWait away, and is
// otherwise refused with a slot to come back at. The pacer also counts the operations polling
// here: their part of a fleet budget (package fleetbudget).
type pollPacer struct {
	mu  sync.Mutex
	ops map[string]*pacedOperation
	// slots are the reserved slots and the calls of the last spacing, sorted.
	slots    []time.Time
	prunedAt time.Time
}

type pacedOperation struct {
	seen time.Time
	// slot is the operation's next call; zero while there is no budget to schedule it in.
	slot time.Time
	// held counts the refusals in a row without a budget.
	held int
}

// slotGrace is how late after its slot an operation may still call in it (timers fire late on
// a busy server), and slotExpiry how long after it the operation still counts as polling here.
const (
	slotGrace  = MaxPollWait
	slotExpiry = 15 * time.Second
	// heldExpiry: an operation refused for want of any budget (a worker holding, see
	// fleetbudget) counts as polling here this long after its last try.
	heldExpiry = time.Minute
)

// pollPlan is the pacer's answer to one poll.
type pollPlan struct {
	// pace is the interval at which all the operations polling here fit the budget (the
	// WorkerPace the runs of older releases keep to).
	pace time.Duration
	// ok: the call may be made at callAt (at most MaxPollWait from now); otherwise come back at
	// next (zero when the worker has no budget at all).
	ok     bool
	callAt time.Time
	next   time.Time
}

// plan schedules a poll of op at now on a budget of rate calls per second.
func (p *pollPacer) plan(op string, now time.Time, rate float64) pollPlan {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ops == nil {
		p.ops = map[string]*pacedOperation{}
	}
	p.prune(now, rate)
	e := p.ops[op]
	if e == nil {
		e = &pacedOperation{}
		p.ops[op] = e
	}
	e.seen = now
	if rate <= 0 {
		p.release(e)
		e.held++
		// Come back soon, then less and less often: a joining worker holds for seconds, one
		// that cannot count its fleet may hold for long.
		return pollPlan{next: now.Add(min(MaxPollWait<<min(e.held-1, 5), time.Minute))}
	}
	e.held = 0
	spacing := slotSpacing(rate)
	plan := pollPlan{pace: time.Duration(len(p.ops)) * spacing}
	if !e.slot.IsZero() && !now.Before(e.slot.Add(-MaxPollWait)) && !now.After(e.slot.Add(slotGrace)) {
		plan.callAt = maxTime(e.slot, now) // its own slot stays in p.slots as a call
	} else {
		p.release(e)
		free := p.free(now, spacing)
		p.insert(free)
		if free.Sub(now) > MaxPollWait {
			e.slot = free
			plan.next = free
			return plan
		}
		plan.callAt = free
	}
	plan.ok = true
	e.slot = p.free(plan.callAt.Add(plan.pace), spacing)
	p.insert(e.slot)
	plan.next = e.slot
	return plan
}

// slotSpacing is the interval between two slots: the budget's, with 10 % headroom.
func slotSpacing(rate float64) time.Duration {
	return time.Duration(float64(time.Second) / (0.9 * rate))
}

// free returns the first time from at on that is spacing away from every slot.
func (p *pollPacer) free(at time.Time, spacing time.Duration) time.Time {
	i, _ := slices.BinarySearchFunc(p.slots, at.Add(-spacing), time.Time.Compare)
	for ; i < len(p.slots); i++ {
		s := p.slots[i]
		if !s.Before(at.Add(spacing)) {
			break
		}
		if s.After(at.Add(-spacing)) {
			at = s.Add(spacing)
		}
	}
	return at
}

func (p *pollPacer) insert(t time.Time) {
	i, _ := slices.BinarySearchFunc(p.slots, t, time.Time.Compare)
	p.slots = slices.Insert(p.slots, i, t)
}

// release gives up e's slot.
func (p *pollPacer) release(e *pacedOperation) {
	if e.slot.IsZero() {
		return
	}
	if i, found := slices.BinarySearchFunc(p.slots, e.slot, time.Time.Compare); found {
		p.slots = slices.Delete(p.slots, i, i+1)
	}
	e.slot = time.Time{}
}

// prune, at most once a second, drops the operations that no longer poll here and the calls
// too old to matter to the spacing.
func (p *pollPacer) prune(now time.Time, rate float64) {
	if now.Sub(p.prunedAt) < time.Second {
		return
	}
	p.prunedAt = now
	for name, e := range p.ops {
		if !e.polling(now) {
			p.release(e)
			delete(p.ops, name)
		}
	}
	keepFrom := now.Add(-time.Minute)
	if rate > 0 {
		keepFrom = now.Add(-slotSpacing(rate))
	}
	owned := map[time.Time]bool{}
	for _, e := range p.ops {
		owned[e.slot] = true
	}
	p.slots = slices.DeleteFunc(p.slots, func(s time.Time) bool { return s.Before(keepFrom) && !owned[s] })
}

func (e *pacedOperation) polling(now time.Time) bool {
	if e.slot.IsZero() {
		return now.Sub(e.seen) <= heldExpiry
	}
	return !now.After(e.slot.Add(slotExpiry))
}

// active is how many operations poll through this worker.
func (p *pollPacer) active(now time.Time) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, e := range p.ops {
		if e.polling(now) {
			n++
		}
	}
	return n
}

// forget drops a finished operation.
func (p *pollPacer) forget(op string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e := p.ops[op]; e != nil {
		p.release(e)
		delete(p.ops, op)
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
