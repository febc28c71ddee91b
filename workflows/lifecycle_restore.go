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
// (activities.transition), and a refusal for the opposite change is waited out (refusedForChange),
// so no start-once record has to outlive a try.
const (
	restoreTryBound  = 10 * time.Minute
	restoreFirstWait = time.Minute
	restoreMaxWait   = time.Hour
)

// restore runs a start that puts the location back and awaits its operation (see above; runs
// before restoreUntilDoneChange give up after startBound). An operation that failed for now
// (INTERNAL, UNAVAILABLE, ...) or whose await gave up is restored again, after a wait: the next
// try's start reads the model and adopts an operation still running.
func (l *lifecycle) restore(suffix string, start any, model string) error {
	s := awaitedStep{suffix: suffix, start: start, params: model, restoring: true}
	wait := restoreFirstWait
	for try := 1; ; try++ {
		started, op, err := l.startAndAwaitStarted(s)
		if err == nil || started.Operation == "" || !restoresAgain(op, err) || !l.restoresUntilDone() {
			if err == nil && try > 1 {
				l.currentStep().Detail, l.status.LastError = "", ""
			}
			return err
		}
		if err := l.waitToRestore(s, "failed", try, &wait, err); err != nil {
			return err
		}
	}
}

// restoresAgain: a restore whose operation op was started but ended with err is worth another
// try: the operation failed for now, or its await gave up before its end.
func restoresAgain(op insights.Operation, err error) bool {
	switch {
	case op.Done && op.Error != nil:
		return op.Error.Code != insights.CodeCancelled && !insights.FailsForGood(op.Error.Code)
	case op.Done:
		return false
	}
	var canceled *temporal.CanceledError
	var terminated *temporal.TerminatedError
	return !errors.As(err, &canceled) && !errors.As(err, &terminated)
}

// waitToRestore says in the status why the restore s waits (its try, what happened, err),
// sleeps *wait, and doubles it up to restoreMaxWait.
func (l *lifecycle) waitToRestore(s awaitedStep, what string, try int, wait *time.Duration, err error) error {
	next := workflow.Now(l.ctx).Add(*wait).UTC().Format(time.RFC3339)
	l.status.LastError = rootMessage(err)
	l.currentStep().Detail = fmt.Sprintf("waiting to restore: %s of %v %s (try %d), trying again at %s: %s",
		s.suffix, s.params, what, try, next, l.status.LastError)
	if err := workflow.Sleep(l.ctx, *wait); err != nil {
		return err
	}
	*wait = min(2**wait, restoreMaxWait)
	return nil
}

// restoresUntilDone: this run tries a restoring start until it is done (restoreUntilDoneChange).
func (l *lifecycle) restoresUntilDone() bool {
	return l.takesChange(restoreUntilDoneChange, restoreUntilDoneVersion, &l.restoreFenced)
}

// startRestoring runs the start activity of a restoring step until it answers or fails for
// good. Meanwhile the step's detail says what it waits to restore, and lastError why.
func (l *lifecycle) startRestoring(s awaitedStep) (activities.StartedOperation, error) {
	wait := restoreFirstWait
	waited, refusedSettled := false, false
	for try := 1; ; try++ {
		var started activities.StartedOperation
		err := workflow.ExecuteActivity(withChangeActivity(l.ctx, l.in.Parent, restoreTryBound), s.start, s.params).Get(l.ctx, &started)
		if err == nil || endsRestoring(err) {
			refused, changing := l.refusedForChange(err, s.params)
			switch {
			case refused && !changing && !refusedSettled:
				// The change that caused the refusal may have ended between the refusal and
				// the read: try once more at once. A second such refusal is for good.
				refusedSettled = true
				continue
			case !changing:
				if waited {
					l.currentStep().Detail, l.status.LastError = "", ""
				}
				return started, err
			}
		}
		refusedSettled = false
		if err := l.waitToRestore(s, "refused", try, &wait, err); err != nil {
			return started, err
		}
		waited = true
	}
}

// refusedForChange says whether a start was refused FAILED_PRECONDITION, and if so whether its
// model is mid-change (DEPLOYING, UNDEPLOYING), which will end: the API refuses to undeploy a
// model that is deploying, or to deploy one that is undeploying. That is how a restore finds an
// operation the run does not track: a deploy or undeploy whose start committed but gave up
// without its answer (a lost reply, then refusals past startBound), or whose child gave up
// awaiting it. A model that cannot be read for now counts as mid-change, to be read again. A
// refused start whose model reads settled may have been refused by a change that ended since.
func (l *lifecycle) refusedForChange(err error, model any) (refused, changing bool) {
	name, ok := model.(string)
	if err == nil || !ok || !insights.IsErrorType(err, codes.FailedPrecondition.String()) {
		return false, false
	}
	raw, gerr := l.getModel(name)
	if gerr != nil {
		return true, !endsRestoring(gerr)
	}
	var m struct {
		State string `json:"state"`
	}
	_ = json.Unmarshal(raw, &m)
	return true, m.State == stateDeploying || m.State == stateUndeploying
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
