package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"cloud.google.com/go/auth/credentials"
	"cloud.google.com/go/compute/metadata"
	contactcenterinsights "cloud.google.com/go/contactcenterinsights/apiv1"
	"cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"github.com/googleapis/gax-go/v2"
	"github.com/googleapis/gax-go/v2/apierror"
	"github.com/peterbourgon/ff/v3/ffcli"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/issuemodels/durable-lro/insights"
	"github.com/issuemodels/durable-lro/insightsclient"
	"github.com/issuemodels/durable-lro/searchattr"
	"github.com/issuemodels/durable-lro/workflows"
)

// Google's per-location limits that the workflows meet, as the lifecycle workflow counts them.
const (
	maxModelsPerLocation   = workflows.MaxModelsPerLocation
	maxDeployedPerLocation = workflows.MaxDeployedPerLocation
)

// googleRequestsPerMinute is Contact Center Insights' request quota per project.
const googleRequestsPerMinute = 3000

// doctorCallTimeout bounds each check's calls: a check that hangs says so instead of holding
// the others.
const doctorCallTimeout = 15 * time.Second

// pollerFreshness is how recently a poller must have polled to count as a live worker: the
// server lists pollers for minutes after they stop, and a live one polls at least every minute
// or so (its long poll's timeout).
const pollerFreshness = 2 * time.Minute

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
		Exec: func(ctx context.Context, args []string) error {
			if err := noArgs("doctor", args); err != nil {
				return err
			}
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
		},
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

// checkCredentials reports the identity the Google calls run as; false when there is none.
func checkCredentials(ctx context.Context, add func(checkResult)) bool {
	if h := strings.TrimSpace(os.Getenv(insightsclient.EmulatorHostEnv)); h != "" {
		add(checkResult{Name: "credentials", Status: statusOK, Detail: "the emulator at " + h + " (" + insightsclient.EmulatorHostEnv + "): no credentials needed"})
		return true
	}
	creds, err := credentials.DetectDefault(&credentials.DetectOptions{Scopes: []string{"https://www.googleapis.com/auth/cloud-platform"}})
	if err != nil {
		add(checkResult{Name: "credentials", Status: statusFail, Detail: "no Application Default Credentials: " + err.Error(),
			Fix: "run `gcloud auth application-default login`, set GOOGLE_APPLICATION_CREDENTIALS to a key file, or run on Google Cloud with a service account attached"})
		return false
	}
	tctx, cancel := context.WithTimeout(ctx, doctorCallTimeout)
	defer cancel()
	if _, err := creds.Token(tctx); err != nil {
		add(checkResult{Name: "credentials", Status: statusFail, Detail: "Application Default Credentials found but no token: " + err.Error(),
			Fix: "refresh them (`gcloud auth application-default login`), or check the key file and the service account (not disabled or deleted)"})
		return false
	}
	add(checkResult{Name: "credentials", Status: statusOK, Detail: "Application Default Credentials: " + identity(tctx, creds.JSON())})
	return true
}

// identity describes the ADC identity: a service account's email, a user's credentials, or
// the metadata server's service account.
func identity(ctx context.Context, raw []byte) string {
	var f struct {
		Type        string `json:"type"`
		ClientEmail string `json:"client_email"`
		Impersonate string `json:"service_account_impersonation_url"`
	}
	if len(raw) > 0 && json.Unmarshal(raw, &f) == nil {
		switch {
		case f.ClientEmail != "":
			return "service account " + f.ClientEmail
		case f.Impersonate != "":
			return "impersonating " + f.Impersonate[strings.LastIndexByte(f.Impersonate, '/')+1:]
		case f.Type == "authorized_user":
			return "user credentials (gcloud auth application-default login)"
		case f.Type != "":
			return f.Type + " credentials"
		}
	}
	if email, err := metadata.EmailWithContext(ctx, "default"); err == nil {
		return "service account " + email + " (metadata server)"
	}
	return "credentials of unknown kind"
}

// noRetry makes each check one call: a failure is reported, not retried until the deadline.
var noRetry = gax.WithRetry(nil)

// permissionCheck is one harmless call and the permission it shows.
type permissionCheck struct {
	permission string
	call       func(ctx context.Context) error
	// optional: only some workflows need it (a failure warns).
	optional string
}

// checkGoogle checks the API, the permissions and the quota headroom for parent.
func checkGoogle(ctx context.Context, parent string, add func(checkResult)) {
	project := strings.Split(parent, "/")[1]
	location := insights.LocationOf(parent)
	r, err := insightsclient.NewRegional(ctx, insightsclient.RegionalOptionsFromEnv(tracing.GoogleClientOptions()...))
	if err == nil {
		defer r.Close()
	}
	var c *contactcenterinsights.Client
	endpoint := ""
	if err == nil {
		endpoint, _ = r.Endpoint("parent", location)
		c, err = r.For("parent", location)
	}
	if err != nil {
		add(checkResult{Name: "Contact Center Insights API", Status: statusFail, Detail: err.Error(),
			Fix: "check -parent's location and INSIGHTS_ENDPOINT_PATTERN (docs/CONFIGURATION.md, Locations and endpoints)"})
		return
	}
	api, models, listErr := checkInsightsAPI(ctx, c, parent, project, endpoint)
	add(api)
	if api.Status == statusFail {
		add(checkResult{Name: "permissions", Status: statusSkipped, Detail: "the API does not answer"})
		add(checkResult{Name: "quota headroom", Status: statusSkipped, Detail: "the API does not answer"})
		return
	}
	perm, runningCreates := checkPermissions(ctx, c, parent, project, models, listErr)
	add(perm)
	if listErr != nil {
		add(checkResult{Name: "quota headroom", Status: statusSkipped, Detail: "the models cannot be listed"})
		return
	}
	add(quotaHeadroom(models, runningCreates, location))
}

