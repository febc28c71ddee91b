package fleetbudget

import (
	"context"
	"math"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"golang.org/x/time/rate"

	"github.com/issuemodels/durable-lro/internal/devserver"
)

func TestShareLeavesRoomForBursts(t *testing.T) {
	for _, c := range []struct {
		perSecond float64
		workers   int
	}{{5, 1}, {5, 3}, {30, 7}, {0.1, 3}} {
		s := Share(c.perSecond, c.workers)
		// Each worker's limiter allows share×60 + 1 (its burst) calls in a minute.
		if got, budget := float64(c.workers)*(s*60+1), c.perSecond*60; got > budget+1e-9 && s > 0 {
			t.Errorf("Share(%v, %d) = %v: the fleet could make %v calls a minute, budget %v", c.perSecond, c.workers, s, got, budget)
		}
		if s < 0 {
			t.Errorf("Share(%v, %d) = %v < 0", c.perSecond, c.workers, s)
		}
	}
	if got := Share(5, 3); math.Abs(got-(300.0-3)/180) > 1e-12 {
		t.Errorf("Share(5, 3) = %v", got)
	}
}

// TestWeightedFollowsThePolling: the shares of workers whose polling adds up to the fleet's
// stay within the budget, bursts included, and follow the polling: a worker that serves all the
// fleet's runs (the others joined after them, or died) takes nearly the whole budget.
func TestWeightedFollowsThePolling(t *testing.T) {
	const perSecond = 6.0
	for _, mine := range [][]int{{20, 20, 20}, {60, 0, 0}, {0, 0, 0}, {1, 0}, {5}, {30, 29, 1, 0}} {
		fleet := 0
		for _, m := range mine {
			fleet += m
		}
		var total float64
		for _, m := range mine {
			total += Weighted(perSecond, len(mine), m, fleet)*60 + 1
		}
		if total > perSecond*60+1e-9 {
			t.Errorf("%v: the fleet could make %v calls a minute, budget %v", mine, total, perSecond*60)
		}
	}
	if got := Weighted(perSecond, 3, 60, 60); got < 0.95*perSecond {
		t.Errorf("the worker serving all 60 runs of 3 workers takes %v/s, want most of %v", got, perSecond)
	}
	if got, equal := Weighted(perSecond, 3, 20, 60), Share(perSecond, 3); math.Abs(got-equal) > 0.01 {
		t.Errorf("an even split gives %v/s, want about Share's %v", got, equal)
	}
	if got := Weighted(perSecond, 3, 0, 60); got <= 0 {
		t.Error("a worker serving none must still take a little, for the first poll that moves to it")
	}
}

// TestDecideHoldsUntilEveryoneCounted walks one worker through joining, a second worker
// joining, a server that forgets its pollers, and a worker that dies.
func TestDecideHoldsUntilEveryoneCounted(t *testing.T) {
	s, err := New(Options{Service: fakeService{}, TaskQueue: "q", Identity: "me", PerSecond: 6,
		Limiter: rate.NewLimiter(100, 1), Refresh: time.Second, LiveWindow: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if s.opts.Limiter.Limit() != 0 || s.opts.Limiter.Burst() != 0 {
		t.Fatalf("a new Sharer must hold the limiter at zero, got %v/%d", s.opts.Limiter.Limit(), s.opts.Limiter.Burst())
	}
	t0 := time.Unix(1000, 0)
	at := func(sec float64) time.Time { return t0.Add(time.Duration(sec * float64(time.Second))) }
	steps := []struct {
		now       time.Time
		lastPolls map[string]time.Time
		workers   int
		share     float64
		why       string
	}{
		{at(0), map[string]time.Time{"other": at(0)}, 2, 0, "not listed yet: counts itself, holds"},
		{at(1), map[string]time.Time{"other": at(1), "me": at(0.5)}, 2, 0, "listed for 0 s: holds"},
		{at(2), map[string]time.Time{"other": at(2), "me": at(2)}, 2, 0, "listed for 1 s < HoldFor: holds"},
		{at(3), map[string]time.Time{"other": at(3), "me": at(3)}, 2, Share(6, 2), "listed for 2 s: takes half"},
		{at(4), map[string]time.Time{"other": at(4), "me": at(4), "new": at(4)}, 3, Share(6, 3), "a third is listed: lowers at once"},
		{at(5), map[string]time.Time{}, 1, 0, "the server forgot every poller (restart): holds"},
		{at(6), map[string]time.Time{"me": at(6), "other": at(6)}, 2, 0, "listed again: holds again"},
		{at(8), map[string]time.Time{"me": at(8), "other": at(6)}, 2, Share(6, 2), "listed for 2 s again"},
		{at(16), map[string]time.Time{"me": at(16), "other": at(6)}, 2, Share(6, 2), "the other's last poll is LiveWindow old: still counted"},
		{at(16.5), map[string]time.Time{"me": at(16), "other": at(6)}, 1, Share(6, 1), "older than LiveWindow: it is gone, take all"},
	}
	for _, st := range steps {
		w, share := s.decide(st.now, st.lastPolls)
		if w != st.workers || share != st.share {
			t.Errorf("%s: workers %d share %v, want %d and %v", st.why, w, share, st.workers, st.share)
		}
	}
}

// fakeService satisfies New where only decide is tested; the counting itself is tested against
// a real server below.
type fakeService struct {
	workflowservice.WorkflowServiceClient
}

// TestCountsTheWorkersOnARealServer runs three SDK workers with their own identities on a dev
// server: each Sharer counts three live workers and takes a third of the budget.
func TestCountsTheWorkersOnARealServer(t *testing.T) {
	srv := devserver.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const tq = "fleetbudget-count"
	var sharers []*Sharer
	for _, id := range []string{"worker-a", "worker-b", "worker-c"} {
		c, err := client.Dial(client.Options{HostPort: srv.HostPort, Identity: id})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		w := worker.New(c, tq, worker.Options{})
		w.RegisterWorkflowWithOptions(func(workflow.Context) error { return nil }, workflow.RegisterOptions{Name: "Noop"})
		if err := w.Start(); err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		s, err := New(Options{Service: c.WorkflowService(), Namespace: "default", TaskQueue: tq, Identity: id,
			PerSecond: 9, Limiter: rate.NewLimiter(0, 0), Refresh: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		sharers = append(sharers, s)
		go s.Run(ctx)
	}
	want := Share(9, 3)
	for _, s := range sharers {
		for rate.Limit(want) != s.opts.Limiter.Limit() {
			if ctx.Err() != nil {
				t.Fatalf("%s: share %v with %d workers counted, want %v of 3", s.opts.Identity, s.opts.Limiter.Limit(), s.Workers(), want)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if s.Workers() != 3 || s.opts.Limiter.Burst() != 1 {
			t.Errorf("%s: %d workers, burst %d", s.opts.Identity, s.Workers(), s.opts.Limiter.Burst())
		}
	}
}
