// Command bench measures the polling engine side by side with what users would otherwise use:
// one seeded set of emulated issue-model trainings is awaited by
//
//   - opwait:   Google's own op.Wait (the library's default backoff), all in one process;
//   - workflow: CreateIssueModelWorkflow with its default polling policy, on the real worker
//     binary (./worker);
//   - retry:    the retry-policy polling pattern of Temporal's samples (samples-go
//     polling/infrequent): an activity that fails until the operation is done, retried at a
//     fixed interval;
//
// against a real Temporal dev server (./bin/temporal, built by internal/devserver), or with
// -temporal cluster a real Temporal server on PostgreSQL (internal/cluster), and the
// in-process Contact Center Insights emulator, whose own records give the truth per operation:
// when it ended, when a caller was first told it was done, and how many GetOperation calls it
// took. It prints one table (see docs/PERFORMANCE.md).
//
// The processes being measured are subprocesses, so that their CPU time and peak RSS come from
// the kernel (os.ProcessState): the worker binary, and this binary again in a hidden role
// (-role opwait, -role retryworker).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/issuemodels/durable-lro/workflows"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

// config is what the flags select.
type config struct {
	role string

	ops          int
	workload     string
	history      int
	historyShift float64
	scale        float64
	seed         int64
	median       time.Duration
	sigma        float64
	minDur       time.Duration
	maxDur       time.Duration
	quota        int
	apiRPM       int
	strategies   []string
	variants     []variant
	concurrency  int
	sequential   bool
	retryEvery   time.Duration
	phaseTimeout time.Duration
	smoke        bool
	jsonFile     string
	plotFile     string
	keepLogs     bool
	verbose      bool
	fromJSON     string
	// server is -temporal: the dev server (serverDev) or the Temporal server on PostgreSQL
	// (serverCluster); workers is -workers, the worker processes of each workflow strategy.
	server  string
	workers int

	// Hidden roles.
	parent       string
	taskQueue    string
	temporalAddr string
}

// Temporal servers (-temporal).
const (
	serverDev     = "dev"
	serverCluster = "cluster"
)

// Strategy names, in table order.
const (
	stratOpWait   = "opwait"
	stratWorkflow = "workflow"
	stratRetry    = "retry"
)

var allStrategies = []string{stratOpWait, stratWorkflow, stratRetry}

var strategyLabels = map[string]string{
	stratOpWait:   "op.Wait (Google library)",
	stratWorkflow: "workflow (default policy)",
	stratRetry:    "retry-policy sample",
}

// variant is CreateIssueModelWorkflow with another polling policy (-variant), run as one more
// strategy, "workflow-NAME", with its own worker, task queue and project. Policy is in emulated
// time: the default policy with the variant's fields laid over it.
type variant struct {
	Name   string                  `json:"name"`
	Policy workflows.PollingPolicy `json:"policy"`
}

const variantPrefix = stratWorkflow + "-"

var variantName = regexp.MustCompile(`^[a-z0-9]{1,12}$`)

// parseVariant reads NAME=JSON: a "polling" object laid over the default policy.
func parseVariant(v string) (variant, error) {
	name, js, ok := strings.Cut(v, "=")
	if !ok || !variantName.MatchString(name) {
		return variant{}, fmt.Errorf("%q: want NAME=JSON with NAME of 1-12 lowercase letters and digits", v)
	}
	pol := workflows.DefaultPollingPolicy()
	dec := json.NewDecoder(strings.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&pol); err != nil {
		return variant{}, fmt.Errorf("%s: %v", name, err)
	}
	in := workflows.CreateIssueModelInput{Parent: parentFor(stratWorkflow), Polling: &pol}
	in.IssueModel.DisplayName = displayName(0)
	if _, err := in.Validate(); err != nil {
		return variant{}, fmt.Errorf("%s: %v", name, err)
	}
	return variant{Name: name, Policy: pol}, nil
}

