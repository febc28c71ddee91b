package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"cloud.google.com/go/auth/credentials"
	"cloud.google.com/go/compute/metadata"
	contactcenterinsights "cloud.google.com/go/contactcenterinsights/apiv1"
	"cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"
	"cloud.google.com/go/longrunning/autogen/longrunningpb"
	"github.com/googleapis/gax-go/v2"
	"github.com/googleapis/gax-go/v2/apierror"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/issuemodels/durable-lro/insights"
	"github.com/issuemodels/durable-lro/insightsclient"
	"github.com/issuemodels/durable-lro/workflows"
)

// The doctor's checks of Google: credentials, the Contact Center Insights API, permissions and
// quota headroom.

// Google's per-location limits that the workflows meet, as the lifecycle workflow counts them.
const (
	maxModelsPerLocation   = workflows.MaxModelsPerLocation
	maxDeployedPerLocation = workflows.MaxDeployedPerLocation
)

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
