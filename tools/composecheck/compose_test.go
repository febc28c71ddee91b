// Package composecheck validates ../../docker-compose.yml (and the docker-compose.google.yml
// override) with compose-go, the library behind `docker compose`, since no Docker engine runs
// where the tests do. It is a module of its own so that compose-go's dependencies stay out of
// the main go.mod.
package composecheck

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

const (
	repoRoot       = "../.."
	composeFile    = repoRoot + "/docker-compose.yml"
	googleOverride = repoRoot + "/docker-compose.google.yml"
)

// loadContents loads compose files (base first, then overrides) the way `docker compose -f ...`
// does: interpolation, schema validation, merging, profiles, consistency checks.
func loadContents(wd string, files []types.ConfigFile, env map[string]string, profiles ...string) (*types.Project, error) {
	if env == nil {
		env = map[string]string{}
	}
	return loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  wd,
		ConfigFiles: files,
		Environment: env,
	}, func(o *loader.Options) {
		o.SetProjectName("durable-lro", true)
		o.Profiles = profiles
	})
}

func loadContent(wd string, content []byte, env map[string]string, profiles ...string) (*types.Project, error) {
	return loadContents(wd, []types.ConfigFile{{Filename: filepath.Join(wd, "docker-compose.yml"), Content: content}}, env, profiles...)
}

// loadFiles loads and validates the given files with the given profiles enabled ("*": all).
func loadFiles(t *testing.T, paths []string, env map[string]string, profiles ...string) *types.Project {
	t.Helper()
	wd, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	var files []types.ConfigFile
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, types.ConfigFile{Filename: abs, Content: b})
	}
	p, err := loadContents(wd, files, env, profiles...)
	if err != nil {
		t.Fatalf("loading %v: %v", paths, err)
	}
	return p
}

// load loads docker-compose.yml alone.
func load(t *testing.T, env map[string]string, profiles ...string) *types.Project {
	t.Helper()
	return loadFiles(t, []string{composeFile}, env, profiles...)
}

// TestLoaderValidates makes sure the checks below run with schema and consistency validation:
// the same loader refuses a misspelt key, a dependency on a missing service and a bad condition.
func TestLoaderValidates(t *testing.T) {
	for name, content := range map[string]string{
		"unknown key":     "services:\n  a:\n    image: x\n    portz: [\"1:1\"]\n",
		"missing service": "services:\n  a:\n    image: x\n    depends_on: [b]\n",
		"bad condition":   "services:\n  a:\n    image: x\n    depends_on: {b: {condition: service_ready}}\n  b:\n    image: y\n",
	} {
		if _, err := loadContent(t.TempDir(), []byte(content), nil); err == nil {
			t.Errorf("%s: loaded without error", name)
		}
	}
}

func TestNoVersionKey(t *testing.T) {
	for _, f := range []string{composeFile, googleOverride} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "version:") {
				t.Errorf("%s: obsolete top-level version key: %q", f, line)
			}
		}
	}
}

var defaultServices = []string{
	"insights-emulator", "jaeger", "otel-collector", "postgresql", "prometheus", "temporal", "temporal-admin-tools",
	"temporal-create-namespace", "temporal-ui", "worker",
}

func TestDefaultServices(t *testing.T) {
	p := load(t, nil)
	if p.Name != "durable-lro" {
		t.Errorf("project name %q", p.Name)
	}
	got := p.ServiceNames()
	slices.Sort(got)
	if !slices.Equal(got, defaultServices) {
		t.Fatalf("services without profiles = %v, want %v", got, defaultServices)
	}
}

func TestAllProfiles(t *testing.T) {
	p := load(t, nil, "*")
	got := p.ServiceNames()
	slices.Sort(got)
	want := slices.Sorted(slices.Values(append([]string{"emulator-port", "starter", "temporal-cli"}, defaultServices...)))
	if !slices.Equal(got, want) {
		t.Fatalf("services with every profile = %v, want %v", got, want)
	}
	for name, profile := range map[string]string{"starter": "tools", "temporal-cli": "tools", "emulator-port": "debug"} {
		if s := service(t, p, name); !slices.Equal(s.Profiles, []string{profile}) {
			t.Errorf("%s profiles %v, want [%s]", name, s.Profiles, profile)
		}
	}
}