// callWithTimeout makes one check's call, bounded by doctorCallTimeout.
func callWithTimeout(ctx context.Context, f func(ctx context.Context) error) error {
	cctx, cancel := context.WithTimeout(ctx, doctorCallTimeout)
	defer cancel()
	return f(cctx)
}

// checkInsightsAPI checks that the API answers for parent with one list, which also tells a
// disabled API from a missing permission; it returns the models listed and the list's error.
func checkInsightsAPI(ctx context.Context, c *contactcenterinsights.Client, parent, project, endpoint string) (checkResult, []*contactcenterinsightspb.IssueModel, error) {
	var models []*contactcenterinsightspb.IssueModel
	err := callWithTimeout(ctx, func(ctx context.Context) error {
		resp, err := c.ListIssueModels(ctx, &contactcenterinsightspb.ListIssueModelsRequest{Parent: parent}, noRetry)
		models = resp.GetIssueModels()
		return err
	})
	api := checkResult{Name: "Contact Center Insights API", Status: statusOK, Detail: fmt.Sprintf("answers for %s at %s", parent, endpoint)}
	switch {
	case reasonOf(err) == "SERVICE_DISABLED":
		api.Status, api.Detail = statusFail, "not enabled for project "+project+": "+codeOf(err)
		api.Fix = "gcloud services enable contactcenterinsights.googleapis.com --project " + project
	case err != nil && status.Code(err) != codes.PermissionDenied:
		api.Status, api.Detail = statusFail, fmt.Sprintf("%s at %s: %s", parent, endpoint, codeOf(err))
		api.Fix = apiFix(err, project)
	}
	return api, models, err
}

// checkPermissions checks each permission through a harmless call: a read of something that
// exists where there is one, else of a name that does not (NOT_FOUND then shows the
// permission). It also returns the creations it saw running.
func checkPermissions(ctx context.Context, c *contactcenterinsights.Client, parent, project string, models []*contactcenterinsightspb.IssueModel, listErr error) (checkResult, []string) {
	modelName := parent + "/issueModels/doctor-probe"
	if len(models) > 0 {
		modelName = models[0].GetName()
	}
	var runningCreates []string
	checks := permissionChecks(c, parent, modelName, listErr, &runningCreates)
	var denied, failed, warned []string
	var fixes []string
	for _, pc := range checks {
		err := callWithTimeout(ctx, pc.call)
		switch {
		case err == nil, status.Code(err) == codes.NotFound:
		case status.Code(err) == codes.PermissionDenied && pc.optional != "":
			warned = append(warned, pc.permission+" ("+pc.optional+")")
		case status.Code(err) == codes.PermissionDenied:
			denied = append(denied, pc.permission)
		default:
			failed = append(failed, pc.permission+": "+codeOf(err))
			fixes = append(fixes, apiFix(err, project))
		}
	}
	return permissionsResult(project, denied, failed, warned, fixes), runningCreates
}

// permissionChecks are the harmless calls, in order: the operations' list notes the running
// creations in runningCreates and picks an operation for the get to read.
func permissionChecks(c *contactcenterinsights.Client, parent, modelName string, listErr error, runningCreates *[]string) []permissionCheck {
	opName := parent + "/operations/doctor-probe"
	return []permissionCheck{
		{permission: "contactcenterinsights.issueModels.list", call: func(context.Context) error { return listErr }},
		{permission: "contactcenterinsights.issueModels.get", call: func(ctx context.Context) error {
			_, err := c.GetIssueModel(ctx, &contactcenterinsightspb.GetIssueModelRequest{Name: modelName}, noRetry)
			return err
		}},
		{permission: "contactcenterinsights.operations.list", call: func(ctx context.Context) error {
			it := c.ListOperations(ctx, &longrunningpb.ListOperationsRequest{Name: parent, Filter: "done=false"}, noRetry)
			op, err := it.Next()
			for ; err == nil; op, err = it.Next() {
				if strings.HasSuffix(op.GetMetadata().GetTypeUrl(), ".CreateIssueModelMetadata") {
					*runningCreates = append(*runningCreates, op.GetName())
				}
				if opName == parent+"/operations/doctor-probe" {
					opName = op.GetName()
				}
			}
			if errors.Is(err, iterator.Done) {
				return nil
			}
			return err
		}},
		{permission: "contactcenterinsights.operations.get", call: func(ctx context.Context) error {
			_, err := c.GetOperation(ctx, &longrunningpb.GetOperationRequest{Name: opName}, noRetry)
			return err
		}},
		{permission: "contactcenterinsights.conversations.list", optional: "the pipeline workflows (ingest, analyze) need it", call: func(ctx context.Context) error {
			_, err := c.ListConversations(ctx, &contactcenterinsightspb.ListConversationsRequest{Parent: parent, PageSize: 1}, noRetry).Next()
			if errors.Is(err, iterator.Done) {
				return nil
			}
			return err
		}},
	}
}

