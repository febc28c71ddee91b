package workflows

import (
	"encoding/json"
	"reflect"
	"runtime"
	"strings"

	"go.temporal.io/sdk/workflow"

	"github.com/issuemodels/durable-lro/activities"
)

// lookForGivenUpStart runs after the start activity of s failed with startErr. If an attempt may
// have started the operation (a lost reply, then refusals past startBound), the start-once
// records that knew it died with the activity: the run looks for that operation, without a time
// bound (activities.FindStartedOperation), and the step awaits what it finds, so no operation
// the run started is left running untracked. A model already where the change leads is done;
// when nothing is found, the start started nothing and its error stands.
func (l *lifecycle) lookForGivenUpStart(s awaitedStep, startErr error) (activities.StartedOperation, error) {
	mayHaveStarted, ambiguousEnd := activities.MayHaveStarted(startErr)
	if !mayHaveStarted || !l.takesChange(lookAfterGivenUpStartChange, lookAfterGivenUpStartVersion, &l.lookFenced) {
		return activities.StartedOperation{}, startErr
	}
	if ambiguousEnd.IsZero() {
		ambiguousEnd = workflow.Now(l.ctx) // an attempt that timed out ended at the latest now
	}
	input, err := json.Marshal(s.params)
	if err != nil {
		return activities.StartedOperation{}, startErr
	}
	l.currentStep().Detail = "the start gave up after an attempt that may have started its operation; looking for it: " + rootMessage(startErr)
	var found activities.FoundOperation
	err = workflow.ExecuteActivity(withUntilAnsweredActivity(l.ctx, l.in.Parent), acts.FindStartedOperation,
		activities.FindStartedOperationParams{Start: activityName(s.start), Input: input, AmbiguousEnd: ambiguousEnd}).Get(l.ctx, &found)
	l.currentStep().Detail = ""
	switch {
	case err != nil:
		l.status.LastError = "could not look for the operation a given-up start may have started: " + rootMessage(err)
		return activities.StartedOperation{}, startErr
	case found.Operation != "":
		workflow.GetLogger(l.ctx).Info("Found the operation of a start that gave up", "Step", s.suffix, "Operation", found.Operation)
		return activities.StartedOperation{Operation: found.Operation}, nil
	case found.Done:
		return activities.StartedOperation{AlreadyDone: true}, nil
	}
	return activities.StartedOperation{}, startErr
}

// activityName is the type name under which the worker registers the activity method fn (the
// SDK's own rule: the method's name).
func activityName(fn any) string {
	name := strings.TrimSuffix(runtime.FuncForPC(reflect.ValueOf(fn).Pointer()).Name(), "-fm")
	return name[strings.LastIndex(name, ".")+1:]
}
