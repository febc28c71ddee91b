// Package readme keeps the documentation honest: every flag and environment variable the
// programs print in their -h output must appear in docs/CONFIGURATION.md's configuration
// reference, README.md stays short enough to read in minutes, and every relative link of
// README.md and docs/ leads somewhere.
package readme

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var (
	flagLine = regexp.MustCompile(`(?m)^\s+-([a-z][a-z0-9-]*)`)
	envWord  = regexp.MustCompile(`\benv ([A-Z][A-Z0-9_]+)`)
	// envFlagLine is a help line of a flag with an environment variable: "  -name default  usage (env NAME)".
	envFlagLine = regexp.MustCompile(`(?m)^\s+-([a-z][a-z0-9-]*)[ =](\S+)\s.*\(env ([A-Z][A-Z0-9_]+)\)`)
)

// configurationPage holds the configuration reference the README links to.
const configurationPage = "../../docs/CONFIGURATION.md"

// placeholders are what the help prints for a flag without a default.
var placeholders = map[string]bool{"string": true, "value": true, "int": true, "float": true, "duration": true}

// checkRows checks that the table row of every flag with an environment variable names both, and
// the flag's default as the help prints it.
func checkRows(t *testing.T, name, help, section string) {
	t.Helper()
	for _, m := range envFlagLine.FindAllStringSubmatch(help, -1) {
		flagName, def, env := m[1], m[2], m[3]
		found := false
		for _, row := range strings.Split(section, "\n") {
			if !strings.HasPrefix(row, "|") || !strings.Contains(row, "`-"+flagName+"`") || !strings.Contains(row, "`"+env+"`") {
				continue
			}
			found = true
			if !placeholders[def] && !strings.Contains(row, "`"+def+"`") {
				t.Errorf("%s: the configuration reference's row of -%s does not give its default `%s`: %s", name, flagName, def, row)
			}
		}
		if !found {
			t.Errorf("%s: no row of the configuration reference names -%s with its environment variable %s", name, flagName, env)
		}
	}
}

func TestConfigurationReferenceListsEverySetting(t *testing.T) {
	b, err := os.ReadFile(configurationPage)
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	start := strings.Index(page, "## Configuration reference")
	if start < 0 {
		t.Fatalf(`%s has no "## Configuration reference" section`, configurationPage)
	}
	section := page[start:]
	if end := strings.Index(section[3:], "\n## "); end >= 0 {
		section = section[:end+3]
	}

	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin+string(filepath.Separator), "./worker", "./starter", "./cmd/insights-emulator")
	build.Dir = "../.."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	helps := map[string][]string{
		"worker":            {"-h"},
		"insights-emulator": {"-h"},
	}
	for _, cmd := range []string{"start", "status", "cancel", "poll-now", "wait", "attach", "lifecycle"} {
		helps["starter "+cmd] = []string{cmd, "-h"}
	}
	helps["starter schedule create"] = []string{"schedule", "create", "-h"}
	helps["starter operations list"] = []string{"operations", "list", "-h"}
	helps["starter doctor"] = []string{"doctor", "-h"}

	for name, args := range helps {
		exe := filepath.Join(bin, strings.Fields(name)[0])
		out, _ := exec.Command(exe, args...).CombinedOutput() // -h exits 0 or 2 depending on the program
		flags := flagLine.FindAllStringSubmatch(string(out), -1)
		if len(flags) == 0 {
			t.Errorf("%s %v printed no flags:\n%s", name, args, out)
		}
		for _, f := range flags {
			if f[1] == "h" || f[1] == "help" {
				continue
			}
			if !strings.Contains(section, "`-"+f[1]+"`") {
				t.Errorf("%s: flag -%s is missing from the configuration reference (docs/CONFIGURATION.md)", name, f[1])
			}
		}
		checkRows(t, name, string(out), section)
		for _, e := range envWord.FindAllStringSubmatch(string(out), -1) {
			if !strings.Contains(section, "`"+e[1]+"`") {
				t.Errorf("%s: environment variable %s is missing from the configuration reference (docs/CONFIGURATION.md)", name, e[1])
			}
		}
	}
}
