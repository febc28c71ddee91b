package activities

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

var pacerT0 = time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)

// Operations that all poll at once get slots of their own, a spacing apart: the first few
// calls go at once or within MaxPollWait, the others come back at later slots.
func TestPollPacerSpreadsABurst(t *testing.T) {
	var p pollPacer
	const rate = 2.0
	spacing := slotSpacing(rate)
	var times []time.Time
	granted := 0
	for i := range 20 {
		plan := p.plan(fmt.Sprint("op", i), pacerT0, rate)
		if plan.ok {
			granted++
			if d := plan.callAt.Sub(pacerT0); d < 0 || d > MaxPollWait {
				t.Errorf("op%d: call %s from now, want within [0, %s]", i, d, MaxPollWait)
			}
			times = append(times, plan.callAt)
		} else if plan.next.Sub(pacerT0) <= MaxPollWait {
			t.Errorf("op%d refused with a slot %s away, which it could have waited for", i, plan.next.Sub(pacerT0))
		}
		times = append(times, plan.next)
	}
	if most := int(MaxPollWait/spacing) + 1; granted == 0 || granted > most {
		t.Errorf("%d calls granted at once, want 1 to %d (MaxPollWait / spacing, and the first)", granted, most)
	}
	slices.SortFunc(times, time.Time.Compare)
	for i := 1; i < len(times); i++ {
		if d := times[i].Sub(times[i-1]); d < spacing {
			t.Fatalf("two slots %s apart, want at least %s", d, spacing)
		}
	}
}

// Operations that come back at their slots keep using 90 % of the budget, never more, and are
// not refused once the first round is placed.
func TestPollPacerSteadyUse(t *testing.T) {
	var p pollPacer
	const rate, ops = 2.0, 20
	next := map[string]time.Time{}
	for i := range ops {
		next[fmt.Sprint("op", i)] = pacerT0
	}
	var calls []time.Time
	refusedLate := 0
	for now := pacerT0; now.Before(pacerT0.Add(10 * time.Minute)); now = now.Add(50 * time.Millisecond) {
		for op, at := range next {
			if now.Before(at) {
				continue
			}
			plan := p.plan(op, now, rate)
			if plan.ok {
				calls = append(calls, plan.callAt)
			} else if now.After(pacerT0.Add(time.Minute)) {
				refusedLate++
			}
			next[op] = plan.next
		}
	}
	if refusedLate != 0 {
		t.Errorf("%d refusals after the first minute, want 0", refusedLate)
	}
	slices.SortFunc(calls, time.Time.Compare)
	for from := pacerT0.Add(time.Minute); from.Before(pacerT0.Add(9 * time.Minute)); from = from.Add(time.Second) {
		n := 0
		for _, c := range calls {
			if !c.Before(from) && c.Before(from.Add(time.Minute)) {
				n++
			}
		}
		if n > 60*rate || float64(n) < 0.85*60*rate {
			t.Fatalf("%d calls in the minute from %s, want between 85 %% and 100 %% of %d", n, from.Sub(pacerT0), int(60*rate))
		}
	}
}

func TestPollPacerCountsItsOperations(t *testing.T) {
	var p pollPacer
	for i := range 9 {
		p.plan(fmt.Sprint("op", i), pacerT0, 1)
	}
	if got := p.active(pacerT0); got != 9 {
		t.Fatalf("active = %d, want 9", got)
	}
	if plan := p.plan("op0", pacerT0, 1); plan.pace.Round(time.Millisecond) != 10*time.Second {
		t.Fatalf("pace = %s, want 10s (9 operations at 90 %% of 1/s)", plan.pace)
	}
	p.forget("op0")
	if got := p.active(pacerT0); got != 8 {
		t.Fatalf("after forget: active = %d, want 8", got)
	}
	// An operation that stopped polling here (it moved to another worker, say) drops out
	// slotExpiry after its slot.
	later := pacerT0.Add(time.Minute)
	p.plan("op1", later, 1)
	if got := p.active(later); got != 1 {
		t.Fatalf("a minute later: active = %d, want 1 (op1)", got)
	}
}

// Without any budget (a joining worker holding) nothing is called; the operation is told to
// come back sooner rather than later, and counts as polling here.
func TestPollPacerWithoutBudget(t *testing.T) {
	var p pollPacer
	var waits []time.Duration
	now := pacerT0
	for range 8 {
		plan := p.plan("op", now, 0)
		if plan.ok {
			t.Fatal("a call granted without a budget")
		}
		waits = append(waits, plan.next.Sub(now))
		now = plan.next
	}
	want := []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second, time.Minute, time.Minute, time.Minute}
	if !slices.Equal(waits, want) {
		t.Fatalf("waits %v, want %v", waits, want)
	}
	if p.active(now) != 1 {
		t.Fatal("a held operation must count as polling here")
	}
	if plan := p.plan("op", now, 1); !plan.ok {
		t.Fatal("once there is a budget the call must be granted")
	}
}