func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, err := p.GetService(name)
	if err != nil {
		t.Fatalf("service %s: %v", name, err)
	}
	return s
}

type binding struct{ hostIP, published, target string }

func bindings(s types.ServiceConfig) []binding {
	var out []binding
	for _, p := range s.Ports {
		out = append(out, binding{p.HostIP, p.Published, strconv.FormatUint(uint64(p.Target), 10)})
	}
	return out
}

// TestPublishedPorts: exactly these ports are published, all on the host's loopback.
func TestPublishedPorts(t *testing.T) {
	want := map[string][]binding{
		"temporal":      {{"127.0.0.1", "7233", "7233"}},
		"temporal-ui":   {{"127.0.0.1", "8080", "8080"}},
		"worker":        {{"127.0.0.1", "9464", "9464"}},
		"prometheus":    {{"127.0.0.1", "9099", "9090"}},
		"jaeger":        {{"127.0.0.1", "16686", "16686"}},
		"emulator-port": {{"127.0.0.1", "9090", "9090"}},
	}
	p := load(t, nil, "*")
	for _, s := range p.Services {
		if got := bindings(s); !slices.Equal(got, want[s.Name]) {
			t.Errorf("%s publishes %v, want %v", s.Name, got, want[s.Name])
		}
	}
}

// TestImagesPinned: every pulled image has an explicit version; the Temporal images are the
// versions the pinned CLI (v1.5.1) embeds, and admin-tools (which holds the schema files) is the
// server's version, so the schema matches the server.
func TestImagesPinned(t *testing.T) {
	p := load(t, nil, "*")
	for _, s := range p.Services {
		if s.Build != nil {
			continue
		}
		_, tag, ok := strings.Cut(s.Image, ":")
		if !ok || tag == "" || tag == "latest" {
			t.Errorf("%s: image %q is not pinned to a version", s.Name, s.Image)
		}
	}
	server := service(t, p, "temporal").Image
	if !strings.HasPrefix(server, "temporalio/server:1.29.") {
		t.Errorf("server image %q, want temporalio/server:1.29.x", server)
	}
	serverVersion := strings.TrimPrefix(server, "temporalio/server:")
	for _, name := range []string{"temporal-admin-tools", "temporal-create-namespace", "temporal-cli"} {
		img := service(t, p, name).Image
		if !strings.HasPrefix(img, "temporalio/admin-tools:"+serverVersion+"-") || !strings.Contains(img, "-cli-1.5.") {
			t.Errorf("%s image %q, want temporalio/admin-tools:%s-...-cli-1.5.x", name, img, serverVersion)
		}
	}
	if ui := service(t, p, "temporal-ui").Image; !strings.HasPrefix(ui, "temporalio/ui:2.42.") {
		t.Errorf("UI image %q, want temporalio/ui:2.42.x", ui)
	}
	// The images can be overridden.
	o := load(t, map[string]string{"TEMPORAL_IMAGE": "temporalio/server:9.9.9", "TEMPORAL_ADMINTOOLS_IMAGE": "temporalio/admin-tools:9.9.9"})
	if got := service(t, o, "temporal").Image; got != "temporalio/server:9.9.9" {
		t.Errorf("TEMPORAL_IMAGE not honoured: %q", got)
	}
	if got := service(t, o, "temporal-admin-tools").Image; got != "temporalio/admin-tools:9.9.9" {
		t.Errorf("TEMPORAL_ADMINTOOLS_IMAGE not honoured: %q", got)
	}
}

func healthTest(t *testing.T, s types.ServiceConfig) string {
	t.Helper()
	h := s.HealthCheck
	if h == nil || h.Disable || len(h.Test) < 2 || (h.Test[0] != "CMD" && h.Test[0] != "CMD-SHELL") {
		t.Errorf("%s: healthcheck %+v", s.Name, h)
		return ""
	}
	if h.Interval == nil || h.Retries == nil || *h.Retries == 0 {
		t.Errorf("%s: healthcheck without interval/retries: %+v", s.Name, h)
	}
	return strings.Join(h.Test[1:], " ")
}

// port returns the port of a host:port address.
func port(t *testing.T, addr string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Errorf("address %q: %v", addr, err)
	}
	return p
}

