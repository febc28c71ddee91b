package workflows

import "go.temporal.io/sdk/workflow"

// listenForSignals runs the cancel and poll-now handlers for the whole run, also while an
// activity runs, so that status shows a cancel at once; a disconnected context keeps them alive
// after Temporal cancellation.
func (p *poller) listenForSignals() {
	sigCtx, _ := workflow.NewDisconnectedContext(p.root)
	cancelCh := workflow.GetSignalChannel(p.root, CancelSignal)
	pollNowCh := workflow.GetSignalChannel(p.root, PollNowSignal)
	workflow.Go(sigCtx, func(c workflow.Context) {
		for {
			var req CancelRequest
			cancelCh.Receive(c, &req)
			p.requestCancel(req.Reason)
		}
	})
	workflow.Go(sigCtx, func(c workflow.Context) {
		for {
			pollNowCh.Receive(c, nil)
			p.wake = true
		}
	})
}

// drainSignals takes signals that arrived in this workflow task but that the handlers have not
// run for yet, so none is lost at continue-as-new.
func (p *poller) drainSignals() {
	cancelCh := workflow.GetSignalChannel(p.root, CancelSignal)
	for {
		var req CancelRequest
		if !cancelCh.ReceiveAsync(&req) {
			break
		}
		p.requestCancel(req.Reason)
	}
	pollNowCh := workflow.GetSignalChannel(p.root, PollNowSignal)
	for pollNowCh.ReceiveAsync(nil) {
	}
}
