// Package fleetbudget shares one GetOperation budget among all the workers of a task queue.
//
// Each worker counts the live workers itself, from what the Temporal server already knows: the
// pollers it reports for every partition of the task queue (ListTaskQueuePartitions, then
// DescribeTaskQueue per partition). The budget is divided by the polling each worker serves:
// a worker counts the operations polling through it (Options.Polling) and, by a visibility
// query (Options.PollingQuery), the runs polling through the whole fleet, and takes its part
// (Weighted). Runs stay on the worker that has their history cached (sticky execution), so a
// worker that joins a loaded fleet gets few of them for a long time; an equal split would leave
// its part of the budget unused while the others' runs wait. Without the count (no query, or
// visibility cannot answer) a worker takes budget / live workers (Share). There is no
// coordinator and no datastore of our own. The rules that keep the fleet under its budget at
// every moment, workers joining and leaving included:
//   - a worker takes nothing until the server has listed it, continuously, for two refreshes
//     (HoldFor): by then every other worker has counted it and lowered its own share;
//   - a worker that the server stops listing (after a server restart, say) holds again;
//   - a worker lowers its share at the first refresh that counts one more worker;
//   - a worker that died is counted until its last poll is LiveWindow old (its share then goes
//     unused, which errs on the side of the budget);
//   - the shares leave room for each worker's burst of one call;
//   - a worker serving no polling yet still takes a little (one operation's part), so that the
//     first poll of a run that moves to it is not refused.
package fleetbudget

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.uber.org/zap"
	"golang.org/x/time/rate"
)

const (
	// DefaultRefresh is how often a worker recounts the fleet (1 + partitions cheap calls).
	// Short, because a joining worker holds for two refreshes and the polls it is asked for
	// meanwhile are refused.
	DefaultRefresh = 2 * time.Second
	// DefaultLiveWindow is how recent a worker's last poll must be for it to count as live. An
	// idle worker's long poll is answered empty after a minute (the server's
	// matching.longPollExpirationInterval) and it polls again at once, so a live worker has
	// always polled within a minute and a little.
	DefaultLiveWindow = 75 * time.Second
)

// Options configure a Sharer.
type Options struct {
	// Service is the Temporal client's workflow service (client.Client.WorkflowService()).
	Service   workflowservice.WorkflowServiceClient
	Namespace string
	TaskQueue string
	// Identity is this worker's client identity, as its pollers present it to the server.
	Identity string
	// PerSecond is the fleet's budget: GetOperation calls per second for all its workers.
	PerSecond float64
	// Polling is how many operations polled through this worker lately, and PollingQuery a
	// visibility query that counts the runs polling through the whole fleet; with both, the
	// budget is divided by polling rather than by workers.
	Polling      func() int
	PollingQuery string
	// Limiter is this worker's limiter of GetOperation calls; the Sharer sets its limit.
	Limiter *rate.Limiter
	Logger  *zap.Logger
	// Refresh and LiveWindow default to DefaultRefresh and DefaultLiveWindow.
	Refresh    time.Duration
	LiveWindow time.Duration
}

// Sharer keeps Options.Limiter at this worker's share of the fleet's budget.
type Sharer struct {
	opts Options
	// listedSince is when the server began listing this worker without a gap; zero while it
	// does not list it.
	listedSince time.Time
	mu          sync.Mutex // guards workers and share, which Workers reads
	workers     int
	share       float64
	// logged and loggedShare: the last share logged.
	logged      bool
	loggedShare float64
	// countFailed says the last PollingQuery failed (logged once per failure streak).
	countFailed bool
}

// New returns a Sharer; it holds the limiter at zero until Run has counted the fleet.
func New(opts Options) (*Sharer, error) {
	switch {
	case opts.Service == nil || opts.Limiter == nil:
		return nil, fmt.Errorf("fleetbudget: Service and Limiter are required")
	case opts.TaskQueue == "" || opts.Identity == "":
		return nil, fmt.Errorf("fleetbudget: TaskQueue and Identity are required")
	case !(opts.PerSecond > 0) || math.IsInf(opts.PerSecond, 0):
		return nil, fmt.Errorf("fleetbudget: the budget must be a positive number of calls per second, not %v", opts.PerSecond)
	}
	if opts.Refresh <= 0 {
		opts.Refresh = DefaultRefresh
	}
	if opts.LiveWindow <= 0 {
		opts.LiveWindow = DefaultLiveWindow
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	s := &Sharer{opts: opts}
	s.apply(0, 0)
	return s, nil
}

// Workers is how many live workers the last count found.
func (s *Sharer) Workers() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.workers
}

// HoldFor is how long the server must have listed a worker before it takes a share.
func (s *Sharer) HoldFor() time.Duration { return 2 * s.opts.Refresh }