// flagValue returns the value of -name=VALUE in a command line.
func flagValue(cmd []string, name string) string {
	for _, a := range cmd {
		if v, ok := strings.CutPrefix(a, "-"+name+"="); ok {
			return v
		}
	}
	return ""
}

func TestHealthchecks(t *testing.T) {
	p := load(t, nil)
	for name, want := range map[string][]string{
		"postgresql": {"pg_isready"},
		"temporal":   {"temporal operator cluster health --address 127.0.0.1:7233", "nc -z 127.0.0.1 7233"},
		"prometheus": {"http://127.0.0.1:9090/-/ready"},
	} {
		got := healthTest(t, service(t, p, name))
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Errorf("%s healthcheck %q lacks %q", name, got, w)
			}
		}
	}

	// The app images have no shell or wget: their probes are the healthcheck binary, aimed at
	// the port the process really listens on.
	em := service(t, p, "insights-emulator")
	statusPort := port(t, flagValue(em.Command, "status-addr"))
	if got, want := healthTest(t, em), "healthcheck http://127.0.0.1:"+statusPort+"/healthz"; got != want {
		t.Errorf("emulator healthcheck %q, want %q", got, want)
	}
	w := service(t, p, "worker")
	metricsPort := port(t, env(w, "METRICS_ADDR"))
	if got, want := healthTest(t, w), "healthcheck http://127.0.0.1:"+metricsPort+"/metrics"; got != want {
		t.Errorf("worker healthcheck %q, want %q", got, want)
	}
}

// TestDependsOn checks the start-up order: postgres healthy → schema set up → server healthy →
// namespace set up → worker, each with the condition that makes it wait for the right thing.
func TestDependsOn(t *testing.T) {
	want := map[string]map[string]string{
		"postgresql":                {},
		"temporal-admin-tools":      {"postgresql": types.ServiceConditionHealthy},
		"temporal":                  {"temporal-admin-tools": types.ServiceConditionCompletedSuccessfully},
		"temporal-create-namespace": {"temporal": types.ServiceConditionHealthy},
		"temporal-ui":               {"temporal": types.ServiceConditionHealthy},
		"insights-emulator":         {},
		"worker": {
			"temporal":                  types.ServiceConditionHealthy,
			"temporal-create-namespace": types.ServiceConditionCompletedSuccessfully,
			"insights-emulator":         types.ServiceConditionHealthy,
			"otel-collector":            types.ServiceConditionStarted,
		},
		"prometheus":     {},
		"otel-collector": {"jaeger": types.ServiceConditionStarted},
		"jaeger":         {},
		"starter":        {"temporal": types.ServiceConditionHealthy, "worker": types.ServiceConditionHealthy},
		"temporal-cli":   {"temporal": types.ServiceConditionHealthy},
		"emulator-port":  {"insights-emulator": types.ServiceConditionHealthy},
	}
	p := load(t, nil, "*")
	for _, s := range p.Services {
		w, ok := want[s.Name]
		if !ok {
			t.Errorf("service %s: no expectation", s.Name)
			continue
		}
		got := map[string]string{}
		for dep, d := range s.DependsOn {
			got[dep] = d.Condition
			switch d.Condition {
			case types.ServiceConditionHealthy:
				if h := service(t, p, dep).HealthCheck; h == nil || h.Disable {
					t.Errorf("%s waits for %s to be healthy, which has no healthcheck", s.Name, dep)
				}
			case types.ServiceConditionCompletedSuccessfully:
				if r := service(t, p, dep).Restart; r != "no" && !strings.HasPrefix(r, "on-failure") {
					t.Errorf("%s waits for %s to complete, whose restart policy %q would keep it running", s.Name, dep, r)
				}
			}
		}
		if len(got) != len(w) {
			t.Errorf("%s depends_on %v, want %v", s.Name, got, w)
			continue
		}
		for dep, cond := range w {
			if got[dep] != cond {
				t.Errorf("%s depends_on %s: condition %q, want %q", s.Name, dep, got[dep], cond)
			}
		}
	}
}

func env(s types.ServiceConfig, key string) string {
	if v, ok := s.Environment[key]; ok && v != nil {
		return *v
	}
	return ""
}

// dbKeys are the temporalio/server image's persistence variables, which the schema setup
// script reads too.
var dbKeys = []string{"DB", "DB_PORT", "POSTGRES_SEEDS", "POSTGRES_USER", "POSTGRES_PWD", "DBNAME", "VISIBILITY_DBNAME"}

