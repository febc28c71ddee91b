// Package composecheck validates ../../docker-compose.yml with compose-go (the library behind
// `docker compose`), since no Docker engine runs where the tests do. It is a module of its own
// so that compose-go's dependencies stay out of the main go.mod.
package composecheck

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

const composeFile = "../../docker-compose.yml"

// loadContent loads compose YAML the way load does.
func loadContent(wd string, content []byte, env map[string]string, profiles ...string) (*types.Project, error) {
	if env == nil {
		env = map[string]string{}
	}
	return loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  wd,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(wd, "docker-compose.yml"), Content: content}},
		Environment: env,
	}, func(o *loader.Options) {
		o.SetProjectName("durable-lro", true)
		o.Profiles = profiles
	})
}

// load loads and schema-validates the file with the given profiles enabled ("*": all).
func load(t *testing.T, env map[string]string, profiles ...string) *types.Project {
	t.Helper()
	b, err := os.ReadFile(composeFile)
	if err != nil {
		t.Fatal(err)
	}
	wd, err := filepath.Abs(filepath.Dir(composeFile))
	if err != nil {
		t.Fatal(err)
	}
	p, err := loadContent(wd, b, env, profiles...)
	if err != nil {
		t.Fatalf("loading %s: %v", composeFile, err)
	}
	return p
}

// TestLoaderValidates makes sure the checks above run with schema and consistency validation:
// the same loader refuses a misspelt key and a dependency on a missing service.
func TestLoaderValidates(t *testing.T) {
	for name, content := range map[string]string{
		"unknown key":     "services:\n  a:\n    image: x\n    portz: [\"1:1\"]\n",
		"missing service": "services:\n  a:\n    image: x\n    depends_on: [b]\n",
	} {
		if _, err := loadContent(t.TempDir(), []byte(content), nil); err == nil {
			t.Errorf("%s: loaded without error", name)
		}
	}
}

func TestNoVersionKey(t *testing.T) {
	b, err := os.ReadFile(composeFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "version:") {
			t.Fatalf("obsolete top-level version key: %q", line)
		}
	}
}

func TestDefaultServices(t *testing.T) {
	p := load(t, nil)
	if p.Name != "durable-lro" {
		t.Errorf("project name %q", p.Name)
	}
	got := p.ServiceNames()
	slices.Sort(got)
	want := []string{"insights-emulator", "temporal", "worker"}
	if !slices.Equal(got, want) {
		t.Fatalf("services without profiles = %v, want %v", got, want)
	}
}

