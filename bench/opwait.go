package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	contactcenterinsights "cloud.google.com/go/contactcenterinsights/apiv1"
	"github.com/googleapis/gax-go/v2"

	"github.com/issuemodels/durable-lro/insightsclient"
	"github.com/issuemodels/durable-lro/internal/proc"
)

// opWaitLine is what the opwait role prints for each operation, one JSON object per line.
type opWaitLine struct {
	Index     int       `json:"i"`
	Operation string    `json:"operation,omitempty"`
	OK        bool      `json:"ok"`
	Error     string    `json:"error,omitempty"`
	DoneAt    time.Time `json:"doneAt"` // wall clock
}

// runOpWaitRole creates cfg.ops operations in cfg.parent (operation i with filterFor(cfg.workload, i)) (at most cfg.concurrency creations in
// flight) and waits for each in its own goroutine the way a user of the Google library does:
// op.Wait. The client is the library's default one (its own retries on), pointed at the
// emulator by INSIGHTS_EMULATOR_HOST.
func runOpWaitRole(ctx context.Context, cfg config) error {
	client, err := insightsclient.New(ctx)
	if err != nil {
		return err
	}
	defer client.Close()
	var mu sync.Mutex
	enc := json.NewEncoder(os.Stdout)
	emit := func(l opWaitLine) {
		l.DoneAt = time.Now()
		mu.Lock()
		defer mu.Unlock()
		_ = enc.Encode(l)
	}
	sem := make(chan struct{}, cfg.concurrency)
	var wg sync.WaitGroup
	for i := 0; i < cfg.ops; i++ {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			op, err := client.CreateIssueModel(ctx, createRequest(cfg.parent, displayName(i), filterFor(cfg.workload, i)))
			<-sem
			if err != nil {
				emit(opWaitLine{Index: i, Error: fmt.Sprintf("CreateIssueModel: %v", err)})
				return
			}
			err = waitScaled(ctx, op, cfg.scale)
			l := opWaitLine{Index: i, Operation: op.Name(), OK: err == nil}
			if err != nil {
				l.Error = err.Error()
			}
			emit(l)
		}()
	}
	wg.Wait()
	return nil
}

// waitScaled is op.Wait with its timing divided by scale.
//
// At scale 1 it calls the library's op.Wait. Otherwise it runs the same loop the library runs,
// cloud.google.com/go/longrunning v1.5.0, longrunning.go: CreateIssueModelOperation.Wait calls
// lro.WaitWithInterval(ctx, &resp, time.Minute), whose waitWithInterval builds
// gax.Backoff{Initial: 1 * time.Second, Max: interval} (Multiplier 0, which Backoff.Pause
// turns into 2) and whose wait() loops "Poll; if done return; sleep(bo.Pause())". Pause
// (gax-go v2 call_option.go) draws the sleep uniformly from (0, cur] ("full jitter") and then
// doubles cur up to Max. So the first poll is immediate, and once the cap is reached the library
// polls every 30s on average (between ~0 and 60s).
func waitScaled(ctx context.Context, op *contactcenterinsights.CreateIssueModelOperation, scale float64) error {
	if scale == 1 {
		_, err := op.Wait(ctx)
		return err
	}
	bo := gax.Backoff{
		Initial:    scaled(time.Second, scale),
		Max:        scaled(time.Minute, scale),
		Multiplier: 2,
	}
	for {
		if _, err := op.Poll(ctx); err != nil {
			return err
		}
		if op.Done() {
			return nil
		}
		if err := gax.Sleep(ctx, bo.Pause()); err != nil {
			return err
		}
	}
}

func (r *runner) runOpWait(ctx context.Context) (*phase, error) {
	out := filepath.Join(r.tmp, "opwait.jsonl")
	f, err := os.Create(out)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p := &phase{completed: map[int]bool{}, failures: map[int]string{}, unfinished: map[int]bool{}, serverCPU: -1, dbCPU: -1}
	p.start = time.Now()
	c, err := r.startChild("opwait", r.selfBin, []string{"-role", "opwait", "-ops", fmt.Sprint(r.cfg.ops),
		"-parent", parentFor(stratOpWait), "-scale", fmt.Sprint(r.cfg.scale), "-concurrency", fmt.Sprint(r.cfg.concurrency),
		"-workload", r.cfg.workload},
		[]string{"INSIGHTS_EMULATOR_HOST=" + r.emu.Addr()}, f)
	if err != nil {
		return nil, err
	}
	timedOut := false
	select {
	case <-c.Done():
	case <-time.After(r.phaseTimeout()):
		r.logf("opwait: timed out; stopping it")
		timedOut = true
	case <-ctx.Done():
		_ = c.Stop()
		return nil, ctx.Err()
	}
	if err := c.Stop(); err != nil {
		return nil, fmt.Errorf("opwait process: %v\n%s", err, proc.Tail(c.LogPath, 40))
	}
	p.procs = []*os.ProcessState{c.State()}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	p.end = p.start
	for sc.Scan() {
		var l opWaitLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return nil, fmt.Errorf("opwait output: %v: %q", err, sc.Text())
		}
		if l.OK {
			p.completed[l.Index] = true
			if l.DoneAt.After(p.end) {
				p.end = l.DoneAt
			}
		} else {
			p.failures[l.Index] = l.Error
			if timedOut {
				p.unfinished[l.Index] = true // stopped by the bench, not failed
			}
		}
	}
	return p, sc.Err()
}
