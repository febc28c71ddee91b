package explorer

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Finding is a violated invariant, with the schedule that first broke it and its shrunk form.
type Finding struct {
	Invariant string
	Index     int // in the budget
	Schedule  Schedule
	Shrunk    Schedule
	Detail    string
	Trace     []string
}

// Report is the outcome of a budget.
type Report struct {
	Seed      int64
	Schedules int
	Took      time.Duration
	Errors    []string
	Findings  []Finding // the first schedule to break each invariant, shrunk
	Violating int       // schedules with at least one violation (open findings aside)
	// Open counts the schedules that break an invariant only as an open finding, by finding.
	Open map[string]int
	// FirstViolating is 1 + the index of the first violating schedule (0: none).
	FirstViolating int
}

// PerMinute is the exploration rate.
func (r Report) PerMinute() float64 { return float64(r.Schedules) / r.Took.Minutes() }

// Options tune Explore.
type Options struct {
	Workers int
	// StopAtFirst ends the budget at the first violating schedule and does not shrink it (the
	// negative controls only ask whether the budget finds anything).
	StopAtFirst bool
	// Strict counts the open findings (OpenFindings) as violations.
	Strict bool
	// Shrinks is how many violating schedules are shrunk at most (default 8): the first of
	// each invariant, then the first of each new shape (fingerprint) of schedule.
	Shrinks int
}

// Explore runs schedules 0..n-1 of seed, then shrinks the first violation of each invariant
// (and of each new shape of schedule, up to Options.Shrinks).
func Explore(seed int64, n int, o Options) Report {
	if o.Shrinks == 0 {
		o.Shrinks = 8
	}
	start := time.Now()
	results := runBudget(seed, n, o)
	rep := Report{Seed: seed, Schedules: n, Took: time.Since(start)}
	sh := shrinker{seed: seed, o: o, seen: map[string]bool{}, shapes: map[string]bool{}}
	for i, x := range results {
		if x.err != nil {
			rep.Errors = append(rep.Errors, fmt.Sprintf("schedule %d: %v", i, x.err))
		}
		x.v = rep.countViolations(x.v, o.Strict)
		if len(x.v) > 0 {
			rep.Violating++
			if rep.FirstViolating == 0 {
				rep.FirstViolating = i + 1
			}
		}
		if o.StopAtFirst {
			continue
		}
		for _, v := range x.v {
			if f, ok := sh.finding(i, v); ok {
				rep.Findings = append(rep.Findings, f)
			}
		}
	}
	slices.SortFunc(rep.Findings, func(a, b Finding) int { return strings.Compare(a.Invariant, b.Invariant) })
	return rep
}

// scheduleResult is what one schedule of the budget ran into.
type scheduleResult struct {
	v   []Violation
	err error
}

