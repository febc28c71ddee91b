package insightstest

import (
	"sync"
	"time"
)

// Clock is the emulator's notion of "now". Every emulated duration
// (training, deploy, undeploy, delete, operation visibility and TTL) is
// measured against it; operation progress is computed lazily from it on
// each read.
type Clock interface {
	Now() time.Time
}

type realClock struct {
	start time.Time
	scale float64
}

// RealClock returns a clock that runs scale times faster than wall time:
// Now() = start + elapsed*scale, where start is the wall time when
// RealClock was called. With scale 60 one real second is one emulated
// minute. A scale <= 0 is treated as 1.
func RealClock(scale float64) Clock {
	if scale <= 0 {
		scale = 1
	}
	return &realClock{start: time.Now(), scale: scale}
}

func (c *realClock) Now() time.Time {
	el := time.Since(c.start) // monotonic
	if c.scale == 1 {
		return c.start.Add(el)
	}
	return c.start.Add(time.Duration(float64(el) * c.scale))
}

// FakeClock is a manually driven clock for tests. It is safe for
// concurrent use.
type FakeClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewFakeClock returns a FakeClock reading t. A zero t means
// 2026-01-01T00:00:00Z.
func NewFakeClock(t time.Time) *FakeClock {
	if t.IsZero() {
		t = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	return &FakeClock{now: t}
}

// Now returns the clock's current time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d (negative d is ignored).
func (c *FakeClock) Advance(d time.Duration) {
	if d <= 0 {
		return
	}
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}
