package main

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/peterbourgon/ff/v3"
	"github.com/peterbourgon/ff/v3/ffcli"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/issuemodels/durable-lro/insightsclient"
	"github.com/issuemodels/durable-lro/internal/telemetry"
	"github.com/issuemodels/durable-lro/workflows"
)

// config is what the flags and environment select.
type config struct {
	// tracing is the OpenTelemetry tracing the OTEL_* variables ask for (nil: off).
	tracing     *telemetry.Tracing
	taskQueue   string
	logLevel    string
	logFormat   string
	stopTimeout time.Duration
	metricsAddr string
	// The Google API budget, held by the Temporal server for every worker of the task queue
	// (docs/OPERATING.md, "Google API quota"): the whole queue's activities per second, and
	// each Google project's (the activities' fairness key).
	taskQueueActivitiesPerSecond positive
	projectRequestsPerSecond     positive
	registerSearchAttributes     bool
	// nexusService registers the issue-models Nexus service (package nexusservice).
	nexusService bool
	// apiTimeScale is the API's seconds per real second: 1 for Google, the emulator's
	// -time-scale for an emulator running faster than real time (activities.APITimeScale).
	apiTimeScale positive
	// insightsEndpointPattern overrides Google's endpoint of each location
	// (insightsclient.RegionalOptions.Pattern); empty: Google's.
	insightsEndpointPattern string
	// pollers is how many task polls the worker keeps open: 0 for the SDK's poller
	// autoscaling, else a fixed maximum.
	pollers pollers
	// Worker Versioning (docs/VERSIONING.md, "Worker Versioning"): off without a deployment name.
	deploymentName     string
	buildID            string
	versioningBehavior behavior
}

// Default API rate limits: 40 requests/s = 2,400 requests/min, below the 3,000 requests/min
// per project that Contact Center Insights allows (headroom for the project's other callers).
// The queue-wide default is one project's budget, so that a server without fairness still
// holds a one-project fleet to its quota; a fleet serving N projects sets N times it.
const (
	defaultProjectRequestsPerSecond     = 40.0
	defaultTaskQueueActivitiesPerSecond = defaultProjectRequestsPerSecond
)

// removedSettings are budgets of earlier releases that paced polls in the worker: a worker
// given one refuses to start rather than run with a budget it no longer keeps.
var removedSettings = map[string]string{"POLLS_PER_SECOND": "polls-per-second", "FLEET_POLLS_PER_SECOND": "fleet-polls-per-second"}

// envOf names each flag's environment variable, the one place it is written: the flags' help
// and the reading of the environment both come from it. ff's own fallback derives the variable
// from the flag's name (TASK_QUEUE for -task-queue), which cannot spell these public names.
var envOf = []struct{ flag, env string }{
	{"task-queue", "TEMPORAL_TASK_QUEUE"},
	{"log-level", "LOG_LEVEL"},
	{"log-format", "LOG_FORMAT"},
	{"metrics-addr", "METRICS_ADDR"},
	{"task-queue-activities-per-second", "TASK_QUEUE_ACTIVITIES_PER_SECOND"},
	{"project-requests-per-second", "PROJECT_REQUESTS_PER_SECOND"},
	{"pollers", "WORKER_POLLERS"},
	{"api-time-scale", "INSIGHTS_API_TIME_SCALE"},
	{"insights-endpoint-pattern", "INSIGHTS_ENDPOINT_PATTERN"},
	{"register-search-attributes", "REGISTER_SEARCH_ATTRIBUTES"},
	{"nexus-service", "NEXUS_SERVICE"},
	{"deployment-name", "TEMPORAL_DEPLOYMENT_NAME"},
	{"build-id", "TEMPORAL_WORKER_BUILD_ID"},
	{"versioning-behavior", "TEMPORAL_VERSIONING_BEHAVIOR"},
}

const longHelp = `Runs the Temporal worker for the issue-model workflows. Flags win over environment variables.

Temporal connection (go.temporal.io/sdk/contrib/envconfig): TEMPORAL_ADDRESS (default
localhost:7233), TEMPORAL_NAMESPACE (default "default"), TEMPORAL_API_KEY, TEMPORAL_TLS,
TEMPORAL_TLS_CLIENT_CERT_PATH, TEMPORAL_TLS_CLIENT_KEY_PATH, TEMPORAL_TLS_SERVER_CA_CERT_PATH,
..., or a TOML profile (TEMPORAL_CONFIG_FILE, TEMPORAL_PROFILE).
Contact Center Insights: each call goes to the endpoint of its resource's location, as Google
serves them: contactcenterinsights.googleapis.com for us-central1, {location}-contactcenterinsights.googleapis.com
for the others (-insights-endpoint-pattern overrides this), with Application Default Credentials;
INSIGHTS_EMULATOR_HOST=host:port sends every call to the emulator instead, naming its endpoint.`

