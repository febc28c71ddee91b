package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"
	"go.temporal.io/sdk/client"

	"github.com/issuemodels/durable-lro/insights"
	"github.com/issuemodels/durable-lro/workflows"
)

func (a *app) startCommand() *ffcli.Command {
	var f startFlags
	fs := a.flags("start")
	defineStartFlags(fs, &f)
	return &ffcli.Command{
		Name:       "start",
		ShortUsage: "starter start [-input-file F | -parent P -display-name N ...] [-workflow-id ID] [-wait]",
		ShortHelp:  "start a CreateIssueModelWorkflow (from -input-file or from flags); -wait waits for it",
		FlagSet:    fs,
		Exec: flagsOnly("start", func(ctx context.Context) error {
			f.set = setFlags(fs)
			req, err := startRequest(f, readInputFile)
			if err != nil {
				return err
			}
			return a.withClient(ctx, func(c client.Client) error { return Start(ctx, c, a.stdout, req) })
		}),
	}
}

// startRequest validates the start command's input exactly as the workflow will.
func startRequest(f startFlags, readFile func(string) ([]byte, error)) (StartRequest, error) {
	input, err := buildInput(f, readFile)
	if err != nil {
		return StartRequest{}, err
	}
	decoded, err := workflows.DecodeCreateIssueModelInput(input)
	if err != nil {
		return StartRequest{}, usageError{fmt.Errorf("invalid input: %s", errorMessage(err))}
	}
	id := f.workflowID
	if id == "" {
		id = workflows.CreateWorkflowID(decoded)
	}
	return StartRequest{WorkflowID: id, TaskQueue: *f.taskQueue, Input: input, Wait: f.wait,
		Summary: decoded.Summary(), Details: decoded.Details()}, nil
}

// startFlags are the flags of the start command.
type startFlags struct {
	inputFile                                                string
	parent, displayName, medium, filter, modelType, language string
	initialInterval, maxInterval, timeout                    string
	deleteModelIfCancelFails                                 bool
	workflowID                                               string
	taskQueue                                                *string
	wait                                                     bool
	set                                                      map[string]bool // flags given on the command line
}

// modelFlags are the flags that build the input; they conflict with -input-file.
var modelFlags = []string{"parent", "display-name", "medium", "filter", "model-type", "language-code",
	"initial-interval", "max-interval", "timeout", "delete-model-if-cancel-fails"}

func defineStartFlags(fs *flag.FlagSet, f *startFlags) {
	fs.StringVar(&f.inputFile, "input-file", "", "JSON input in the REST shape ({\"parent\":...,\"issueModel\":{...},\"polling\":{...}}); - reads stdin")
	fs.StringVar(&f.parent, "parent", "", "projects/{project}/locations/{location}")
	fs.StringVar(&f.displayName, "display-name", "", "issueModel.displayName")
	fs.StringVar(&f.medium, "medium", "", "issueModel.inputDataConfig.medium: PHONE_CALL | CHAT")
	fs.StringVar(&f.filter, "filter", "", "issueModel.inputDataConfig.filter, e.g. medium=\"CHAT\"")
	fs.StringVar(&f.modelType, "model-type", "", "issueModel.modelType: TYPE_V1 | TYPE_V2")
	fs.StringVar(&f.language, "language-code", "", "issueModel.languageCode, e.g. en-US")
	pollingFlags(fs, &f.initialInterval, &f.maxInterval, &f.timeout)
	fs.BoolVar(&f.deleteModelIfCancelFails, "delete-model-if-cancel-fails", false, "deleteModelIfCancelFails")
	fs.StringVar(&f.workflowID, "workflow-id", "", "workflow id (default create-issue-model-<hash of parent and issueModel>: a repeated start attaches to the running one)")
	f.taskQueue = taskQueueFlag(fs)
	fs.BoolVar(&f.wait, "wait", false, "wait for the run to end and print its result")
}

// pollingFlags define the polling policy's flags; empty leaves the policy's default, which the
// help shows from the constants.
func pollingFlags(fs *flag.FlagSet, initial, maxInterval, timeout *string) {
	fs.StringVar(initial, "initial-interval", "", "polling.initialInterval, a duration (default "+shortDuration(workflows.DefaultInitialInterval)+")")
	fs.StringVar(maxInterval, "max-interval", "", "polling.maxInterval, a duration (default "+shortDuration(workflows.DefaultMaxInterval)+")")
	fs.StringVar(timeout, "timeout", "", "polling.timeout, a duration (default "+shortDuration(workflows.DefaultTimeout)+")")
}

// shortDuration spells d as a user writes it: 24h rather than 24h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// buildInput returns the workflow input JSON: the file's bytes as they are, or a document
// built from the flags.
func buildInput(f startFlags, readFile func(string) ([]byte, error)) ([]byte, error) {
	if f.inputFile != "" {
		for _, name := range modelFlags {
			if f.set[name] {
				return nil, usage("start: -%s cannot be combined with -input-file", name)
			}
		}
		b, err := readFile(f.inputFile)
		if err != nil {
			return nil, usage("start: reading -input-file: %v", err)
		}
		return b, nil
	}
	in := workflows.CreateIssueModelInput{
		Parent: f.parent,
		IssueModel: insights.IssueModelSpec{
			DisplayName:     f.displayName,
			InputDataConfig: insights.InputDataConfig{Medium: f.medium, Filter: f.filter},
			ModelType:       f.modelType,
			LanguageCode:    f.language,
		},
		DeleteModelIfCancelFails: f.deleteModelIfCancelFails,
	}
	if f.initialInterval != "" || f.maxInterval != "" || f.timeout != "" {
		in.Polling = &workflows.PollingPolicy{InitialInterval: f.initialInterval, MaxInterval: f.maxInterval, Timeout: f.timeout}
	}
	return json.Marshal(in)
}

func readInputFile(name string) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(os.Stdin)
	}
	return os.ReadFile(name)
}
