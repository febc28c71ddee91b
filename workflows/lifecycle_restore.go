package workflows

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/grpc/codes"

	"github.com/issuemodels/durable-lro/activities"
	"github.com/issuemodels/durable-lro/insights"
)

// A restoring start (the rollback's undeploy of the new model, the redeploy of the model
// undeploy-first removed) must not give up on a refusal, however long: a quota refused for hours
// (another deploy took the slot undeploy-first freed) would otherwise leave the location a
// deployed model short for good. It is tried again until it starts or meets a non-retryable
// error. Each try is one start activity bounded by restoreTryBound, Temporal retrying within it;
// between tries the run waits, from restoreFirstWait doubling to restoreMaxWait, so a refusal of
// days costs a few hundred history events a day. A new try is safe after a lost reply: Deploy and
// Undeploy read the model's state first and adopt the operation of a model mid-change
// (activities.transition), and a refusal for the opposite change is waited out (midChange), so
// no start-once record has to outlive a try.
const (
	restoreTryBound  = 10 * time.Minute
	restoreFirstWait = time.Minute
	restoreMaxWait   = time.Hour
)

// restore runs a start that puts the location back and awaits its operation (see above; runs
// before restoreUntilDoneChange give up after startBound).
func (l *lifecycle) restore(suffix string, start any, model string) error {
	_, err := l.startAndAwaitOp(awaitedStep{suffix: suffix, start: start, params: model, restoring: true})
	return err
}

// restoresUntilDone: this run tries a restoring start until it is done (restoreUntilDoneChange).
func (l *lifecycle) restoresUntilDone() bool {
	if workflow.GetVersion(l.ctx, restoreUntilDoneChange, workflow.DefaultVersion, restoreUntilDoneVersion) < restoreUntilDoneVersion {
		return false
	}
	if !l.restoreFenced {
		fenceOlderWorkers(l.ctx)
		l.restoreFenced = true
	}
	return true
}

// startRestoring runs the start activity of a restoring step until it answers or fails for
// good. Meanwhile the step's detail says what it waits to restore, and lastError why.
func (l *lifecycle) startRestoring(s awaitedStep) (activities.StartedOperation, error) {
	wait := restoreFirstWait
	for try := 1; ; try++ {
		var started activities.StartedOperation
		err := workflow.ExecuteActivity(withChangeActivity(l.ctx, l.in.Parent, restoreTryBound), s.start, s.params).Get(l.ctx, &started)
		if err == nil || endsRestoring(err) && !l.midChange(err, s.params) {
			if try > 1 {
				l.currentStep().Detail, l.status.LastError = "", ""
			}
			return started, err
		}
		next := workflow.Now(l.ctx).Add(wait).UTC().Format(time.RFC3339)
		l.status.LastError = rootMessage(err)
		l.currentStep().Detail = fmt.Sprintf("waiting to restore: %s of %v refused (try %d), trying again at %s: %s",
			s.suffix, s.params, try, next, l.status.LastError)
		if err := workflow.Sleep(l.ctx, wait); err != nil {
			return started, err
		}
		wait = min(2*wait, restoreMaxWait)
	}
}

// midChange says whether a start refused FAILED_PRECONDITION was refused because its model is
// mid-change (DEPLOYING, UNDEPLOYING), which will end: the API refuses to undeploy a model
// that is deploying, or to deploy one that is undeploying. That is how a restore finds an
// operation the run does not track: a deploy or undeploy whose start committed but gave up
// without its answer (a lost reply, then refusals past startBound), or whose child gave up
// awaiting it. A model that cannot be read for now counts as mid-change, to be read again.
func (l *lifecycle) midChange(err error, model any) bool {
	name, ok := model.(string)
	if !ok || !insights.IsErrorType(err, codes.FailedPrecondition.String()) {
		return false
	}
	raw, gerr := l.getModel(name)
	if gerr != nil {
		return !endsRestoring(gerr)
	}
	var m struct {
		State string `json:"state"`
	}
	_ = json.Unmarshal(raw, &m)
	return m.State == stateDeploying || m.State == stateUndeploying
}

// endsRestoring: err is a failure that trying again cannot change (the model is gone, the
// request is refused for good), not a refusal that may lift (a quota, an outage, a timeout).
func endsRestoring(err error) bool {
	var appErr *temporal.ApplicationError
	var canceled *temporal.CanceledError
	var terminated *temporal.TerminatedError
	switch {
	case errors.As(err, &canceled), errors.As(err, &terminated):
		return true
	case errors.As(err, &appErr):
		return appErr.NonRetryable() || slices.Contains(insights.NonRetryableErrorTypes(), appErr.Type())
	}
	return false
}