// TestSchemaSetupMatchesServer: the schema is set up in the database, with the credentials,
// that the server then uses, and those are PostgreSQL's.
func TestSchemaSetupMatchesServer(t *testing.T) {
	for _, vars := range []map[string]string{nil, {"POSTGRES_USER": "ops", "POSTGRES_PASSWORD": "s3cret"}} {
		p := load(t, vars)
		srv, setup, pg := service(t, p, "temporal"), service(t, p, "temporal-admin-tools"), service(t, p, "postgresql")
		for _, k := range dbKeys {
			if env(srv, k) == "" || env(srv, k) != env(setup, k) {
				t.Errorf("%s: server %q, schema setup %q", k, env(srv, k), env(setup, k))
			}
		}
		if env(srv, "DB") != "postgres12" {
			t.Errorf("DB=%q, want the postgres12 plugin", env(srv, "DB"))
		}
		if env(srv, "POSTGRES_SEEDS") != pg.Name {
			t.Errorf("POSTGRES_SEEDS=%q, want the %s service", env(srv, "POSTGRES_SEEDS"), pg.Name)
		}
		if !slices.Contains(pg.Expose, env(srv, "DB_PORT")) {
			t.Errorf("DB_PORT=%q, but postgresql exposes %v", env(srv, "DB_PORT"), pg.Expose)
		}
		if env(srv, "POSTGRES_USER") != env(pg, "POSTGRES_USER") || env(srv, "POSTGRES_PWD") != env(pg, "POSTGRES_PASSWORD") {
			t.Errorf("server credentials %q/%q, postgres %q/%q", env(srv, "POSTGRES_USER"), env(srv, "POSTGRES_PWD"),
				env(pg, "POSTGRES_USER"), env(pg, "POSTGRES_PASSWORD"))
		}
		if want, ok := vars["POSTGRES_PASSWORD"]; ok && env(setup, "POSTGRES_PWD") != want {
			t.Errorf("POSTGRES_PASSWORD not honoured: %q", env(setup, "POSTGRES_PWD"))
		}
		if !slices.ContainsFunc(pg.Volumes, func(v types.ServiceVolumeConfig) bool {
			return v.Type == types.VolumeTypeVolume && v.Source == "postgres-data" && v.Target == "/var/lib/postgresql/data"
		}) {
			t.Errorf("postgresql keeps no state in a named volume: %+v", pg.Volumes)
		}
	}
}

// script checks that a service runs a script of deploy/ mounted read-only, and returns its
// path in the repository.
func script(t *testing.T, s types.ServiceConfig) string {
	t.Helper()
	if !slices.Equal(s.Entrypoint, types.ShellCommand{"/bin/sh"}) || len(s.Command) != 1 {
		t.Fatalf("%s: entrypoint %v command %v, want /bin/sh SCRIPT", s.Name, s.Entrypoint, s.Command)
	}
	for _, v := range s.Volumes {
		if v.Type == types.VolumeTypeBind && v.Target == s.Command[0] {
			if !v.ReadOnly {
				t.Errorf("%s: %s is mounted read-write", s.Name, v.Target)
			}
			root, _ := filepath.Abs(repoRoot)
			rel, err := filepath.Rel(root, v.Source)
			if err != nil || !strings.HasPrefix(rel, "deploy"+string(filepath.Separator)) {
				t.Fatalf("%s: script source %s is not under deploy/", s.Name, v.Source)
			}
			if _, err := os.Stat(v.Source); err != nil {
				t.Fatalf("%s: %v", s.Name, err)
			}
			return v.Source
		}
	}
	t.Fatalf("%s: %s is not mounted: %+v", s.Name, s.Command[0], s.Volumes)
	return ""
}