// permissionsResult is the permissions line: FAIL on a denied or failed required permission,
// warn on a denied optional one.
func permissionsResult(project string, denied, failed, warned, fixes []string) checkResult {
	perm := checkResult{Name: "permissions", Status: statusOK,
		Detail: "list and get of issue models and operations, list of conversations (the writes, create, deploy, undeploy, delete and cancel, are not tried: grant roles/contactcenterinsights.editor)"}
	switch {
	case len(denied) > 0 || len(failed) > 0:
		perm.Status = statusFail
		var parts []string
		if len(denied) > 0 {
			parts = append(parts, "PERMISSION_DENIED for "+strings.Join(denied, ", "))
			fixes = append([]string{"grant the identity above roles/contactcenterinsights.editor on project " + project +
				" (gcloud projects add-iam-policy-binding " + project + " --member=serviceAccount:EMAIL --role=roles/contactcenterinsights.editor)"}, fixes...)
		}
		parts = append(parts, failed...)
		perm.Detail = strings.Join(parts, "; ")
		perm.Fix = strings.Join(fixes, "; ")
	case len(warned) > 0:
		perm.Status, perm.Detail = statusWarn, "PERMISSION_DENIED for "+strings.Join(warned, ", ")
		perm.Fix = "grant roles/contactcenterinsights.editor if you run those workflows"
	}
	return perm
}

// quotaHeadroom checks Google's per-location limits the lifecycle and create workflows meet.
func quotaHeadroom(models []*contactcenterinsightspb.IssueModel, runningCreates []string, location string) checkResult {
	deployed := 0
	for _, m := range models {
		if s := m.GetState(); s == contactcenterinsightspb.IssueModel_DEPLOYED || s == contactcenterinsightspb.IssueModel_DEPLOYING {
			deployed++
		}
	}
	q := checkResult{Name: "quota headroom", Status: statusOK,
		Detail: fmt.Sprintf("%d of %d models, %d of %d deployed, %d creation(s) running in %s", len(models), maxModelsPerLocation, deployed, maxDeployedPerLocation, len(runningCreates), location)}
	var qfix []string
	if len(models) >= maxModelsPerLocation {
		q.Status = statusFail
		qfix = append(qfix, "delete models you no longer use (a new creation is refused with RESOURCE_EXHAUSTED at 10; the lifecycle workflow deletes old undeployed models of its display name only with deleteReplaced)")
	}
	if deployed >= maxDeployedPerLocation {
		q.Status = statusFail
		qfix = append(qfix, "undeploy a model (a deploy is refused at 5 deployed)")
	}
	if len(runningCreates) > 0 && q.Status == statusOK {
		q.Status = statusWarn
		qfix = append(qfix, "a creation is already running in the location ("+strings.Join(runningCreates, ", ")+"): a new one waits for it (RESOURCE_EXHAUSTED, retried)")
	}
	q.Fix = strings.Join(qfix, "; ")
	return q
}

// apiFix says what to do about an API error other than a denied permission.
func apiFix(err error, project string) string {
	switch status.Code(err) {
	case codes.Unauthenticated:
		return "the credentials are not accepted: refresh them (gcloud auth application-default login) or check the key"
	case codes.Unavailable, codes.DeadlineExceeded:
		return "the endpoint cannot be reached: check the network, INSIGHTS_ENDPOINT_PATTERN or INSIGHTS_EMULATOR_HOST"
	case codes.InvalidArgument:
		return "check -parent (project " + project + ", the location) and that the endpoint serves that location"
	case codes.ResourceExhausted:
		return "the per-minute quota is spent: wait a minute, lower the task queue's per-project limit (docs/OPERATING.md, Google API quota)"
	}
	return "see the error; run again"
}

// reasonOf is the google.rpc.ErrorInfo reason of an API error ("" if none).
func reasonOf(err error) string {
	var ae *apierror.APIError
	if errors.As(err, &ae) {
		return ae.Reason()
	}
	if ae, ok := apierror.FromError(err); ok {
		return ae.Reason()
	}
	return ""
}

// codeOf is an API error as CODE: message.
func codeOf(err error) string {
	st := status.Convert(err)
	return fmt.Sprintf("%s: %s", strings.ToUpper(toSnake(st.Code().String())), st.Message())
}

// toSnake turns a gRPC code's Go name (PermissionDenied) into its canonical one's shape
// (Permission_Denied, upper-cased by the caller).
func toSnake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 && r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
		}
		b.WriteRune(r)
	}
	return b.String()
}

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
