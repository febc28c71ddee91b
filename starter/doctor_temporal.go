package main

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"

	"github.com/issuemodels/durable-lro/searchattr"
)

// The doctor's checks of Temporal: the server, search attributes, a worker, the Nexus endpoint
// and the API budget.

// googleRequestsPerMinute is Contact Center Insights' request quota per project.
const googleRequestsPerMinute = 3000

// pollerFreshness is how recently a poller must have polled to count as a live worker: the
// server lists pollers for minutes after they stop, and a live one polls at least every minute
// or so (its long poll's timeout).
const pollerFreshness = 2 * time.Minute

// checkTemporal checks the namespace, the search attributes, a worker on the task queue and
// the Nexus endpoint.
func (a *app) checkTemporal(ctx context.Context, cfg doctorConfig, add func(checkResult)) {
	opts, err := envconfig.LoadClientOptions(envconfig.LoadClientOptionsRequest{})
	if err != nil {
		add(checkResult{Name: "Temporal", Status: statusFail, Detail: "configuration: " + err.Error(), Fix: "check TEMPORAL_* and TEMPORAL_PROFILE / TEMPORAL_CONFIG_FILE"})
		return
	}
	address, namespace := cmp.Or(opts.HostPort, client.DefaultHostPort), cmp.Or(opts.Namespace, client.DefaultNamespace)
	dctx, cancel := context.WithTimeout(ctx, doctorCallTimeout)
	defer cancel()
	c, err := a.dial(dctx)
	if err != nil {
		add(checkResult{Name: "Temporal", Status: statusFail, Detail: fmt.Sprintf("cannot connect to %s: %v", address, err),
			Fix: "check TEMPORAL_ADDRESS, TLS (TEMPORAL_TLS_*) and TEMPORAL_API_KEY; is the server up?"})
		return
	}
	defer c.Close()
	ns, err := c.WorkflowService().DescribeNamespace(dctx, &workflowservice.DescribeNamespaceRequest{Namespace: namespace})
	if err != nil {
		add(checkResult{Name: "Temporal namespace", Status: statusFail, Detail: fmt.Sprintf("%s at %s: %v", namespace, address, err),
			Fix: "create it (temporal operator namespace create --namespace " + namespace + ") or set TEMPORAL_NAMESPACE"})
		return
	}
	add(checkResult{Name: "Temporal namespace", Status: statusOK, Detail: fmt.Sprintf("%s at %s (retention %s)", namespace, address,
		ns.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration())})
	add(checkSearchAttributes(dctx, c, namespace))
	add(checkWorker(dctx, c, namespace, cfg.taskQueue))
	add(checkAPIBudget(dctx, c, namespace, cfg.taskQueue))
	if cfg.nexusEndpoint != "" {
		add(checkNexusEndpoint(dctx, c, namespace, cfg.taskQueue, cfg.nexusEndpoint))
	}
}

// checkSearchAttributes checks that the workflows' search attributes are registered.
func checkSearchAttributes(ctx context.Context, c client.Client, namespace string) checkResult {
	missing, err := searchattr.Missing(ctx, c, namespace)
	switch {
	case err != nil:
		return checkResult{Name: "search attributes", Status: statusFail, Detail: err.Error(), Fix: "the identity needs to read the namespace's search attributes"}
	case len(missing) > 0:
		return checkResult{Name: "search attributes", Status: statusFail, Detail: fmt.Sprintf("%s lacks %s", namespace, strings.Join(missing, ", ")),
			Fix: searchattr.RegisterCommand(namespace, missing) + " (or run the worker with -register-search-attributes)"}
	default:
		return checkResult{Name: "search attributes", Status: statusOK, Detail: "registered in " + namespace}
	}
}

// checkWorker checks that a worker polled the task queue's workflow and activity tasks lately.
func checkWorker(ctx context.Context, c client.Client, namespace, taskQueue string) checkResult {
	var live, idle []string
	var pollErr error
	for _, kind := range []enumspb.TaskQueueType{enumspb.TASK_QUEUE_TYPE_WORKFLOW, enumspb.TASK_QUEUE_TYPE_ACTIVITY} {
		d, err := c.DescribeTaskQueue(ctx, taskQueue, kind)
		if err != nil {
			pollErr = err
			break
		}
		name, n := strings.ToLower(strings.TrimPrefix(kind.String(), "TASK_QUEUE_TYPE_")), 0
		for _, p := range d.GetPollers() {
			if time.Since(p.GetLastAccessTime().AsTime()) < pollerFreshness {
				n++
			}
		}
		live = append(live, fmt.Sprintf("%d %s", n, name))
		if n == 0 {
			idle = append(idle, name)
		}
	}
	if pollErr == nil && len(idle) > 0 {
		pollErr = fmt.Errorf("no poller of %s tasks in the last %s", strings.Join(idle, " or "), pollerFreshness)
	}
	w := checkResult{Name: "worker", Status: statusOK, Detail: fmt.Sprintf("pollers on %s: %s", taskQueue, strings.Join(live, ", "))}
	if pollErr != nil {
		w.Status, w.Detail = statusFail, fmt.Sprintf("task queue %s in %s: %v", taskQueue, namespace, pollErr)
		w.Fix = "start a worker on the task queue (go run ./worker, with the same TEMPORAL_* settings and -task-queue)"
	}
	return w
}