// isWorkflow tells the strategies that run CreateIssueModelWorkflow: the default and variants.
func isWorkflow(s string) bool { return s == stratWorkflow || strings.HasPrefix(s, variantPrefix) }

// policyDiff lists the fields of p that differ from the default policy, e.g. "maxInterval 1m".
func policyDiff(p workflows.PollingPolicy) string {
	asMap := func(p workflows.PollingPolicy) map[string]any {
		b, _ := json.Marshal(p)
		m := map[string]any{}
		_ = json.Unmarshal(b, &m)
		return m
	}
	def, got := asMap(workflows.DefaultPollingPolicy()), asMap(p)
	var diffs []string
	for _, k := range []string{"initialInterval", "multiplier", "maxInterval", "ageFraction", "jitter", "timeout", "notFoundGrace", "continueAsNewAfterPolls", "learn"} {
		if fmt.Sprint(def[k]) != fmt.Sprint(got[k]) {
			diffs = append(diffs, fmt.Sprintf("%s %v", k, got[k]))
		}
	}
	if len(diffs) == 0 {
		return "default"
	}
	return strings.Join(diffs, ", ")
}

// labelFor names a strategy in the table and the plot.
func labelFor(s string, variants []variant) string {
	if l, ok := strategyLabels[s]; ok {
		return l
	}
	if v, ok := variantFor(s, variants); ok {
		return "workflow " + v.Name + " (" + policyDiff(v.Policy) + ")"
	}
	return s
}

// variantFor is the variant that strategy s runs, if any.
func variantFor(s string, variants []variant) (variant, bool) {
	for _, v := range variants {
		if variantPrefix+v.Name == s {
			return v, true
		}
	}
	return variant{}, false
}

func parseFlags(args []string) (config, error) {
	var cfg config
	fs, strategies := newFlagSet(&cfg)
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if cfg.smoke {
		smokeSize(&cfg, set)
	}
	if err := cfg.selectStrategies(*strategies); err != nil {
		return cfg, err
	}
	return cfg, cfg.validate()
}

