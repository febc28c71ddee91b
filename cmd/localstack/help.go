package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/issuemodels/durable-lro/nexusservice"
	"github.com/issuemodels/durable-lro/workflows"
)

func uiURL(o options, id string) string {
	return fmt.Sprintf("http://localhost:%d/namespaces/%s/workflows/%s", o.uiPort, namespace, id)
}

// printHelp prints where to look and what to try.
func (s *stack) printHelp(id string) {
	o, confFile, root := s.o, s.confFile, s.root
	cli := o.temporalPath
	if rel, err := filepath.Rel(root, o.temporalPath); err == nil && !strings.HasPrefix(rel, "..") {
		cli = "./" + filepath.ToSlash(rel)
	}
	conn := ""
	if o.port != 7233 {
		conn = fmt.Sprintf(" --address 127.0.0.1:%d", o.port)
	}
	example := id
	if example == "" {
		example = "my-model-1"
	}
	fmt.Println()
	say("Web UI: http://localhost:%d/namespaces/%s/workflows", o.uiPort, namespace)
	if id != "" {
		fmt.Printf("    the sample: %s\n", uiURL(o, id))
	}
	fmt.Println()
	say("Try it with the Temporal CLI (from %s):", root)
	fmt.Printf(`    # start another creation (ids must be new; one training at a time per location)
    %[1]s workflow start%[2]s --task-queue %[3]s --type %[4]s --workflow-id my-model-2 \
        --input '%[5]s'
    # what is it doing?
    %[1]s workflow query%[2]s --workflow-id %[6]s --type %[7]s
    # poll now instead of waiting for the timer / cancel it (updates answer; signals do not)
    %[1]s workflow update execute%[2]s --workflow-id %[6]s --name %[8]s
    %[1]s workflow update execute%[2]s --workflow-id %[6]s --name %[9]s --input '{"reason":"wrong filter"}'
    %[1]s workflow signal%[2]s --workflow-id %[6]s --name %[9]s --input '{"reason":"wrong filter"}'
    # wait for and print the result
    %[1]s workflow result%[2]s --workflow-id %[6]s
`, cli, conn, o.taskQueue, workflows.CreateIssueModelWorkflowType, SampleInput, example,
		workflows.StatusQuery, workflows.PollNowSignal, workflows.CancelSignal)
	fmt.Println()
	say("Or with the starter (TEMPORAL_CONFIG_FILE points it at this stack, whatever your own Temporal profile says):")
	cf := confFile
	if rel, err := filepath.Rel(root, confFile); err == nil {
		cf = filepath.ToSlash(rel)
	}
	fmt.Printf(`    TEMPORAL_CONFIG_FILE=%[1]s go run ./starter start -parent projects/acme/locations/us-central1 \
        -display-name weekly -medium CHAT -filter 'medium="CHAT"' -wait
    TEMPORAL_CONFIG_FILE=%[1]s go run ./starter status -workflow-id %[2]s
`, cf, example)
	fmt.Println()
	say("From a workflow in namespace %s, call Nexus endpoint %s, service %s, operation %s (docs/CALLING.md, \"Calling it from your own workflow\")",
		nexusservice.DefaultCallersNamespace, nexusservice.DefaultEndpoint, nexusservice.ServiceName, nexusservice.CreateIssueModelOperation)
	fmt.Println()
	say("Logs: .data/temporal.log, .data/insights-emulator.log, .data/worker.log (add -v to see them here)")
}
