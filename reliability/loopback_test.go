package reliability_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/issuemodels/durable-lro/insightstest"
)

// TestLoopbackDefaults: nothing the project starts listens beyond loopback unless told to.
func TestLoopbackDefaults(t *testing.T) {
	t.Parallel()
	checks := 0
	check := func(what, hostPort string) {
		checks++
		if !isLoopback(hostPort) {
			t.Errorf("%s listens on %q, not loopback", what, hostPort)
		}
	}
	check("insightstest.DefaultAddr", insightstest.DefaultAddr)
	emu := newEmulator(t, 1, insightstest.Options{})
	check("an emulator with default options", emu.Addr())
	check("the dev server (internal/devserver)", devServer.HostPort)

	// cmd/insights-emulator: the defaults its -help prints.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "run", "./cmd/insights-emulator", "-help")
	cmd.Dir = repoRoot
	out, _ := cmd.CombinedOutput()
	for _, flag := range []string{"addr", "status-addr"} {
		m := regexp.MustCompile(`(?m)^\s+-` + flag + ` string\n.*\(default "([^"]+)"\)`).FindSubmatch(out)
		if m == nil {
			t.Errorf("cmd/insights-emulator -help shows no default for -%s:\n%s", flag, out)
			continue
		}
		check("cmd/insights-emulator -"+flag, string(m[1]))
	}

	// cmd/localstack: the dev server is started with devserver.Flags{IP: "127.0.0.1", ...} and
	// every address it builds is on 127.0.0.1.
	src, err := os.ReadFile(filepath.Join(repoRoot, "cmd", "localstack", "stack.go"))
	if err != nil {
		t.Fatalf("cmd/localstack: %v", err)
	}
	checks++
	if !regexp.MustCompile(`devserver\.Flags\{IP: "127\.0\.0\.1"`).Match(src) {
		t.Error(`cmd/localstack does not start the dev server with devserver.Flags{IP: "127.0.0.1"}`)
	}
	for _, m := range regexp.MustCompile(`fmt\.Sprintf\("[^"]*?([0-9A-Za-z.]+):%d"`).FindAllSubmatch(src, -1) {
		checks++
		if ip := net.ParseIP(string(m[1])); ip == nil || !ip.IsLoopback() {
			t.Errorf("cmd/localstack builds an address on %q", m[1])
		}
	}
	t.Logf("FIGURE loopback checks=%d", checks)
}

// isLoopback: hostPort's host is a loopback IP address.
func isLoopback(hostPort string) bool {
	host, _, err := net.SplitHostPort(hostPort)
	ip := net.ParseIP(host)
	return err == nil && ip != nil && ip.IsLoopback()
}
