package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/issuemodels/durable-lro/workflows"
)

// runSample starts the sample workflow and prints its status every few seconds until it ends.
func (s *stack) runSample(ctx context.Context, id string) error {
	run, err := s.startSample(ctx, id)
	if err != nil {
		return err
	}
	say("Follow it in the Web UI: %s", uiURL(s.o, id))
	say("Training takes %s of emulated time (~%s here); the workflow polls after ~%s, then every x%g up to %s:",
		sampleTraining, emulatedToWall(sampleTraining, s.o.timeScale), workflows.DefaultInitialInterval,
		workflows.DefaultMultiplier, workflows.DefaultMaxInterval)

	type result struct {
		raw json.RawMessage
		err error
	}
	resCh := make(chan result, 1)
	go func() {
		var r result
		r.err = run.Get(ctx, &r.raw)
		resCh <- r
	}()
	st := statusPrinter{tc: s.tc, id: id, began: time.Now()}
	ticker := time.NewTicker(5 * time.Second)
	defer ticker.Stop()
	st.print(ctx)
	for {
		select {
		case <-ctx.Done():
			return nil // Ctrl-C: the caller stops everything
		case c := <-s.died:
			return c.DeathError()
		case <-ticker.C:
			st.print(ctx)
		case r := <-resCh:
			if ctx.Err() != nil {
				return nil
			}
			st.print(ctx)
			fmt.Println()
			return printResult(id, r.raw, r.err)
		}
	}
}

func (s *stack) startSample(ctx context.Context, id string) (client.WorkflowRun, error) {
	fmt.Println()
	say("Starting the sample %s %s with input\n    %s", workflows.CreateIssueModelWorkflowType, id, SampleInput)
	in, err := workflows.DecodeCreateIssueModelInput([]byte(SampleInput))
	if err != nil {
		return nil, fmt.Errorf("the sample input: %w", err)
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	run, err := s.tc.ExecuteWorkflow(sctx, client.StartWorkflowOptions{
		ID: id, TaskQueue: s.o.taskQueue, StaticSummary: in.Summary(), StaticDetails: in.Details(),
	}, workflows.CreateIssueModelWorkflowType, json.RawMessage(SampleInput))
	if err != nil {
		return nil, fmt.Errorf("starting the sample: %w", err)
	}
	return run, nil
}

// statusPrinter prints the sample's status query, one line a call.
type statusPrinter struct {
	tc     client.Client
	id     string
	began  time.Time
	lastOp string
}

func (p *statusPrinter) print(ctx context.Context) {
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	v, err := p.tc.QueryWorkflow(qctx, p.id, "", workflows.StatusQuery)
	elapsed := time.Since(p.began).Round(time.Second)
	if err != nil {
		fmt.Printf("    +%-5s (status query failed: %v)\n", elapsed, err)
		return
	}
	var st workflows.PollStatus
	if err := v.Get(&st); err != nil {
		fmt.Printf("    +%-5s (status undecodable: %v)\n", elapsed, err)
		return
	}
	line := statusLine(st)
	if st.Operation != "" && st.Operation != p.lastOp {
		line += "  operation=" + st.Operation
		p.lastOp = st.Operation
	}
	fmt.Printf("    +%-6s %s\n", elapsed, line)
}
func emulatedToWall(d string, scale float64) time.Duration {
	dur, err := time.ParseDuration(d)
	if err != nil || scale <= 0 {
		return 0
	}
	return time.Duration(float64(dur) / scale).Round(time.Second)
}

func statusLine(st workflows.PollStatus) string {
	parts := []string{fmt.Sprintf("phase=%-9s", st.Phase), fmt.Sprintf("polls=%d", st.Polls)}
	if st.NextPollAt != nil && !st.Done {
		if d := time.Until(*st.NextPollAt).Round(time.Second); d > 0 {
			parts = append(parts, fmt.Sprintf("next poll in %-4s", d))
		} else {
			parts = append(parts, "polling now")
		}
	}
	if st.Outcome != "" {
		parts = append(parts, "outcome="+st.Outcome)
	}
	if st.LastError != "" {
		parts = append(parts, "lastError="+strconv.Quote(st.LastError))
	}
	return strings.Join(parts, "  ")
}

func printResult(id string, raw json.RawMessage, err error) error {
	if err == nil {
		var res workflows.CreateIssueModelResult
		var model struct {
			Name, DisplayName, State, IssueCount string
			TrainingStats                        struct{ AnalyzedConversationsCount string }
		}
		if json.Unmarshal(raw, &res) != nil || json.Unmarshal(res.IssueModel, &model) != nil {
			say("The sample completed. Result:\n    %s", raw)
			return nil
		}
		say("The sample completed: outcome %s after %d polls", res.Outcome, res.Polls)
		fmt.Printf("    issue model  %s (%q)\n", model.Name, model.DisplayName)
		fmt.Printf("    state        %s, %s issues from %s analyzed conversations\n", model.State, model.IssueCount, model.TrainingStats.AnalyzedConversationsCount)
		fmt.Printf("    operation    %s\n", res.Operation)
		if res.Metadata.CreateTime != nil && res.Metadata.EndTime != nil {
			fmt.Printf("    trained      %s .. %s (emulated clock)\n", res.Metadata.CreateTime.Format(time.RFC3339), res.Metadata.EndTime.Format(time.RFC3339))
		}
		fmt.Printf("    full result: ./bin/temporal workflow result --workflow-id %s\n", id)
		return nil
	}
	var canceled *temporal.CanceledError
	var appErr *temporal.ApplicationError
	switch {
	case errors.As(err, &canceled):
		say("The sample was cancelled: %v", err)
	case errors.As(err, &appErr):
		say("The sample failed (%s): %s", appErr.Type(), appErr.Message())
	default:
		say("The sample did not complete: %v", err)
	}
	// A failed sample is information, not a reason to tear the stack down.
	return nil
}