// flagSet defines the worker's flags on cfg, with their defaults, and the help.
func flagSet(cfg *config) *flag.FlagSet {
	*cfg = config{
		taskQueueActivitiesPerSecond: defaultTaskQueueActivitiesPerSecond,
		projectRequestsPerSecond:     defaultProjectRequestsPerSecond,
		versioningBehavior:           behavior(workflow.VersioningBehaviorAutoUpgrade),
		apiTimeScale:                 1,
	}
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	fs.StringVar(&cfg.taskQueue, "task-queue", workflows.DefaultTaskQueue, "task queue to poll")
	fs.StringVar(&cfg.logLevel, "log-level", "info", "debug | info | warn | error")
	fs.StringVar(&cfg.logFormat, "log-format", "json", "json | console")
	fs.DurationVar(&cfg.stopTimeout, "stop-timeout", 10*time.Second, "on SIGINT/SIGTERM, how long running activities get to finish")
	fs.StringVar(&cfg.metricsAddr, "metrics-addr", "", "serve the SDK's Prometheus metrics on this address, e.g. 127.0.0.1:9464 (empty: off)")
	fs.Var(&cfg.taskQueueActivitiesPerSecond, "task-queue-activities-per-second",
		"API calls per second (polls, creates, cancels, deploys, lists: every activity) of ALL workers of the task queue together, enforced by the Temporal server; a fleet serving N Google projects sets N times -project-requests-per-second. `temporal task-queue config set --queue-rps-limit` overrides it")
	fs.Var(&cfg.projectRequestsPerSecond, "project-requests-per-second",
		"API calls per second per Google project (the activities' fairness key), enforced by the Temporal server across all workers when fairness is on (matching.enableFairness); set on the task queue at startup unless an operator set it with `temporal task-queue config set --fairness-key-rps-limit-default`")
	fs.Var(&cfg.pollers, "pollers", `task polls the worker keeps open per kind (workflow, activity): "autoscaling" (the SDK scales them on the server's feedback; needs Temporal server >= 1.28) or a fixed maximum`)
	fs.Var(&cfg.apiTimeScale, "api-time-scale",
		"seconds of the API's clock per real second, to read durations off its timestamps (the learned polling's estimate): 1 for Google; only for the emulator running faster than real time, its -time-scale")
	fs.StringVar(&cfg.insightsEndpointPattern, "insights-endpoint-pattern", "",
		"Contact Center Insights endpoint (host[:port]) for every location instead of Google's, {location} standing for the resource's location, e.g. {location}-contactcenterinsights-myendpoint.p.googleapis.com (Private Service Connect) or a proxy's host:port; empty: Google's regional endpoints")
	fs.BoolVar(&cfg.registerSearchAttributes, "register-search-attributes", true,
		"at startup, register the workflows' search attributes (InsightsOperation, InsightsPhase) if the namespace lacks them; when false, only check that they exist")
	fs.BoolVar(&cfg.nexusService, "nexus-service", true,
		"serve the issue-models Nexus service (operations create-issue-model, await-operation, issue-model-lifecycle) to callers in other namespaces through a Nexus endpoint that targets this task queue; false: workflows only")
	fs.StringVar(&cfg.deploymentName, "deployment-name", "", "Worker Versioning: the Worker Deployment this worker belongs to (empty: versioning off)")
	fs.StringVar(&cfg.buildID, "build-id", "", "Worker Versioning: this worker's build id within the deployment (required with -deployment-name)")
	fs.Var(&cfg.versioningBehavior, "versioning-behavior", "Worker Versioning: pinned (a run stays on the version it started on) | auto-upgrade (a run moves to the current version)")
	for _, e := range envOf {
		f := fs.Lookup(e.flag)
		f.Usage += " (env " + e.env + ")"
	}
	help := &ffcli.Command{Name: "worker", ShortUsage: "worker [flags]", LongHelp: longHelp, FlagSet: fs}
	fs.Usage = func() { fmt.Fprintln(fs.Output(), ffcli.DefaultUsageFunc(help)) }
	return fs
}