// checkNexusEndpoint checks that the Nexus endpoint exists and targets the namespace's task queue.
func checkNexusEndpoint(ctx context.Context, c client.Client, namespace, taskQueue, endpoint string) checkResult {
	resp, err := c.OperatorService().ListNexusEndpoints(ctx, &operatorservice.ListNexusEndpointsRequest{Name: endpoint})
	nx := checkResult{Name: "Nexus endpoint", Status: statusOK}
	switch {
	case err != nil:
		nx.Status, nx.Detail, nx.Fix = statusFail, endpoint+": "+err.Error(), "check that the server has Nexus enabled and the identity may read endpoints"
	case len(resp.GetEndpoints()) == 0:
		nx.Status, nx.Detail = statusFail, endpoint+" does not exist"
		nx.Fix = fmt.Sprintf("temporal operator nexus endpoint create --name %s --target-namespace %s --target-task-queue %s", endpoint, namespace, taskQueue)
	default:
		t := resp.GetEndpoints()[0].GetSpec().GetTarget().GetWorker()
		nx.Detail = fmt.Sprintf("%s targets %s/%s", endpoint, t.GetNamespace(), t.GetTaskQueue())
		if t.GetNamespace() != namespace || t.GetTaskQueue() != taskQueue {
			nx.Status, nx.Fix = statusFail, fmt.Sprintf("point it at namespace %s, task queue %s (temporal operator nexus endpoint update)", namespace, taskQueue)
		}
	}
	return nx
}

// checkAPIBudget reports the Google API budget the Temporal server holds for the task queue's
// activities: the queue's rate limit and the limit per fairness key, one key per Google project.
func checkAPIBudget(ctx context.Context, c client.Client, namespace, taskQueue string) checkResult {
	r := checkResult{Name: "API budget", Status: statusOK}
	d, err := c.WorkflowService().DescribeTaskQueue(ctx, &workflowservice.DescribeTaskQueueRequest{Namespace: namespace,
		TaskQueue:     &taskqueuepb.TaskQueue{Name: taskQueue, Kind: enumspb.TASK_QUEUE_KIND_NORMAL},
		TaskQueueType: enumspb.TASK_QUEUE_TYPE_ACTIVITY, ReportConfig: true})
	if err != nil {
		r.Status, r.Detail, r.Fix = statusWarn, fmt.Sprintf("task queue %s: %v", taskQueue, err), "the identity needs to describe the task queue"
		return r
	}
	queue := d.GetEffectiveRateLimit()
	source := strings.ToLower(strings.TrimPrefix(queue.GetRateLimitSource().String(), "RATE_LIMIT_SOURCE_"))
	r.Detail = fmt.Sprintf("task queue %s: %.4g calls/s (set by %s)", taskQueue, queue.GetRequestsPerSecond(), source)
	setCmd := fmt.Sprintf("temporal task-queue config set --task-queue %s --task-queue-type activity --fairness-key-rps-limit-default 40 --fairness-key-rps-limit-reason 'Google quota'", taskQueue)
	perProject := d.GetConfig().GetFairnessKeysRateLimitDefault()
	if perProject == nil {
		r.Status, r.Fix = statusWarn, "start a worker (it sets -project-requests-per-second) or set it: "+setCmd
		r.Detail += "; no limit per Google project: only the queue's holds"
		return r
	}
	rps := float64(perProject.GetRateLimit().GetRequestsPerSecond())
	r.Detail += fmt.Sprintf("; per Google project %.4g calls/s = %.0f/min of its %d/min (%s)", rps, rps*60, googleRequestsPerMinute, perProject.GetMetadata().GetReason())
	if rps*60 > googleRequestsPerMinute {
		r.Status, r.Fix = statusWarn, "over Google's quota: Google will refuse calls with RESOURCE_EXHAUSTED; lower it: "+setCmd
	}
	return r
}