func TestTemporal(t *testing.T) {
	s := service(t, load(t, nil), "temporal")
	if env(s, "BIND_ON_IP") != "0.0.0.0" {
		t.Errorf("BIND_ON_IP=%q: the frontend would listen on loopback only", env(s, "BIND_ON_IP"))
	}
	dc := env(s, "DYNAMIC_CONFIG_FILE_PATH")
	if !slices.ContainsFunc(s.Volumes, func(v types.ServiceVolumeConfig) bool {
		_, err := os.Stat(v.Source)
		return v.Type == types.VolumeTypeBind && v.Target == dc && v.ReadOnly && err == nil
	}) {
		t.Errorf("DYNAMIC_CONFIG_FILE_PATH=%q is not a read-only mount of an existing file: %+v", dc, s.Volumes)
	}
	if p := port(t, env(s, "PROMETHEUS_ENDPOINT")); !slices.Contains(s.Expose, p) {
		t.Errorf("metrics port %s not exposed: %v", p, s.Expose)
	}
	ui := service(t, load(t, nil), "temporal-ui")
	if env(ui, "TEMPORAL_ADDRESS") != "temporal:7233" {
		t.Errorf("UI TEMPORAL_ADDRESS=%q", env(ui, "TEMPORAL_ADDRESS"))
	}
}

func TestNamespaceSetup(t *testing.T) {
	p := load(t, nil)
	s := service(t, p, "temporal-create-namespace")
	script(t, s)
	w := service(t, p, "worker")
	for _, k := range []string{"TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE"} {
		if env(s, k) == "" || env(s, k) != env(w, k) {
			t.Errorf("%s: namespace setup %q, worker %q", k, env(s, k), env(w, k))
		}
	}
	if got := strings.Fields(env(s, "SEARCH_ATTRIBUTES")); !slices.Equal(got, []string{"InsightsOperation", "InsightsPhase"}) {
		t.Errorf("SEARCH_ATTRIBUTES %q", got)
	}
	// The namespace follows TEMPORAL_NAMESPACE everywhere.
	o := load(t, map[string]string{"TEMPORAL_NAMESPACE": "prod"}, "*")
	for _, name := range []string{"temporal-create-namespace", "worker", "starter", "temporal-cli"} {
		if got := env(service(t, o, name), "TEMPORAL_NAMESPACE"); got != "prod" {
			t.Errorf("%s TEMPORAL_NAMESPACE=%q, want prod", name, got)
		}
	}
}

func TestEmulator(t *testing.T) {
	s := service(t, load(t, nil), "insights-emulator")
	if s.Build == nil || s.Build.Dockerfile != "Dockerfile" {
		t.Errorf("build %+v, want the repository's Dockerfile", s.Build)
	}
	if !slices.Equal(s.Entrypoint, types.ShellCommand{"insights-emulator"}) {
		t.Errorf("entrypoint %v", s.Entrypoint)
	}
	if got := flagValue(s.Command, "addr"); got != "0.0.0.0:9090" {
		t.Errorf("-addr=%q, want 0.0.0.0:9090", got)
	}
	if got := flagValue(s.Command, "status-addr"); !strings.HasPrefix(got, "0.0.0.0:") {
		t.Errorf("-status-addr=%q, want 0.0.0.0:PORT", got)
	}
	if !slices.Contains(s.Command, "-time-scale=2") {
		t.Errorf("command %v lacks the default -time-scale=2", s.Command)
	}
	p := service(t, load(t, nil, "debug"), "emulator-port")
	if !strings.Contains(strings.Join(p.Command, " "), "TCP:insights-emulator:9090") {
		t.Errorf("debug proxy command %v", p.Command)
	}
}

