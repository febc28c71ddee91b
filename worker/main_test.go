package main

import (
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

func TestParseFlagsFromEnvAndFlags(t *testing.T) {
	env := map[string]string{"TEMPORAL_TASK_QUEUE": "q-env", "LOG_LEVEL": "debug", "METRICS_ADDR": "127.0.0.1:9464"}
	cfg, err := parseFlags(nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.taskQueue != "q-env" || cfg.logLevel != "debug" || cfg.metricsAddr != "127.0.0.1:9464" || cfg.stopTimeout != 10*time.Second {
		t.Fatalf("cfg = %+v", cfg)
	}
	cfg, err = parseFlags([]string{"-task-queue", "q-flag", "-metrics-addr", ""}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.taskQueue != "q-flag" || cfg.metricsAddr != "" {
		t.Fatalf("flags must win over the environment: %+v", cfg)
	}
	cfg, err = parseFlags(nil, func(string) string { return "" })
	if err != nil || cfg.taskQueue != "issue-models" || cfg.metricsAddr != "" {
		t.Fatalf("defaults: %+v %v", cfg, err)
	}
	if _, err := parseFlags([]string{"-task-queue", ""}, func(string) string { return "" }); err == nil {
		t.Fatal("an empty task queue must be refused")
	}
	if _, err := newLogger("loud", "json"); err == nil {
		t.Fatal("a bad log level must be refused")
	}
}

func TestParseRateLimits(t *testing.T) {
	none := func(string) string { return "" }
	cfg, err := parseFlags(nil, none)
	if err != nil || cfg.taskQueueActivitiesPerSecond != 40 || cfg.projectRequestsPerSecond != 40 || !cfg.registerSearchAttributes {
		t.Fatalf("defaults: %+v %v", cfg, err)
	}
	env := map[string]string{"TASK_QUEUE_ACTIVITIES_PER_SECOND": "2.5", "PROJECT_REQUESTS_PER_SECOND": "12", "REGISTER_SEARCH_ATTRIBUTES": "false"}
	cfg, err = parseFlags(nil, func(k string) string { return env[k] })
	if err != nil || cfg.taskQueueActivitiesPerSecond != 2.5 || cfg.projectRequestsPerSecond != 12 || cfg.registerSearchAttributes {
		t.Fatalf("from the environment: %+v %v", cfg, err)
	}
	cfg, err = parseFlags([]string{"-project-requests-per-second", "7"}, func(k string) string { return env[k] })
	if err != nil || cfg.projectRequestsPerSecond != 7 {
		t.Fatalf("flags must win over the environment: %+v %v", cfg, err)
	}
	for _, bad := range []string{"0", "-1", "fast", "NaN", "+Inf"} {
		if _, err := parseFlags([]string{"-project-requests-per-second", bad}, none); err == nil {
			t.Errorf("-project-requests-per-second %q accepted", bad)
		}
		if _, err := parseFlags(nil, func(k string) string { return map[string]string{"TASK_QUEUE_ACTIVITIES_PER_SECOND": bad}[k] }); err == nil {
			t.Errorf("TASK_QUEUE_ACTIVITIES_PER_SECOND=%q accepted", bad)
		}
	}
}

func TestParsePollers(t *testing.T) {
	none := func(string) string { return "" }
	cfg, err := parseFlags(nil, none)
	if err != nil || cfg.pollers != 0 {
		t.Fatalf("default must be autoscaling (0): %+v %v", cfg.pollers, err)
	}
	cfg, err = parseFlags(nil, func(k string) string { return map[string]string{"WORKER_POLLERS": "8"}[k] })
	if err != nil || cfg.pollers != 8 {
		t.Fatalf("WORKER_POLLERS=8: %v %v", cfg.pollers, err)
	}
	cfg, err = parseFlags([]string{"-pollers", "autoscaling"}, func(k string) string { return map[string]string{"WORKER_POLLERS": "8"}[k] })
	if err != nil || cfg.pollers != 0 {
		t.Fatalf("flags must win over the environment: %v %v", cfg.pollers, err)
	}
	for _, bad := range []string{"1", "0", "many", "-3", "5000"} {
		if _, err := parseFlags([]string{"-pollers", bad}, none); err == nil {
			t.Errorf("-pollers %q accepted", bad)
		}
	}
	if _, err := parseFlags(nil, func(k string) string { return map[string]string{"WORKER_POLLERS": "auto"}[k] }); err == nil {
		t.Error("WORKER_POLLERS=auto accepted")
	}
}

func TestWorkerVersioningIsOffWithoutADeploymentName(t *testing.T) {
	cfg, err := parseFlags(nil, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if d := cfg.deploymentOptions(); d != (worker.DeploymentOptions{}) {
		t.Fatalf("without -deployment-name the worker must be unversioned, got %+v", d)
	}
}

func TestWorkerVersioningOptions(t *testing.T) {
	env := map[string]string{"TEMPORAL_DEPLOYMENT_NAME": "issue-models", "TEMPORAL_WORKER_BUILD_ID": "v1"}
	cfg, err := parseFlags(nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	want := worker.DeploymentOptions{
		UseVersioning:             true,
		Version:                   worker.WorkerDeploymentVersion{DeploymentName: "issue-models", BuildID: "v1"},
		DefaultVersioningBehavior: workflow.VersioningBehaviorAutoUpgrade,
	}
	if d := cfg.deploymentOptions(); d != want {
		t.Fatalf("from the environment: %+v, want %+v", d, want)
	}
	cfg, err = parseFlags([]string{"-build-id", "v2", "-versioning-behavior", "pinned"}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	want.Version.BuildID, want.DefaultVersioningBehavior = "v2", workflow.VersioningBehaviorPinned
	if d := cfg.deploymentOptions(); d != want {
		t.Fatalf("flags must win over the environment: %+v, want %+v", d, want)
	}
}

func TestWorkerVersioningRefusesIncompleteSettings(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{args: []string{"-deployment-name", "d"}, want: "-deployment-name needs -build-id"},
		{args: []string{"-build-id", "v1"}, want: "need -deployment-name"},
		{env: map[string]string{"TEMPORAL_VERSIONING_BEHAVIOR": "pinned"}, want: "need -deployment-name"},
		{args: []string{"-deployment-name", "d", "-build-id", "v1", "-versioning-behavior", "sticky"}, want: `"sticky" is not pinned or auto-upgrade`},
		{env: map[string]string{"TEMPORAL_VERSIONING_BEHAVIOR": "Pinned"}, want: "TEMPORAL_VERSIONING_BEHAVIOR"},
		{args: []string{"-deployment-name", "a.b", "-build-id", "v1"}, want: "must not contain ':' or '.'"},
		{env: map[string]string{"TEMPORAL_DEPLOYMENT_NAME": "a:b", "TEMPORAL_WORKER_BUILD_ID": "v1"}, want: "must not contain ':' or '.'"},
	} {
		_, err := parseFlags(tc.args, func(k string) string { return tc.env[k] })
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q %v: error %v, want one mentioning %q", tc.args, tc.env, err, tc.want)
		}
	}
}

func TestHelpShowsTheDefaultsAndEveryVariable(t *testing.T) {
	var cfg config
	fs := flagSet(&cfg)
	var out strings.Builder
	fs.SetOutput(&out)
	fs.Usage()
	for _, want := range []string{"-task-queue issue-models", "-project-requests-per-second 40", "-task-queue-activities-per-second 40",
		"-pollers autoscaling", "-versioning-behavior auto-upgrade"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, out.String())
		}
	}
	for _, e := range envOf {
		if !strings.Contains(out.String(), "(env "+e.env+")") {
			t.Errorf("help does not name %s", e.env)
		}
	}
}

// TestRemovedBudgetsAreRefused: a worker given the per-worker budgets of earlier releases, by
// environment or flag, refuses to start and names what replaces them, rather than run with a
// budget it no longer keeps.
func TestRemovedBudgetsAreRefused(t *testing.T) {
	for _, c := range []struct {
		args []string
		env  map[string]string
	}{
		{env: map[string]string{"FLEET_POLLS_PER_SECOND": "20"}},
		{env: map[string]string{"POLLS_PER_SECOND": "30"}},
		{args: []string{"-polls-per-second", "5"}},
		{args: []string{"--fleet-polls-per-second=5"}},
	} {
		_, err := parseFlags(c.args, func(k string) string { return c.env[k] })
		if err == nil || !strings.Contains(err.Error(), "PROJECT_REQUESTS_PER_SECOND") || !strings.Contains(err.Error(), "is gone") {
			t.Errorf("%v %v: err = %v, want a refusal naming the new settings", c.args, c.env, err)
		}
	}
}

// TestParseAPITimeScale: -api-time-scale / INSIGHTS_API_TIME_SCALE defaults to 1 (real time) and
// refuses anything not positive, naming the variable.
func TestParseAPITimeScale(t *testing.T) {
	none := func(string) string { return "" }
	cfg, err := parseFlags(nil, none)
	if err != nil || cfg.apiTimeScale != 1 {
		t.Fatalf("default: %v %v", cfg.apiTimeScale, err)
	}
	env := func(k string) string { return map[string]string{"INSIGHTS_API_TIME_SCALE": "10"}[k] }
	if cfg, err = parseFlags(nil, env); err != nil || cfg.apiTimeScale != 10 {
		t.Fatalf("INSIGHTS_API_TIME_SCALE=10: %v %v", cfg.apiTimeScale, err)
	}
	if cfg, err = parseFlags([]string{"-api-time-scale", "2"}, env); err != nil || cfg.apiTimeScale != 2 {
		t.Fatalf("flags must win over the environment: %v %v", cfg.apiTimeScale, err)
	}
	for _, bad := range []string{"0", "-1", "fast", "+Inf"} {
		_, err := parseFlags(nil, func(k string) string { return map[string]string{"INSIGHTS_API_TIME_SCALE": bad}[k] })
		if err == nil || !strings.Contains(err.Error(), "INSIGHTS_API_TIME_SCALE") || !strings.Contains(err.Error(), "not a positive number") {
			t.Errorf("INSIGHTS_API_TIME_SCALE=%q: %v", bad, err)
		}
		if _, err := parseFlags([]string{"-api-time-scale", bad}, none); err == nil {
			t.Errorf("-api-time-scale %q accepted", bad)
		}
	}
}

// TestParseInsightsEndpointPattern: -insights-endpoint-pattern / INSIGHTS_ENDPOINT_PATTERN is
// empty (Google's endpoints) by default, flags win, and a pattern that names no host is refused
// naming the variable.
func TestParseInsightsEndpointPattern(t *testing.T) {
	cfg, err := parseFlags(nil, func(string) string { return "" })
	if err != nil || cfg.insightsEndpointPattern != "" {
		t.Fatalf("default: %q %v", cfg.insightsEndpointPattern, err)
	}
	env := func(k string) string {
		return map[string]string{"INSIGHTS_ENDPOINT_PATTERN": "{location}-contactcenterinsights-psc.p.googleapis.com"}[k]
	}
	if cfg, err = parseFlags(nil, env); err != nil || cfg.insightsEndpointPattern != "{location}-contactcenterinsights-psc.p.googleapis.com" {
		t.Fatalf("env: %q %v", cfg.insightsEndpointPattern, err)
	}
	if cfg, err = parseFlags([]string{"-insights-endpoint-pattern", "proxy:8443"}, env); err != nil || cfg.insightsEndpointPattern != "proxy:8443" {
		t.Fatalf("flags must win over the environment: %q %v", cfg.insightsEndpointPattern, err)
	}
	_, err = parseFlags(nil, func(k string) string {
		return map[string]string{"INSIGHTS_ENDPOINT_PATTERN": "https://{location}.example.com"}[k]
	})
	if err == nil || !strings.Contains(err.Error(), "INSIGHTS_ENDPOINT_PATTERN") {
		t.Errorf("a URL was accepted: %v", err)
	}
}

// The worker serves the issue-models Nexus service unless told not to (flag or environment).
func TestNexusServiceFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  string
		want bool
	}{{nil, "", true}, {nil, "false", false}, {[]string{"-nexus-service=false"}, "", false}, {[]string{"-nexus-service"}, "false", true}} {
		cfg, err := parseFlags(tc.args, func(k string) string {
			if k == "NEXUS_SERVICE" {
				return tc.env
			}
			return ""
		})
		if err != nil || cfg.nexusService != tc.want {
			t.Errorf("args %v, NEXUS_SERVICE=%q: nexusService %v (%v), want %v", tc.args, tc.env, cfg.nexusService, err, tc.want)
		}
	}
}
