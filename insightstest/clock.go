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

// JumpClock reads as its base clock plus the jumps a test made with Jump: a
// test lets time run at the base's pace and then skips, say, past the end of
// a training it has no reason to wait for. It is safe for concurrent use.
type JumpClock struct {
	base Clock
	mu   sync.Mutex
	off  time.Duration
}

// NewJumpClock returns a JumpClock that reads as base until the first Jump.
func NewJumpClock(base Clock) *JumpClock { return &JumpClock{base: base} }

// Now returns the base clock's time plus every jump so far.
func (c *JumpClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.base.Now().Add(c.off)
}

// Jump moves the clock forward by d, at once and for good.
func (c *JumpClock) Jump(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.off += d
}