func TestWorker(t *testing.T) {
	p := load(t, nil)
	s := service(t, p, "worker")
	if !slices.Equal(s.Entrypoint, types.ShellCommand{"worker"}) {
		t.Errorf("entrypoint %v", s.Entrypoint)
	}
	if s.Build == nil || s.Build.Dockerfile != "Dockerfile" {
		t.Errorf("build %+v, want the repository's Dockerfile", s.Build)
	}
	for k, want := range map[string]string{
		"TEMPORAL_ADDRESS":                 "temporal:7233",
		"TEMPORAL_NAMESPACE":               "default",
		"TEMPORAL_TASK_QUEUE":              "issue-models",
		"INSIGHTS_EMULATOR_HOST":           "insights-emulator:9090",
		"LOG_LEVEL":                        "info",
		"LOG_FORMAT":                       "json",
		"METRICS_ADDR":                     "0.0.0.0:9464",
		"TASK_QUEUE_ACTIVITIES_PER_SECOND": "",
		"PROJECT_REQUESTS_PER_SECOND":      "",
		"INSIGHTS_API_TIME_SCALE":          "2",
		"OTEL_EXPORTER_OTLP_ENDPOINT":      "http://otel-collector:4317",
		"OTEL_EXPORTER_OTLP_PROTOCOL":      "grpc",
		"OTEL_SDK_DISABLED":                "false",
	} {
		if _, ok := s.Environment[k]; !ok {
			t.Errorf("%s not set", k)
		}
		if got := env(s, k); got != want {
			t.Errorf("%s=%q, want %q", k, got, want)
		}
	}

	// TEMPORAL_ADDRESS is the temporal service's gRPC port.
	host, tport, _ := net.SplitHostPort(env(s, "TEMPORAL_ADDRESS"))
	if tp := service(t, p, host).Ports; len(tp) == 0 || strconv.FormatUint(uint64(tp[0].Target), 10) != tport {
		t.Errorf("TEMPORAL_ADDRESS %s: service %s listens on %+v", env(s, "TEMPORAL_ADDRESS"), host, tp)
	}
	// INSIGHTS_EMULATOR_HOST is the emulator service and the port of its -addr.
	host, eport, _ := net.SplitHostPort(env(s, "INSIGHTS_EMULATOR_HOST"))
	em := service(t, p, host)
	if !slices.Equal(em.Entrypoint, types.ShellCommand{"insights-emulator"}) || port(t, flagValue(em.Command, "addr")) != eport {
		t.Errorf("INSIGHTS_EMULATOR_HOST %s: service %s runs %v %v", env(s, "INSIGHTS_EMULATOR_HOST"), host, em.Entrypoint, em.Command)
	}
	// METRICS_ADDR listens on every interface (else the published port is dead) on the
	// published port.
	if h, mp, _ := net.SplitHostPort(env(s, "METRICS_ADDR")); h != "0.0.0.0" || len(s.Ports) != 1 || strconv.FormatUint(uint64(s.Ports[0].Target), 10) != mp {
		t.Errorf("METRICS_ADDR=%s, ports %v", env(s, "METRICS_ADDR"), bindings(s))
	}

	// The rate limits and log settings pass through from the caller's environment.
	o := service(t, load(t, map[string]string{"PROJECT_REQUESTS_PER_SECOND": "5", "TASK_QUEUE_ACTIVITIES_PER_SECOND": "2.5", "LOG_FORMAT": "console"}), "worker")
	for k, want := range map[string]string{"PROJECT_REQUESTS_PER_SECOND": "5", "TASK_QUEUE_ACTIVITIES_PER_SECOND": "2.5", "LOG_FORMAT": "console"} {
		if got := env(o, k); got != want {
			t.Errorf("%s=%q, want %q", k, got, want)
		}
	}
	if s.StopGracePeriod == nil {
		t.Errorf("no stop_grace_period: running activities get Docker's default 10 s")
	}
	// The worker's API time scale is the emulator's -time-scale, by default and when
	// EMULATOR_TIME_SCALE changes it.
	for _, scale := range []string{"", "30"} {
		vars := map[string]string{}
		if scale != "" {
			vars["EMULATOR_TIME_SCALE"] = scale
		}
		lp := load(t, vars)
		emu, wk := service(t, lp, "insights-emulator"), service(t, lp, "worker")
		if got, want := env(wk, "INSIGHTS_API_TIME_SCALE"), flagValue(emu.Command, "time-scale"); got != want || got == "" {
			t.Errorf("EMULATOR_TIME_SCALE=%q: worker INSIGHTS_API_TIME_SCALE=%q, emulator -time-scale=%q", scale, got, want)
		}
	}
}

