package composecheck

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
)

// scriptEnv is the service's compose environment with overrides, plus PATH (dirs first) and HOME.
func scriptEnv(s types.ServiceConfig, override map[string]string, dirs ...string) []string {
	vars := map[string]string{}
	for k, v := range s.Environment {
		if v != nil {
			vars[k] = *v
		}
	}
	for k, v := range override {
		vars[k] = v
	}
	vars["PATH"] = strings.Join(append(dirs, os.Getenv("PATH")), string(os.PathListSeparator))
	// The containers have a HOME; the temporal CLI fails without one (it looks for its config).
	vars["HOME"] = os.Getenv("HOME")
	var out []string
	for k, v := range vars {
		out = append(out, k+"="+v)
	}
	return out
}

func TestScriptsParse(t *testing.T) {
	p := load(t, nil)
	for _, name := range []string{"temporal-admin-tools", "temporal-create-namespace"} {
		src := script(t, service(t, p, name))
		if out, err := exec.Command("sh", "-n", src).CombinedOutput(); err != nil {
			t.Errorf("%s: sh -n %s: %v\n%s", name, src, err, out)
		}
	}
}

// TestSchemaSetupScript runs the schema setup with the compose environment of
// temporal-admin-tools and stub temporal-sql-tool and nc, and checks what it asks of them.
func TestSchemaSetupScript(t *testing.T) {
	p := load(t, map[string]string{"POSTGRES_PASSWORD": "s3cret"})
	s := service(t, p, "temporal-admin-tools")
	src := script(t, s)

	stubs := t.TempDir()
	log := filepath.Join(stubs, "calls")
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(stubs, name), []byte("#!/bin/sh\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write("nc", `echo "nc $*" >> "$CALLS"`+"\n")
	// The stub fails the call named by FAIL_ON, to check that a failure fails the service.
	write("temporal-sql-tool", `echo "sql $* pw=$SQL_PASSWORD" >> "$CALLS"
case " $* " in *" $FAIL_ON "*) exit 3;; esac
`)
	run := func(failOn string) (string, error) {
		_ = os.Remove(log)
		cmd := exec.Command("sh", src)
		cmd.Env = scriptEnv(s, map[string]string{"CALLS": log, "FAIL_ON": failOn}, stubs)
		out, err := cmd.CombinedOutput()
		calls, _ := os.ReadFile(log)
		if err != nil {
			t.Logf("%s", out)
		}
		return string(calls), err
	}

	calls, err := run("none")
	if err != nil {
		t.Fatalf("schema setup failed: %v", err)
	}
	conn := "--plugin postgres12 --ep postgresql -p 5432 -u temporal"
	want := []string{"nc -z -w 5 postgresql 5432"}
	for _, db := range []struct{ name, schema string }{{"temporal", "temporal"}, {"temporal_visibility", "visibility"}} {
		for _, step := range []string{"create", "setup-schema -v 0.0", "update-schema -d /etc/temporal/schema/postgresql/v12/" + db.schema + "/versioned"} {
			want = append(want, fmt.Sprintf("sql %s --db %s %s pw=s3cret", conn, db.name, step))
		}
	}
	if got := strings.Split(strings.TrimSpace(calls), "\n"); !slices.Equal(got, want) {
		t.Errorf("calls:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if strings.Contains(strings.ReplaceAll(calls, "pw=s3cret", ""), "s3cret") {
		t.Errorf("the password is on a command line:\n%s", calls)
	}

	if _, err := run("update-schema"); err == nil {
		t.Errorf("the script succeeded although update-schema failed")
	}
}

// TestNamespaceSetupScript runs the namespace setup with the compose environment of
// temporal-create-namespace against a real Temporal dev server and the pinned CLI (built into
// ../../bin by scripts/test.sh), twice: it creates the namespace and the search attributes, then
// finds them.
func TestNamespaceSetupScript(t *testing.T) {
	cli, err := filepath.Abs(filepath.Join(repoRoot, "bin", "temporal"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(cli); err != nil {
		t.Skipf("no Temporal CLI at %s (scripts/test.sh builds it): %v", cli, err)
	}
	s := service(t, load(t, nil), "temporal-create-namespace")
	src := script(t, s)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	_, port, _ := net.SplitHostPort(addr)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv := exec.CommandContext(ctx, cli, "server", "start-dev", "--headless", "--ip", "127.0.0.1", "--port", port,
		"--http-port", "0", "--metrics-port", "0", "--log-level", "error")
	srv.Dir = t.TempDir()
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Process.Kill(); _ = srv.Wait() }()

	binDir := filepath.Dir(cli)
	// The script starts before the server listens: its wait loop is part of the test.
	overrides := map[string]string{"TEMPORAL_ADDRESS": addr, "TEMPORAL_NAMESPACE": "composecheck", "WAIT_TRIES": "20"}
	wants := [][]string{
		{"Creating namespace composecheck", "Creating namespace callers", "Creating Nexus endpoint issue-models -> namespace composecheck, task queue issue-models"},
		{"Namespace composecheck already exists", "Namespace callers already exists", "Nexus endpoint issue-models already exists"},
	}
	for i, want := range wants {
		cmd := exec.CommandContext(ctx, "sh", src)
		cmd.Env = scriptEnv(s, overrides, binDir)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("run %d: %v\n%s", i+1, err, out)
		}
		for _, w := range append(want, "Namespace composecheck is ready.", "Nexus endpoint issue-models is ready.") {
			if !strings.Contains(string(out), w) {
				t.Errorf("run %d output lacks %q:\n%s", i+1, w, out)
			}
		}
		if i == 1 && strings.Contains(string(out), "Creating") {
			t.Errorf("second run created something:\n%s", out)
		}
	}

	out, err := exec.CommandContext(ctx, cli, "operator", "search-attribute", "list", "--address", addr,
		"--namespace", "composecheck", "-o", "json").Output()
	if err != nil {
		t.Fatal(err)
	}
	var attrs struct {
		CustomAttributes map[string]string `json:"customAttributes"`
	}
	if err := json.Unmarshal(out, &attrs); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for _, name := range strings.Fields(env(s, "SEARCH_ATTRIBUTES")) {
		if got := attrs.CustomAttributes[name]; got != "INDEXED_VALUE_TYPE_KEYWORD" {
			t.Errorf("search attribute %s: %q, want INDEXED_VALUE_TYPE_KEYWORD (custom attributes %v)", name, got, attrs.CustomAttributes)
		}
	}
}