// newFlagSet defines the flags into cfg; the -strategies list is returned to be parsed after.
func newFlagSet(cfg *config) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.StringVar(&cfg.role, "role", "", "internal: run as a measured subprocess (opwait, retryworker)")
	fs.IntVar(&cfg.ops, "ops", 300, "number of operations (each strategy awaits all of them)")
	fs.StringVar(&cfg.workload, "workload", workloadIndependent, `the operations: "independent" (one filter, lengths lognormal around -median, independent of anything) or "datasize" (each operation its own batch filter, labels.batch, whose conversation count the emulator spreads log-uniformly over 500..50,000; its length -median per 5,000 conversations times lognormal noise -sigma, clipped to -min..-max)`)
	fs.IntVar(&cfg.history, "history", 0, "seed each strategy's location with this many finished trainings of the same workload (another seed), ended over the last 3 days (emulated), which ListOperations returns: the history a learned polling policy reads")
	fs.Float64Var(&cfg.historyShift, "history-shift", 1, "multiply the -history trainings' durations by this: 1, the history tells the truth about the new operations; else it misleads (the workload has shifted since)")
	fs.Float64Var(&cfg.scale, "scale", 10, "time scale: the emulator's clock runs this many times faster than wall time and every strategy's intervals are divided by it; the workflow refuses intervals under 1s, so the scaled default initial interval must stay >= 1s")
	fs.Int64Var(&cfg.seed, "seed", 1, "seed of the training-time distribution")
	fs.DurationVar(&cfg.median, "median", 20*time.Minute, "median training time (emulated): lognormal distribution")
	fs.Float64Var(&cfg.sigma, "sigma", 0.6, "sigma of the lognormal training-time distribution")
	fs.DurationVar(&cfg.minDur, "min", 2*time.Minute, "shortest training time (emulated; shorter draws are clipped)")
	fs.DurationVar(&cfg.maxDur, "max", 3*time.Hour, "longest training time (emulated; longer draws are clipped)")
	fs.IntVar(&cfg.quota, "quota", 2400, "API budget per minute (of emulated time) of the workflow strategy's project, every call counted (polls, creations, lists), held by the Temporal server: the workers' PROJECT_REQUESTS_PER_SECOND and TASK_QUEUE_ACTIVITIES_PER_SECOND (x scale / 60); the default is the worker's default, 40/s")
	fs.IntVar(&cfg.apiRPM, "api-rpm", 3000, "the emulated API's limit of requests per minute per project (emulated time), as Google's; every strategy has its own project")
	fs.DurationVar(&cfg.phaseTimeout, "phase-timeout", 0, "give up on a strategy's operations after this long (real time; 0: computed from the sizes and rates)")
	strategies := fs.String("strategies", strings.Join(allStrategies, ","), "comma-separated strategies to run: opwait, workflow, retry")
	fs.Func("variant", `also run the workflow with another polling policy, as strategy "workflow-NAME": NAME=JSON, a "polling" object laid over the default policy, durations in emulated time, e.g. max60s='{"maxInterval":"1m"}' (repeatable)`,
		func(v string) error {
			vr, err := parseVariant(v)
			if err != nil {
				return err
			}
			for _, o := range cfg.variants {
				if o.Name == vr.Name {
					return fmt.Errorf("%s: named twice", vr.Name)
				}
			}
			cfg.variants = append(cfg.variants, vr)
			return nil
		})
	fs.StringVar(&cfg.server, "temporal", serverDev, "the Temporal server to run against: dev (the CLI's dev server, SQLite in memory, one history shard) or cluster (the production shape: a real Temporal server on PostgreSQL, internal/cluster, several history shards)")
	fs.IntVar(&cfg.workers, "workers", 1, "worker processes per workflow strategy; the server holds their budget, whatever their number")
	fs.IntVar(&cfg.concurrency, "concurrency", 64, "creations / workflow starts in flight at once")
	fs.BoolVar(&cfg.sequential, "sequential", false, "run the strategies one after another (the server's CPU is then attributed per strategy) instead of side by side")
	fs.DurationVar(&cfg.retryEvery, "retry-interval", time.Minute, "retry-policy sample: the fixed retry interval (emulated; the sample uses 60s)")
	fs.BoolVar(&cfg.smoke, "smoke", false, "tiny size for CI: 20 operations of 1-4 minutes (emulated)")
	fs.StringVar(&cfg.jsonFile, "json", "", "also write the results, per operation included, as JSON to this file")
	fs.StringVar(&cfg.plotFile, "plot", "", "write a PNG plot (detection lag versus GetOperation calls) to this file")
	fs.BoolVar(&cfg.keepLogs, "keep-logs", false, "keep the subprocesses' logs (their directory is printed)")
	fs.BoolVar(&cfg.verbose, "v", false, "progress on stderr")
	fs.StringVar(&cfg.fromJSON, "from-json", "", "run nothing: print the table of a -json file again (and write -plot from it)")
	fs.StringVar(&cfg.parent, "parent", "", "internal (-role opwait): the parent to create operations in")
	fs.StringVar(&cfg.taskQueue, "task-queue", "", "internal (-role retryworker): task queue")
	fs.StringVar(&cfg.temporalAddr, "temporal-address", "", "internal (-role retryworker): Temporal frontend host:port")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: go run ./bench [flags]