// TestGoogleOverride: with docker-compose.google.yml the worker talks to the real API with ADC
// from a read-only mount, and the emulator is not started.
func TestGoogleOverride(t *testing.T) {
	files := []string{composeFile, googleOverride}
	p := loadFiles(t, files, map[string]string{"GOOGLE_ADC": "/keys/sa.json", "ADC_UID": "1234"})
	w := service(t, p, "worker")
	if v, ok := w.Environment["INSIGHTS_EMULATOR_HOST"]; !ok || v == nil || *v != "" {
		t.Errorf("INSIGHTS_EMULATOR_HOST %v, want set to empty (the real API)", v)
	}
	creds := env(w, "GOOGLE_APPLICATION_CREDENTIALS")
	if creds == "" {
		t.Fatal("GOOGLE_APPLICATION_CREDENTIALS not set")
	}
	i := slices.IndexFunc(w.Volumes, func(v types.ServiceVolumeConfig) bool { return v.Target == creds })
	if i < 0 {
		t.Fatalf("nothing mounted at GOOGLE_APPLICATION_CREDENTIALS=%s: %+v", creds, w.Volumes)
	}
	if v := w.Volumes[i]; v.Type != types.VolumeTypeBind || v.Source != "/keys/sa.json" || !v.ReadOnly {
		t.Errorf("credentials mount %+v, want a read-only bind of $GOOGLE_ADC", v)
	}
	if v := w.Volumes[i]; v.Bind == nil || v.Bind.CreateHostPath {
		t.Errorf("credentials mount %+v would create a directory where the file is missing", v)
	}
	if w.User != "1234:1000" {
		t.Errorf("user %q, want ADC_UID:ADC_GID", w.User)
	}
	if _, ok := w.DependsOn["insights-emulator"]; ok {
		t.Errorf("the worker still waits for the emulator: %v", w.DependsOn)
	}
	for _, dep := range []string{"temporal", "temporal-create-namespace"} {
		if _, ok := w.DependsOn[dep]; !ok {
			t.Errorf("the override dropped depends_on %s: %v", dep, w.DependsOn)
		}
	}
	if got := env(w, "INSIGHTS_API_TIME_SCALE"); got != "1" {
		t.Errorf("INSIGHTS_API_TIME_SCALE=%q, want 1: the real API runs in real time", got)
	}
	if env(w, "TEMPORAL_ADDRESS") != "temporal:7233" || env(w, "METRICS_ADDR") == "" {
		t.Errorf("the override lost the rest of the environment: %v", w.Environment)
	}
	if slices.Contains(p.ServiceNames(), "insights-emulator") {
		t.Errorf("the emulator still starts: %v", p.ServiceNames())
	}

	// Defaults: gcloud's ADC file in the caller's home.
	d := service(t, loadFiles(t, files, nil), "worker")
	home, err := os.UserHomeDir()
	if err != nil {
		t.Skip(err)
	}
	want := filepath.Join(home, ".config/gcloud/application_default_credentials.json")
	if !slices.ContainsFunc(d.Volumes, func(v types.ServiceVolumeConfig) bool { return v.Source == want && v.Target == creds }) {
		t.Errorf("default credentials mount %+v, want %s", d.Volumes, want)
	}
	if d.User != "1000:1000" {
		t.Errorf("default user %q", d.User)
	}
}

func TestStarter(t *testing.T) {
	p := load(t, nil, "tools")
	s := service(t, p, "starter")
	if !slices.Equal(s.Entrypoint, types.ShellCommand{"starter"}) {
		t.Errorf("entrypoint %v", s.Entrypoint)
	}
	if len(s.Command) == 0 || s.Command[0] != "start" || !slices.Contains(s.Command, "-wait") {
		t.Errorf("command %v, want start ... -wait", s.Command)
	}
	if !slices.Contains(s.Command, `-filter=medium="CHAT"`) {
		t.Errorf("command %v lacks the sample filter", s.Command)
	}
	w := service(t, p, "worker")
	for _, k := range []string{"TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "TEMPORAL_TASK_QUEUE"} {
		if env(s, k) == "" || env(s, k) != env(w, k) {
			t.Errorf("%s: starter %q, worker %q", k, env(s, k), env(w, k))
		}
	}
	if s.Restart != "no" {
		t.Errorf("restart %q, want no (one-shot)", s.Restart)
	}

	c := service(t, p, "temporal-cli")
	if !slices.Equal(c.Entrypoint, types.ShellCommand{"temporal"}) || env(c, "TEMPORAL_ADDRESS") != "temporal:7233" {
		t.Errorf("temporal-cli entrypoint %v, TEMPORAL_ADDRESS %q", c.Entrypoint, env(c, "TEMPORAL_ADDRESS"))
	}
	if !slices.ContainsFunc(c.Volumes, func(v types.ServiceVolumeConfig) bool {
		_, err := os.Stat(filepath.Join(v.Source, "create.json"))
		return v.Target == "/examples" && v.ReadOnly && err == nil
	}) {
		t.Errorf("temporal-cli does not mount ./examples read-only at /examples: %+v", c.Volumes)
	}
}

