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
	// Google API rate limits (see README, "Quota").
	taskQueueActivitiesPerSecond positive
	pollsPerSecond               positive
	// fleetPollsPerSecond, when set, replaces pollsPerSecond by a share of one budget for all
	// workers of the task queue (package fleetbudget).
	fleetPollsPerSecond      positive
	registerSearchAttributes bool
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
	// Worker Versioning (README, "Worker Versioning"): off without a deployment name.
	deploymentName     string
	buildID            string
	versioningBehavior behavior
}

// Default API rate limits: 10 + 30 requests/s = 2,400 requests/min for one worker, below the
// 3,000 requests/min per project that Contact Center Insights allows.
const (
	defaultTaskQueueActivitiesPerSecond = 10.0
	defaultPollsPerSecond               = 30.0
)

// envOf names each flag's environment variable, the one place it is written: the flags' help
// and the reading of the environment both come from it. ff's own fallback derives the variable
// from the flag's name (TASK_QUEUE for -task-queue), which cannot spell these public names.
var envOf = []struct{ flag, env string }{
	{"task-queue", "TEMPORAL_TASK_QUEUE"},
	{"log-level", "LOG_LEVEL"},
	{"log-format", "LOG_FORMAT"},
	{"metrics-addr", "METRICS_ADDR"},
	{"task-queue-activities-per-second", "TASK_QUEUE_ACTIVITIES_PER_SECOND"},
	{"polls-per-second", "POLLS_PER_SECOND"},
	{"fleet-polls-per-second", "FLEET_POLLS_PER_SECOND"},
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
		pollsPerSecond:               defaultPollsPerSecond,
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
		"API calls per second other than GetOperation (create, cancel, deploy, list, ...), enforced by the Temporal server across all workers of the task queue")
	fs.Var(&cfg.pollsPerSecond, "polls-per-second", "GetOperation calls per second of this worker (local activities)")
	fs.Var(&cfg.fleetPollsPerSecond, "fleet-polls-per-second",
		"GetOperation calls per second for ALL workers of the task queue together: each worker takes an equal share, counting the live workers from the pollers the Temporal server reports (instead of -polls-per-second; empty: off)")
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

// check refuses settings that cannot work together; set holds the flags given by flag or
// environment.
func (cfg config) check(set map[string]bool, args []string) error {
	switch {
	case len(args) > 0:
		return fmt.Errorf("unexpected arguments: %q", args)
	case cfg.taskQueue == "":
		return errors.New("-task-queue must not be empty")
	case set["fleet-polls-per-second"] && set["polls-per-second"]:
		return errors.New("-fleet-polls-per-second (FLEET_POLLS_PER_SECOND) and -polls-per-second (POLLS_PER_SECOND) are two ways to set the same budget: set one")
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
