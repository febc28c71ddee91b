package activities

import (
	"testing"
	"time"
)

func TestPollPacerSharesTheBudget(t *testing.T) {
	var p pollPacer
	t0 := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	// 9 operations on a budget of 1 poll/s with 10% headroom: one poll each every 10s.
	var got time.Duration
	for i := range 9 {
		got = p.minInterval(string(rune('a'+i)), t0, 1)
	}
	if got != 10*time.Second {
		t.Fatalf("interval = %s, want 10s", got)
	}
	p.forget("a")
	if got = p.minInterval("b", t0.Add(time.Second), 1); got.Truncate(time.Millisecond) != 8888*time.Millisecond {
		t.Fatalf("after one finished: %s, want 8.888s", got)
	}
	// Operations that stop polling drop out after three intervals (at least a minute).
	if got = p.minInterval("b", t0.Add(2*time.Minute), 1); got.Truncate(time.Millisecond) != 1111*time.Millisecond {
		t.Fatalf("after the others went quiet: %s, want 1.111s (b alone)", got)
	}
	if p.minInterval("x", t0, 0) != 0 {
		t.Fatal("no budget must mean no pace")
	}
}