// TestDockerfile: multi-stage, static, stripped, non-root, and it builds every binary the
// compose file runs from it (entrypoints and healthcheck probes).
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var froms []int
	lines := strings.Split(string(b), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "FROM ") {
			froms = append(froms, i)
		}
	}
	if len(froms) < 2 {
		t.Fatalf("%d FROM lines, want a multi-stage build", len(froms))
	}
	text := string(b)
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", `-ldflags="-s -w"`} {
		if !strings.Contains(text, want) {
			t.Errorf("Dockerfile lacks %s", want)
		}
	}
	final := lines[froms[len(froms)-1]:]
	user := ""
	for _, l := range final {
		if u, ok := strings.CutPrefix(l, "USER "); ok {
			user = strings.TrimSpace(u)
		}
	}
	if user == "" || user == "root" || user == "0" || strings.HasPrefix(user, "0:") || strings.HasPrefix(user, "root:") {
		t.Errorf("final stage runs as %q, want a non-root user", user)
	}
	build := ""
	for _, l := range lines {
		if strings.Contains(l, "go build") {
			build = l
		}
	}
	p := load(t, nil, "*")
	for _, s := range p.Services {
		if s.Build == nil {
			continue
		}
		bins := slices.Clone([]string(s.Entrypoint))
		if s.HealthCheck != nil && len(s.HealthCheck.Test) > 1 && s.HealthCheck.Test[0] == "CMD" {
			bins = append(bins, s.HealthCheck.Test[1])
		}
		for _, bin := range bins {
			if !strings.Contains(build, "./"+bin+" ") && !strings.Contains(build, "/"+bin+" ") && !strings.HasSuffix(build, "/"+bin) {
				t.Errorf("%s runs %s, which the Dockerfile does not build: %s", s.Name, bin, build)
			}
		}
	}
}

// TestTracing: the worker and the starter export to the collector's OTLP port for their
// protocol, and the collector receives there and sends to the Jaeger service's OTLP port.
func TestTracing(t *testing.T) {
	p := load(t, nil, "*")
	cfg, err := os.ReadFile(repoRoot + "/deploy/otel-collector/config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	col := service(t, p, "otel-collector")
	if !slices.Contains(col.Command, "--config=/etc/otelcol/config.yaml") || len(col.Volumes) != 1 ||
		col.Volumes[0].Target != "/etc/otelcol/config.yaml" || !strings.HasSuffix(col.Volumes[0].Source, "deploy/otel-collector/config.yaml") {
		t.Errorf("collector command %v, volumes %+v: want deploy/otel-collector/config.yaml mounted as its config", col.Command, col.Volumes)
	}
	for _, name := range []string{"worker", "starter"} {
		s := service(t, p, name)
		ep, proto := env(s, "OTEL_EXPORTER_OTLP_ENDPOINT"), env(s, "OTEL_EXPORTER_OTLP_PROTOCOL")
		wantPort := map[string]string{"grpc": "4317", "http/protobuf": "4318"}[proto]
		if ep != "http://otel-collector:"+wantPort || wantPort == "" {
			t.Errorf("%s: OTEL_EXPORTER_OTLP_ENDPOINT=%q with protocol %q", name, ep, proto)
		}
		if !strings.Contains(string(cfg), "endpoint: 0.0.0.0:"+wantPort) || !slices.Contains(col.Expose, wantPort) {
			t.Errorf("the collector does not receive OTLP on %s", wantPort)
		}
	}
	if !strings.Contains(string(cfg), "endpoint: jaeger:4317") || !slices.Contains(service(t, p, "jaeger").Expose, "4317") {
		t.Errorf("the collector does not export to jaeger:4317")
	}
	// Prometheus loads the alert rules from where prometheus.yml says.
	prom := service(t, p, "prometheus")
	pcfg, err := os.ReadFile(repoRoot + "/deploy/prometheus/prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	mounted := false
	for _, v := range prom.Volumes {
		mounted = mounted || (strings.HasSuffix(v.Source, "deploy/prometheus/alerts.yml") && strings.Contains(string(pcfg), "- "+v.Target))
	}
	if !mounted {
		t.Errorf("prometheus volumes %+v: alerts.yml is not mounted where prometheus.yml's rule_files reads it", prom.Volumes)
	}
}