func TestAllProfiles(t *testing.T) {
	p := load(t, nil, "*")
	got := p.ServiceNames()
	slices.Sort(got)
	want := []string{"emulator-port", "insights-emulator", "starter", "temporal", "worker"}
	if !slices.Equal(got, want) {
		t.Fatalf("services with every profile = %v, want %v", got, want)
	}
	if s := service(t, p, "starter"); !slices.Contains(s.Profiles, "tools") {
		t.Errorf("starter profiles %v, want tools", s.Profiles)
	}
	if s := service(t, p, "emulator-port"); !slices.Contains(s.Profiles, "debug") {
		t.Errorf("emulator-port profiles %v, want debug", s.Profiles)
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

func TestTemporal(t *testing.T) {
	s := service(t, load(t, nil), "temporal")
	if !strings.HasPrefix(s.Image, "temporalio/temporal:") {
		t.Errorf("image %q, want temporalio/temporal:<version>", s.Image)
	}
	cmd := strings.Join(s.Command, " ")
	for _, want := range []string{"server start-dev", "--ip 0.0.0.0", "--db-filename /data/temporal.db"} {
		if !strings.Contains(cmd, want) {
			t.Errorf("command %q lacks %q", cmd, want)
		}
	}
	want := []binding{{"127.0.0.1", "7233", "7233"}, {"127.0.0.1", "8233", "8233"}}
	if got := bindings(s); !slices.Equal(got, want) {
		t.Errorf("ports %v, want %v (host loopback only)", got, want)
	}
	if !slices.ContainsFunc(s.Volumes, func(v types.ServiceVolumeConfig) bool {
		return v.Type == types.VolumeTypeVolume && v.Target == "/data" && v.Source == "temporal-data"
	}) {
		t.Errorf("no named volume at /data: %+v", s.Volumes)
	}
	if s.HealthCheck == nil || len(s.HealthCheck.Test) < 2 || s.HealthCheck.Test[0] != "CMD" {
		t.Fatalf("healthcheck %+v", s.HealthCheck)
	}
	if !strings.Contains(strings.Join(s.HealthCheck.Test, " "), "operator cluster health") {
		t.Errorf("healthcheck %v", s.HealthCheck.Test)
	}
	if s.Image != "temporalio/temporal:1.5.1" {
		t.Errorf("default image %q", s.Image)
	}
	// The image can be overridden.
	o := service(t, load(t, map[string]string{"TEMPORAL_IMAGE": "temporalio/temporal:9.9.9"}), "temporal")
	if o.Image != "temporalio/temporal:9.9.9" {
		t.Errorf("TEMPORAL_IMAGE not honoured: %q", o.Image)
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
	if !slices.Contains(s.Command, "-addr=0.0.0.0:9090") {
		t.Errorf("command %v lacks -addr=0.0.0.0:9090", s.Command)
	}
	if !slices.Contains(s.Command, "-time-scale=2") {
		t.Errorf("command %v lacks the default -time-scale=2", s.Command)
	}
	if len(s.Ports) != 0 {
		t.Errorf("the emulator must not be published by default: %v", bindings(s))
	}
	if s.HealthCheck == nil || !strings.Contains(strings.Join(s.HealthCheck.Test, " "), "/healthz") {
		t.Errorf("healthcheck %+v", s.HealthCheck)
	}
	p := service(t, load(t, nil, "debug"), "emulator-port")
	if got, want := bindings(p), []binding{{"127.0.0.1", "9090", "9090"}}; !slices.Equal(got, want) {
		t.Errorf("debug profile ports %v, want %v", got, want)
	}
	if !strings.Contains(strings.Join(p.Command, " "), "insights-emulator:9090") {
		t.Errorf("debug proxy command %v", p.Command)
	}
}

func env(s types.ServiceConfig, key string) string {
	if v, ok := s.Environment[key]; ok && v != nil {
		return *v
	}
	return ""
}

func TestWorker(t *testing.T) {
	s := service(t, load(t, nil), "worker")
	if !slices.Equal(s.Entrypoint, types.ShellCommand{"worker"}) {
		t.Errorf("entrypoint %v", s.Entrypoint)
	}
	for k, want := range map[string]string{
		"TEMPORAL_ADDRESS":       "temporal:7233",
		"TEMPORAL_NAMESPACE":     "default",
		"TEMPORAL_TASK_QUEUE":    "issue-models",
		"INSIGHTS_EMULATOR_HOST": "insights-emulator:9090",
		"LOG_LEVEL":              "info",
	} {
		if got := env(s, k); got != want {
			t.Errorf("%s=%q, want %q", k, got, want)
		}
	}
	for _, dep := range []string{"temporal", "insights-emulator"} {
		d, ok := s.DependsOn[dep]
		if !ok || d.Condition != types.ServiceConditionHealthy {
			t.Errorf("depends_on %s = %+v, want condition service_healthy", dep, d)
		}
	}
	if len(s.Ports) != 0 {
		t.Errorf("the worker publishes ports: %v", bindings(s))
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
	if got := env(s, "TEMPORAL_ADDRESS"); got != "temporal:7233" {
		t.Errorf("TEMPORAL_ADDRESS=%q", got)
	}
	if s.Restart != "no" {
		t.Errorf("restart %q, want no (one-shot)", s.Restart)
	}
	if d := s.DependsOn["temporal"]; d.Condition != types.ServiceConditionHealthy {
		t.Errorf("depends_on temporal %+v", d)
	}
}
