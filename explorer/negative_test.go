package explorer

import (
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var (
	exploreNegative = flag.Bool("explore.negative", os.Getenv("EXPLORER_NEGATIVE") == "1",
		"run the negative controls: reintroduce each of issue 25's A, D, E, L (testdata/negative) and require the default budget to find it")
	exploreExpect = flag.Bool("explore.expect-violation", false,
		"TestExplore passes only if the budget finds a violation (used by the negative controls)")
)

// TestNegativeControls reintroduces, one at a time, the bugs A, D, E and L of issue 25 with the
// patches in testdata/negative (made against the fixed code), builds the explorer with the
// patched file through `go test -overlay`, and requires TestExplore's default budget to find a
// violation. Off by default (four builds); ./scripts/negative-controls.sh runs it.
func TestNegativeControls(t *testing.T) {
	if !*exploreNegative {
		t.Skip("negative controls: -explore.negative or EXPLORER_NEGATIVE=1 (./scripts/negative-controls.sh)")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	patches, err := filepath.Glob("testdata/negative/*.patch")
	if err != nil || len(patches) == 0 {
		t.Fatalf("no patches: %v", err)
	}
	target := regexp.MustCompile(`(?m)^\+\+\+ b/(\S+)`)
	for _, patch := range patches {
		name := strings.TrimSuffix(filepath.Base(patch), ".patch")
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(patch)
			if err != nil {
				t.Fatal(err)
			}
			m := target.FindSubmatch(body)
			if m == nil {
				t.Fatalf("%s names no file", patch)
			}
			rel := string(m[1])
			tmp := t.TempDir()
			orig, err := os.ReadFile(filepath.Join(root, rel))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Dir(filepath.Join(tmp, rel)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(tmp, rel), orig, 0o644); err != nil {
				t.Fatal(err)
			}
			abs, _ := filepath.Abs(patch)
			if out, err := exec.Command("patch", "-s", "-p1", "-d", tmp, "-i", abs).CombinedOutput(); err != nil {
				t.Fatalf("%s no longer applies to %s (rewrite it against the current code): %v\n%s", patch, rel, err, out)
			}
			overlay, _ := json.Marshal(map[string]map[string]string{"Replace": {filepath.Join(root, rel): filepath.Join(tmp, rel)}})
			overlayFile := filepath.Join(tmp, "overlay.json")
			if err := os.WriteFile(overlayFile, overlay, 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("go", "test", "-overlay="+overlayFile, "-count=1", "-run=^TestExplore$", "-v", ".",
				"-explore.expect-violation")
			out, err := cmd.CombinedOutput()
			found := regexp.MustCompile(`(?m)^.*found .*$`).Find(out)
			if err != nil {
				t.Fatalf("with %s reintroduced the default budget found nothing: %v\n%s", name, err, tail(out))
			}
			t.Logf("%s reintroduced: %s", name, strings.TrimSpace(string(found)))
		})
	}
}

func tail(b []byte) string {
	s := string(b)
	if len(s) > 4000 {
		s = "..." + s[len(s)-4000:]
	}
	return s
}
