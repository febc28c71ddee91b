package explorer

import (
	"flag"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
)

var (
	exploreN       = flag.Int("explore.n", 2000, "how many schedules TestExplore runs")
	exploreSeed    = flag.Int64("explore.seed", 1, "the seed of TestExplore's schedules")
	exploreWorkers = flag.Int("explore.workers", 1, "how many schedules run at once")
	exploreStrict  = flag.Bool("explore.strict", false, "fail on the open findings (explorer.OpenFindings) too")
	exploreShrinks = flag.Int("explore.shrinks", 8, "how many violating schedules TestExplore shrinks at most")
)

// TestExplore runs the seeded budget of schedules and fails with a ready-to-paste test for the
// first schedule (shrunk) that breaks each invariant.
func TestExplore(t *testing.T) {
	n := *exploreN
	if raceEnabled && !flagSet("explore.n") {
		// The race detector makes every run ~10x slower; ./scripts/test.sh runs the full budget
		// without it.
		n = 200
	}
	if *exploreExpect {
		rep := Explore(*exploreSeed, n, Options{Workers: *exploreWorkers, StopAtFirst: true, Strict: *exploreStrict})
		if rep.FirstViolating == 0 {
			t.Fatalf("no violation in %d schedules (seed %d)", n, *exploreSeed)
		}
		i := rep.FirstViolating - 1
		v, _, _ := Run(Generate(*exploreSeed, i))
		t.Logf("found a violation at schedule %d of seed %d (after %s): %s\n%s", i, *exploreSeed, rep.Took.Round(100_000_000), joinViolations(v), Generate(*exploreSeed, i).GoString())
		return
	}
	rep := Explore(*exploreSeed, n, Options{Workers: *exploreWorkers, Shrinks: *exploreShrinks, Strict: *exploreStrict})
	t.Logf("explored %d schedules (seed %d) in %s: %.0f schedules per minute; %d violating",
		rep.Schedules, rep.Seed, rep.Took.Round(100_000_000), rep.PerMinute(), rep.Violating)
	for _, f := range slices.Sorted(maps.Keys(rep.Open)) {
		t.Logf("open finding %s in %d schedules: %s", f, rep.Open[f], OpenFindings[f])
	}
	for _, e := range rep.Errors {
		t.Error(e)
	}
	for _, f := range rep.Findings {
		name := "Explorer" + strings.ReplaceAll(title(strings.ReplaceAll(f.Invariant, "-", " ")), " ", "")
		t.Errorf("invariant %s broken by schedule %d of seed %d (shrunk):\n%s\ntrace:\n  %s",
			f.Invariant, f.Index, rep.Seed, f.GoTest(fmt.Sprintf("%s%d", name, f.Index)), strings.Join(f.Trace, "\n  "))
	}
}

func flagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// title capitalises each word.
func title(s string) string {
	words := strings.Fields(s)
	for i, w := range words {
		words[i] = strings.ToUpper(w[:1]) + w[1:]
	}
	return strings.Join(words, " ")
}
