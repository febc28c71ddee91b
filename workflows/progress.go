package workflows

import (
	"bytes"
	"encoding/json"

	"go.temporal.io/sdk/workflow"
)

// ProgressSignal carries an awaited operation's metadata (JSON, with its "@type") from a child
// AwaitOperationWorkflow started with ReportProgress to its parent: the lifecycle shows it as its
// current step's metadata.
const ProgressSignal = "progress"

// reportProgressToParent makes the poll loop signal the parent whenever the operation's metadata
// changes (at most once per poll; the signal is not waited for).
func (p *poller) reportProgressToParent() {
	parent := workflow.GetInfo(p.root).ParentWorkflowExecution
	if parent == nil {
		return
	}
	var last []byte
	p.onMetadata = func(md []byte) {
		if bytes.Equal(md, last) {
			return
		}
		last = md
		workflow.SignalExternalWorkflow(p.ctx, parent.ID, "", ProgressSignal, json.RawMessage(md))
	}
}

// listenForProgress shows what children report on ProgressSignal as the current step's metadata.
func (l *lifecycle) listenForProgress() {
	workflow.Go(l.ctx, func(c workflow.Context) {
		ch := workflow.GetSignalChannel(c, ProgressSignal)
		for {
			var md json.RawMessage
			ch.Receive(c, &md)
			l.currentStep().Metadata = md
		}
	})
}

// currentStep is the status of the step running now (a placeholder before the first).
func (l *lifecycle) currentStep() *StepStatus {
	if n := len(l.status.Steps); n > 0 {
		return &l.status.Steps[n-1]
	}
	return &StepStatus{}
}
