package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/issuemodels/durable-lro/insights"
)

// doctorCallTimeout bounds each check's calls: a check that hangs says so instead of holding
// the others.
const doctorCallTimeout = 15 * time.Second

// checkResult is one line of the doctor's checklist.
type checkResult struct {
	Name   string `json:"name"`
	Status string `json:"status"` // ok | warn | FAIL | skipped
	Detail string `json:"detail"`
	// Fix says what to do about a warn or a FAIL.
	Fix string `json:"fix,omitempty"`
}

const (
	statusOK      = "ok"
	statusWarn    = "warn"
	statusFail    = "FAIL"
	statusSkipped = "skipped"
)

// doctorConfig is what doctor checks.
type doctorConfig struct {
	parent, taskQueue, nexusEndpoint string
	json                             bool
}

func (a *app) doctorCommand() *ffcli.Command {
	fs := a.flags("doctor")
	var cfg doctorConfig
	fs.StringVar(&cfg.parent, "parent", "", "projects/{project}/locations/{location} the workflows will use (required)")
	tq := taskQueueFlag(fs)
	fs.StringVar(&cfg.nexusEndpoint, "nexus-endpoint", "", "the Nexus endpoint callers reach the workflows through, if any: checks that it exists and targets the task queue")
	fs.BoolVar(&cfg.json, "json", false, "print the checklist as JSON")
	return &ffcli.Command{
		Name:       "doctor",
		ShortUsage: "starter doctor -parent projects/P/locations/L [-task-queue Q] [-nexus-endpoint E] [-json]",
		ShortHelp:  "preflight: credentials, the API, permissions, quota headroom, and the Temporal side; exit 1 on any FAIL",
		LongHelp: `Checks, with the worker's connection settings (TEMPORAL_*, INSIGHTS_EMULATOR_HOST,
INSIGHTS_ENDPOINT_PATTERN, Application Default Credentials), what a training needs before one
starts: which identity the credentials are, that the API answers for the project and location
(and is enabled), each permission the workflows use that a harmless call can show (list and get
of models, operations and conversations; nothing is created or changed), the quota headroom
(models in the location against 10, deployed against 5, a creation already running), and on the
Temporal side the namespace, the search attributes, a worker polling the task queue, and the
Nexus endpoint if one is named. Prints a checklist with what to do for each failure; exits 1 on
any FAIL, 0 otherwise (warnings included).`,
		FlagSet: fs,
		Exec: flagsOnly("doctor", func(ctx context.Context) error {
			if err := insights.ValidateParent("parent", cfg.parent); err != nil {
				return usage("doctor: %s", errorMessage(err))
			}
			cfg.taskQueue = *tq
			results := a.doctor(ctx, cfg)
			if err := printChecklist(a.stdout, results, cfg.json); err != nil {
				return err
			}
			for _, r := range results {
				if r.Status == statusFail {
					return exitError{exitFailed}
				}
			}
			return nil
		}),
	}
}

// doctor runs every check and returns the checklist.
func (a *app) doctor(ctx context.Context, cfg doctorConfig) []checkResult {
	var out []checkResult
	add := func(r checkResult) { out = append(out, r) }
	googleOK := checkCredentials(ctx, add)
	if googleOK {
		checkGoogle(ctx, cfg.parent, add)
	} else {
		add(checkResult{Name: "Contact Center Insights API", Status: statusSkipped, Detail: "no credentials"})
	}
	a.checkTemporal(ctx, cfg, add)
	return out
}

// printChecklist prints the results as a checklist (or JSON) and a last line with the counts.
func printChecklist(w io.Writer, results []checkResult, asJSON bool) error {
	if asJSON {
		return printJSON(w, results)
	}
	counts := map[string]int{}
	for _, r := range results {
		counts[r.Status]++
		if _, err := fmt.Fprintf(w, "[%-7s] %-28s %s\n", r.Status, r.Name, r.Detail); err != nil {
			return err
		}
		if r.Fix != "" {
			if _, err := fmt.Fprintf(w, "          %-28s fix: %s\n", "", r.Fix); err != nil {
				return err
			}
		}
	}
	_, err := fmt.Fprintf(w, "%d ok, %d warn, %d FAIL, %d skipped\n", counts[statusOK], counts[statusWarn], counts[statusFail], counts[statusSkipped])
	return err
}