// Run recounts the fleet every Refresh until ctx ends. When the server cannot be asked, the
// worker keeps its share: it cannot get workflow tasks from that server either.
func (s *Sharer) Run(ctx context.Context) {
	t := time.NewTicker(s.opts.Refresh)
	defer t.Stop()
	for {
		lastPolls, err := s.pollers(ctx)
		if err != nil && ctx.Err() == nil {
			s.opts.Logger.Warn("fleet budget: could not count the workers; keeping this worker's share",
				zap.Error(err), zap.Float64("share_per_second", s.share))
		}
		if err == nil {
			workers, share := s.decide(time.Now(), lastPolls)
			if share > 0 {
				if mine, fleet, ok := s.polling(ctx); ok {
					share = Weighted(s.opts.PerSecond, workers, mine, fleet)
				}
			}
			s.apply(workers, share)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// decide returns the number of live workers and this worker's share, given each poller
// identity's last poll.
func (s *Sharer) decide(now time.Time, lastPolls map[string]time.Time) (workers int, share float64) {
	for _, last := range lastPolls {
		if now.Sub(last) <= s.opts.LiveWindow {
			workers++
		}
	}
	last, listed := lastPolls[s.opts.Identity]
	if !listed || now.Sub(last) > s.opts.LiveWindow {
		s.listedSince = time.Time{}
		return workers + 1, 0
	}
	if s.listedSince.IsZero() {
		s.listedSince = now
	}
	if now.Sub(s.listedSince) < s.HoldFor() {
		return workers, 0
	}
	return workers, Share(s.opts.PerSecond, workers)
}

// Share is one of workers' share of perSecond: perSecond/workers less one call a minute, the
// room for the worker's burst of one call, so that the fleet's calls in any minute stay within
// perSecond × 60.
func Share(perSecond float64, workers int) float64 {
	n := float64(max(workers, 1))
	return max(0, (perSecond*60-n)/(60*n))
}

// Weighted is the share of perSecond of a worker serving mine of the fleet's polling operations
// among workers: the budget left after every worker's burst (one call a minute each), divided
// in proportion to mine + 1. The fleet's shares add up to that budget at most while the workers'
// counts add up to fleet at most; each worker's + 1 lets a first poll through where it serves
// none yet.
func Weighted(perSecond float64, workers, mine, fleet int) float64 {
	n := max(workers, 1)
	fleet = max(fleet, mine, 0)
	return max(0, perSecond-float64(n)/60) * float64(max(mine, 0)+1) / float64(fleet+n)
}

// polling returns the operations polling through this worker and the runs polling through the
// fleet, when both are known.
func (s *Sharer) polling(ctx context.Context) (mine, fleet int, ok bool) {
	if s.opts.Polling == nil || s.opts.PollingQuery == "" {
		return 0, 0, false
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Refresh)
	defer cancel()
	resp, err := s.opts.Service.CountWorkflowExecutions(ctx, &workflowservice.CountWorkflowExecutionsRequest{
		Namespace: s.opts.Namespace, Query: s.opts.PollingQuery,
	})
	if err != nil {
		if !s.countFailed && ctx.Err() == nil {
			s.opts.Logger.Warn("fleet budget: could not count the fleet's polling runs; dividing the budget by workers",
				zap.String("query", s.opts.PollingQuery), zap.Error(err))
		}
		s.countFailed = true
		return 0, 0, false
	}
	s.countFailed = false
	return s.opts.Polling(), int(resp.GetCount()), true
}

// apply sets the limiter and logs a change of workers or holding, or of the share by more than
// a tenth (a weighted share moves a little at every refresh).
func (s *Sharer) apply(workers int, share float64) {
	burst := 1
	if share == 0 {
		burst = 0 // holding: not even one call
	}
	s.opts.Limiter.SetBurst(burst)
	s.opts.Limiter.SetLimit(rate.Limit(share))
	prevWorkers, prevShare := s.workers, s.loggedShare
	s.mu.Lock()
	s.workers, s.share = workers, share
	s.mu.Unlock()
	if s.logged && workers == prevWorkers && (share == 0) == (prevShare == 0) && math.Abs(share-prevShare) <= prevShare/10 {
		return
	}
	s.logged, s.loggedShare = true, share
	s.opts.Logger.Info("fleet budget: this worker's share of GetOperation calls",
		zap.Int("live_workers", workers), zap.Float64("fleet_per_second", s.opts.PerSecond),
		zap.Float64("share_per_second", share), zap.Bool("holding", share == 0))
}

// pollers returns the last poll of every identity that polled the task queue's workflow tasks,
// over all its partitions (a worker's polls land on any of them).
func (s *Sharer) pollers(ctx context.Context) (map[string]time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.Refresh)
	defer cancel()
	parts, err := s.opts.Service.ListTaskQueuePartitions(ctx, &workflowservice.ListTaskQueuePartitionsRequest{
		Namespace: s.opts.Namespace, TaskQueue: &taskqueuepb.TaskQueue{Name: s.opts.TaskQueue, Kind: enumspb.TASK_QUEUE_KIND_NORMAL},
	})
	if err != nil {
		return nil, fmt.Errorf("listing the partitions of %s: %w", s.opts.TaskQueue, err)
	}
	keys := []string{s.opts.TaskQueue}
	for _, p := range parts.GetWorkflowTaskQueuePartitions() {
		if k := p.GetKey(); k != s.opts.TaskQueue {
			keys = append(keys, k)
		}
	}
	last := map[string]time.Time{}
	for _, key := range keys {
		d, err := s.opts.Service.DescribeTaskQueue(ctx, &workflowservice.DescribeTaskQueueRequest{
			Namespace:     s.opts.Namespace,
			TaskQueue:     &taskqueuepb.TaskQueue{Name: key, Kind: enumspb.TASK_QUEUE_KIND_NORMAL},
			TaskQueueType: enumspb.TASK_QUEUE_TYPE_WORKFLOW,
		})
		if err != nil {
			return nil, fmt.Errorf("describing partition %s: %w", key, err)
		}
		for _, p := range d.GetPollers() {
			if t := p.GetLastAccessTime().AsTime(); t.After(last[p.GetIdentity()]) {
				last[p.GetIdentity()] = t
			}
		}
	}
	return last, nil
}
