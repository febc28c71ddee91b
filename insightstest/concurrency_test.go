package insightstest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestConcurrency(t *testing.T) {
	e := newEnv(t, Options{MaxConcurrentCreates: Unlimited, MaxModels: Unlimited, RequestsPerMinute: Unlimited})
	const workers, total = 8, 500
	parents := []string{parent, parent2, "projects/p2/locations/us-central1"}
	stop := make(chan struct{})
	var bg sync.WaitGroup
	bg.Add(1)
	go func() { // the clock keeps moving, ops finish while others start
		defer bg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
				e.clock.Advance(10 * time.Second)
				_ = e.srv.Stats()
			}
		}
	}()
	var next, cancelled atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, total)
	for w := 0; w < workers; w++ {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= total {
					return
				}
				p := parents[i%int64(len(parents))]
				op, err := e.client.CreateIssueModel(e.ctx, createReq(p, fmt.Sprintf("m%d", i)), noRetry)
				if err != nil {
					errs <- err
					return
				}
				if i%10 == 0 {
					if err := e.cancel(op.Name()); err != nil {
						errs <- err
						return
					}
					cancelled.Add(1)
				}
				if _, err := op.Poll(e.ctx, noRetry); err != nil && status.Code(err) != codes.Canceled {
					errs <- err
					return
				}
				if i%50 == 0 {
					if _, err := e.listOps(t, p, "done=false", 7); err != nil {
						errs <- err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	bg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	e.clock.Advance(time.Hour)
	checkAllSettled(t, e, parents, total, cancelled.Load())
}

// checkAllSettled checks that every one of the total creates ended, cancelled or succeeded, and
// that the listings, the stats and the models agree (cancelRequests: cancels sent).
func checkAllSettled(t *testing.T, e *env, parents []string, total int, cancelRequests int64) {
	t.Helper()
	var done, failed int
	for _, p := range parents {
		ops, err := e.listOps(t, p, "done=true", 1000)
		if err != nil {
			t.Fatal(err)
		}
		done += len(ops)
		for _, op := range ops {
			if op.GetError() != nil {
				failed++
			}
		}
		if running, _ := e.listOps(t, p, "done=false", 0); len(running) != 0 {
			t.Fatalf("%d ops still running", len(running))
		}
	}
	if done != total {
		t.Fatalf("%d done ops, want %d", done, total)
	}
	// A cancel may race with the clock and find the op already done.
	st := e.srv.Stats()
	if st.Operations["cancelled"] != int64(failed) || st.Operations["cancelled"] > cancelRequests ||
		st.Operations["succeeded"]+st.Operations["cancelled"] != int64(total) || st.Operations["running"] != 0 {
		t.Fatalf("stats %v (cancel requests %d, errors %d)", st.Operations, cancelRequests, failed)
	}
	var created int64
	for _, n := range st.ModelsCreated {
		created += n
	}
	if created != int64(total) {
		t.Fatalf("models created %d", created)
	}
	var models int
	for _, p := range parents {
		models += len(e.srv.Models(p))
	}
	if models != total-failed {
		t.Fatalf("%d models left, want %d", models, total-failed)
	}
}