// parseFlags reads the environment, then the command line (so flags win), and checks the result.
func parseFlags(args []string, getenv func(string) string) (config, error) {
	var cfg config
	fs := flagSet(&cfg)
	if err := refuseRemoved(args, getenv); err != nil {
		return cfg, err
	}
	for _, e := range envOf {
		if v := strings.TrimSpace(getenv(e.env)); v != "" {
			if err := fs.Set(e.flag, v); err != nil {
				return cfg, fmt.Errorf("%s: %w", e.env, err)
			}
		}
	}
	if err := ff.Parse(fs, args); err != nil {
		return cfg, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return cfg, cfg.check(set, fs.Args())
}

// refuseRemoved refuses the budgets the worker no longer keeps, by flag or environment.
func refuseRemoved(args []string, getenv func(string) string) error {
	for env, flagName := range removedSettings {
		given := strings.TrimSpace(getenv(env)) != ""
		for _, a := range args {
			given = given || a == "-"+flagName || a == "--"+flagName || strings.HasPrefix(a, "-"+flagName+"=") || strings.HasPrefix(a, "--"+flagName+"=")
		}
		if given {
			return fmt.Errorf("-%s (%s) is gone: the Temporal server holds the Google API budget for all workers; set -project-requests-per-second (PROJECT_REQUESTS_PER_SECOND) and -task-queue-activities-per-second (TASK_QUEUE_ACTIVITIES_PER_SECOND), or change them at run time with `temporal task-queue config set` (docs/OPERATING.md, \"Google API quota\")", flagName, env)
		}
	}
	return nil
}

// check refuses settings that cannot work together; set holds the flags given by flag or
// environment.
func (cfg config) check(set map[string]bool, args []string) error {
	switch {
	case len(args) > 0:
		return fmt.Errorf("unexpected arguments: %q", args)
	case cfg.taskQueue == "":
		return errors.New("-task-queue must not be empty")
	case cfg.deploymentName == "" && (set["build-id"] || set["versioning-behavior"]):
		return errors.New("-build-id and -versioning-behavior need -deployment-name (TEMPORAL_DEPLOYMENT_NAME): Worker Versioning is off without one")
	case cfg.deploymentName != "" && cfg.buildID == "":
		return errors.New("-deployment-name needs -build-id (TEMPORAL_WORKER_BUILD_ID): the version of this worker within the deployment")
	case insightsclient.CheckPattern(cfg.insightsEndpointPattern) != nil:
		return fmt.Errorf("-insights-endpoint-pattern (INSIGHTS_ENDPOINT_PATTERN): %w", insightsclient.CheckPattern(cfg.insightsEndpointPattern))
	case strings.ContainsAny(cfg.deploymentName, ".:"):
		// The server refuses such a name at every poll ("deployment name cannot contain ':' or
		// '.'"): the worker would run and never get a task.
		return fmt.Errorf("-deployment-name %q must not contain ':' or '.'", cfg.deploymentName)
	}
	return nil
}

// deploymentOptions turns Worker Versioning on when a deployment name is given; the zero value
// (off) leaves the worker unversioned, as it was before the option existed.
func (cfg config) deploymentOptions() worker.DeploymentOptions {
	if cfg.deploymentName == "" {
		return worker.DeploymentOptions{}
	}
	return worker.DeploymentOptions{
		UseVersioning:             true,
		Version:                   worker.WorkerDeploymentVersion{DeploymentName: cfg.deploymentName, BuildID: cfg.buildID},
		DefaultVersioningBehavior: workflow.VersioningBehavior(cfg.versioningBehavior),
	}
}

// positive is a flag of a positive, finite number.
type positive float64

func (p *positive) String() string { return strconv.FormatFloat(float64(*p), 'g', -1, 64) }

func (p *positive) Set(s string) error {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || !(v > 0) || math.IsInf(v, 0) {
		return fmt.Errorf("%q is not a positive number", s)
	}
	*p = positive(v)
	return nil
}

// pollers is "autoscaling" (0) or a fixed number of pollers (at least 2: the SDK needs two for
// workflow tasks, one for the normal and one for the sticky queue).
type pollers int

func (p *pollers) String() string {
	if *p == 0 {
		return "autoscaling"
	}
	return strconv.Itoa(int(*p))
}

func (p *pollers) Set(s string) error {
	if s == "autoscaling" {
		*p = 0
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 2 || n > 1000 {
		return fmt.Errorf("%q is not \"autoscaling\" or a number of pollers from 2 to 1000", s)
	}
	*p = pollers(n)
	return nil
}

// behavior is the default versioning behaviour of the worker's workflows.
type behavior workflow.VersioningBehavior

var behaviorNames = map[string]workflow.VersioningBehavior{
	"pinned":       workflow.VersioningBehaviorPinned,
	"auto-upgrade": workflow.VersioningBehaviorAutoUpgrade,
}

func (b *behavior) String() string {
	for name, v := range behaviorNames {
		if v == workflow.VersioningBehavior(*b) {
			return name
		}
	}
	return ""
}

func (b *behavior) Set(s string) error {
	v, ok := behaviorNames[s]
	if !ok {
		return fmt.Errorf("%q is not pinned or auto-upgrade", s)
	}
	*b = behavior(v)
	return nil
}