Awaits one seeded set of emulated trainings with op.Wait, with CreateIssueModelWorkflow (default
policy) and with the retry-policy pattern of Temporal's samples, against a local dev server (or,
with -temporal cluster, a Temporal server on PostgreSQL) and the emulator, and prints one table: ops, completed, lost, GetOperation calls per op, detection
lag p50/p99 (absolute, and relative to the operation's length), history events per op and per
poll, the largest run, worker CPU-seconds and RSS per 1,000 ops, throughput, peak GetOperation
rate. See docs/PERFORMANCE.md.

Flags:
`)
		fs.PrintDefaults()
	}
	return fs, strategies
}

// smokeSize is -smoke: the tiny size, for the flags not given.
func smokeSize(cfg *config, set map[string]bool) {
	if !set["ops"] {
		cfg.ops = 20
	}
	if !set["median"] {
		cfg.median = 2 * time.Minute
	}
	if !set["min"] {
		cfg.minDur = time.Minute
	}
	if !set["max"] {
		cfg.maxDur = 4 * time.Minute
	}
	if !set["concurrency"] {
		cfg.concurrency = 8
	}
}

// selectStrategies reads -strategies into cfg.strategies, in table order, each variant after
// the default workflow.
func (cfg *config) selectStrategies(list string) error {
	cfg.strategies = nil
	seen := map[string]bool{}
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		if s == "" || seen[s] {
			continue
		}
		if _, ok := strategyLabels[s]; !ok {
			return fmt.Errorf("-strategies: unknown strategy %q (want opwait, workflow, retry)", s)
		}
		seen[s] = true
	}
	for _, s := range allStrategies { // table order
		if seen[s] {
			cfg.strategies = append(cfg.strategies, s)
		}
		if s == stratWorkflow {
			for _, v := range cfg.variants {
				cfg.strategies = append(cfg.strategies, variantPrefix+v.Name)
			}
		}
	}
	return nil
}

// validate checks the flags' values against each other.
func (cfg *config) validate() error {
	switch {
	case cfg.role != "" && cfg.role != "opwait" && cfg.role != "retryworker":
		return fmt.Errorf("-role: unknown role %q", cfg.role)
	case len(cfg.strategies) == 0:
		return errors.New("-strategies: none selected")
	case cfg.ops < 1:
		return errors.New("-ops must be at least 1")
	case cfg.workload != workloadIndependent && cfg.workload != workloadDataSize:
		return fmt.Errorf("-workload: unknown workload %q (want independent or datasize)", cfg.workload)
	case cfg.history < 0:
		return errors.New("-history must not be negative")
	case !(cfg.historyShift > 0) || math.IsInf(cfg.historyShift, 0):
		return errors.New("-history-shift must be a positive number")
	case cfg.scale < 1:
		return errors.New("-scale must be at least 1")
	case cfg.minDur <= 0 || cfg.maxDur < cfg.minDur || cfg.median <= 0:
		return errors.New("want 0 < -min <= -max and -median > 0")
	case cfg.sigma < 0:
		return errors.New("-sigma must not be negative")
	case cfg.quota < 1 || cfg.quota > cfg.apiRPM:
		return errors.New("want 1 <= -quota <= -api-rpm")
	case cfg.concurrency < 1:
		return errors.New("-concurrency must be at least 1")
	case cfg.retryEvery <= 0:
		return errors.New("-retry-interval must be positive")
	case cfg.server != serverDev && cfg.server != serverCluster:
		return fmt.Errorf("-temporal: unknown server %q (want dev or cluster)", cfg.server)
	case cfg.workers < 1:
		return errors.New("-workers must be at least 1")
	}
	return nil
}

func run(args []string) int {
	cfg, err := parseFlags(args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch cfg.role {
	case "opwait":
		err = runOpWaitRole(ctx, cfg)
	case "retryworker":
		err = runRetryWorkerRole(ctx, cfg)
	default:
		if cfg.fromJSON != "" {
			err = replay(cfg, os.Stdout)
			break
		}
		err = runBench(ctx, cfg, os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	return 0
}

// scaled divides an emulated duration by the time scale.
func scaled(d time.Duration, scale float64) time.Duration {
	return time.Duration(float64(d) / scale)
}
