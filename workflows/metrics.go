package workflows

// Metrics the workflows emit through the SDK's metrics handler (worker -metrics-addr serves them
// for Prometheus, next to the SDK's own). The handler tags them with namespace, task queue and
// workflow type, and skips them while a history is replayed.
const (
	// MetricPolls counts polls of the loop (PollOperation activities, retries not counted).
	MetricPolls = "insights_polls"
	// MetricPollsThrottled counts polls that a worker pacing its own poll budget refused (no
	// call was made; runs that began before the server's limits held the polls).
	MetricPollsThrottled = "insights_polls_throttled"
	// MetricOutcomes counts finished runs by tag outcome: SUCCEEDED, CANCELLED, FAILED, ... or
	// the error type that ended the run (PollTimeout, OperationLost, InvalidArgument, ...).
	MetricOutcomes = "insights_outcomes"
	// MetricOperationAge is a timer: how long after it was started (or attached) the operation
	// was seen done.
	MetricOperationAge = "insights_operation_age"
)