// runBudget runs schedules 0..n-1 of seed on o.Workers goroutines; with o.StopAtFirst the
// schedules not yet started when one violates are left unrun (zero results).
func runBudget(seed int64, n int, o Options) []scheduleResult {
	results := make([]scheduleResult, n)
	var stop bool
	var next int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range max(o.Workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				stopped := stop
				mu.Unlock()
				if i >= n || stopped {
					return
				}
				v, _, err := Run(Generate(seed, i))
				results[i] = scheduleResult{v, err}
				if o.StopAtFirst && slices.ContainsFunc(v, func(x Violation) bool { return x.Open == "" || o.Strict }) {
					mu.Lock()
					stop = true
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return results
}

// countViolations tallies the open findings among vs in rep.Open and returns the violations
// that count: those of no open finding, or all of them when strict.
func (rep *Report) countViolations(vs []Violation, strict bool) []Violation {
	var fresh []Violation
	for _, v := range vs {
		if v.Open != "" {
			if rep.Open == nil {
				rep.Open = map[string]int{}
			}
			rep.Open[v.Open]++
		} else if !strict {
			fresh = append(fresh, v)
		}
		if strict {
			fresh = append(fresh, v)
		}
	}
	return fresh
}

// shrinker decides which violations of a budget are shrunk into findings: the first of each
// invariant, then the first of each new shape of schedule up to Options.Shrinks, skipping those
// that shrink to a finding already reported.
type shrinker struct {
	seed    int64
	o       Options
	seen    map[string]bool // invariants shrunk
	shapes  map[string]bool // invariant + shape of the schedules shrunk, and of their shrunk forms
	shrinks int
}

// finding shrinks violation v of schedule i, if it is worth it, into a finding.
func (sh *shrinker) finding(i int, v Violation) (Finding, bool) {
	s := Generate(sh.seed, i)
	shape := v.Invariant + " " + s.shape()
	if sh.seen[v.Invariant] && (sh.shapes[shape] || sh.shrinks >= sh.o.Shrinks) {
		return Finding{}, false
	}
	sh.seen[v.Invariant], sh.shapes[shape] = true, true
	sh.shrinks++
	shrunk := Shrink(s, v.Invariant, sh.o.Strict)
	if sh.shapes[v.Invariant+" shrunk "+shrunk.shape()] {
		return Finding{}, false // the same finding, reached from another schedule
	}
	sh.shapes[v.Invariant+" shrunk "+shrunk.shape()] = true
	f := Finding{Invariant: v.Invariant, Index: i, Schedule: s, Shrunk: shrunk, Detail: v.Detail}
	if vs, trace, err := Run(shrunk); err == nil {
		f.Trace = trace
		for _, w := range vs {
			if w.Invariant == v.Invariant {
				f.Detail = w.Detail
			}
		}
	}
	return f, true
}

// shape is what kinds of faults and events a schedule has, without counts and times.
func (s Schedule) shape() string {
	var parts []string
	for _, f := range s.Faults {
		parts = append(parts, f.Call+":"+string(f.Kind))
	}
	for _, e := range s.Events {
		parts = append(parts, string(e.Kind))
	}
	slices.Sort(parts)
	parts = slices.Compact(parts)
	return fmt.Sprintf("%s vis=%v %s", s.Workflow, s.VisibilityDelay > 0, strings.Join(parts, ","))
}

// violates reports whether s breaks invariant inv on each of runs runs.
func violates(s Schedule, inv string, runs int, strict bool) bool {
	for range runs {
		v, _, err := Run(s)
		if err != nil || !slices.ContainsFunc(v, func(x Violation) bool { return x.Invariant == inv && (x.Open == "" || strict) }) {
			return false
		}
	}
	return true
}

// Shrink simplifies s while it still breaks inv: drops faults and events, then simplifies the
// API's behaviour and moves events earlier, until no step helps.
func Shrink(s Schedule, inv string, strict bool) Schedule {
	orig := s
	try := func(c Schedule) bool {
		if violates(c, inv, 1, strict) {
			s = c
			return true
		}
		return false
	}
	for changed := true; changed; {
		changed = false
		for i := len(s.Faults) - 1; i >= 0; i-- {
			c := s
			c.Faults = slices.Delete(slices.Clone(s.Faults), i, i+1)
			changed = try(c) || changed
		}
		for i := len(s.Events) - 1; i >= 0; i-- {
			c := s
			c.Events = slices.Delete(slices.Clone(s.Events), i, i+1)
			changed = try(c) || changed
		}
		simpler := []func(*Schedule){
			func(c *Schedule) { c.CancelMode = "honor" },
			func(c *Schedule) { c.VisibilityDelay, c.NotFoundGrace = 0, 0 },
			func(c *Schedule) { c.OperationTTL = 0 },
			func(c *Schedule) { c.TrainingFails = false },
			func(c *Schedule) { c.ContinueAsNewAfterPolls = 0 },
			func(c *Schedule) { c.MaxInterval = 0 },
			func(c *Schedule) { c.DeleteModelIfCancelFails = false },
			func(c *Schedule) { c.Timeout = 2 * time.Hour },
			func(c *Schedule) { c.TrainingTime = 20 * time.Minute },
			func(c *Schedule) { c.OtherDeployed = 0 },
			func(c *Schedule) { c.Replaced = 0 },
		}
		for _, f := range simpler {
			c := s
			c.Faults, c.Events = slices.Clone(s.Faults), slices.Clone(s.Events)
			f(&c)
			if fmt.Sprintf("%#v", c) != fmt.Sprintf("%#v", s) {
				changed = try(c) || changed
			}
		}
		for i := range s.Faults {
			for _, simplify := range []func(*Fault){
				func(f *Fault) { f.N = 1 },
				func(f *Fault) {
					if f.Kind == Refuse || f.Kind == LostReply {
						f.Code = 14 // UNAVAILABLE
					}
				},
			} {
				c := s
				c.Faults = slices.Clone(s.Faults)
				simplify(&c.Faults[i])
				if c.Faults[i] != s.Faults[i] {
					changed = try(c) || changed
				}
			}
		}
		for i := range s.Events {
			for _, at := range []time.Duration{0, s.Events[i].At / 2, s.Events[i].At.Truncate(time.Minute), s.Events[i].At.Truncate(10 * time.Second)} {
				if at >= s.Events[i].At {
					continue
				}
				c := s
				c.Events = slices.Clone(s.Events)
				c.Events[i].At = at
				if try(c) {
					changed = true
					break
				}
			}
		}
	}
	if !violates(s, inv, 2, strict) {
		return orig // flaky once shrunk: keep the schedule as drawn
	}
	return s
}

// GoTest renders a finding as a ready-to-paste test of package explorer_test.
func (f Finding) GoTest(name string) string {
	return fmt.Sprintf(`// %s: %s
func Test%s(t *testing.T) {
	explorer.Check(t, %s)
}
`, f.Invariant, f.Detail, name, f.Shrunk.GoString())
}

// Check runs a schedule and fails t with the trace if it breaks an invariant: the form the
// explorer prints its findings in.
func Check(t testing.TB, s Schedule) {
	t.Helper()
	v, trace, err := Run(s)
	if err != nil {
		t.Fatal(err)
	}
	if len(v) > 0 {
		t.Errorf("schedule %s\nviolates:\n  %s\ntrace:\n  %s", s, joinViolations(v), strings.Join(trace, "\n  "))
	}
}

func joinViolations(v []Violation) string {
	var s []string
	for _, x := range v {
		s = append(s, x.String())
	}
	return strings.Join(s, "\n  ")
}
