package main

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/contactcenterinsights/apiv1/contactcenterinsightspb"

	"github.com/issuemodels/durable-lro/insights"
	"github.com/issuemodels/durable-lro/insightstest"
)

// The emulator's flags and the options they make.

// flags is the command line.
type flags struct {
	addr, statusAddr, trainingTime, cancelMode, logLevel  string
	deployTime, undeployTime, deleteTime, visibility, ttl time.Duration
	timeScale, failRate, lostRate                         float64
	rpm, maxCreates, maxModels, maxDeployed               int
	seed                                                  int64
	faults, latencies                                     multiFlag
	transcripts, buckets, finished                        multiFlag
	ingestTime, analyzeTime, exportTime, importTime       time.Duration
	minTraining                                           int
}

type multiFlag []string

func (m *multiFlag) String() string { return fmt.Sprint([]string(*m)) }

func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// parseFlags parses args; it returns flag.ErrHelp after printing -help.
func parseFlags(args []string) (*flags, error) {
	var f flags
	fs := flag.NewFlagSet("insights-emulator", flag.ContinueOnError)
	fs.StringVar(&f.addr, "addr", "127.0.0.1:9090", "gRPC listen address")
	fs.StringVar(&f.statusAddr, "status-addr", "127.0.0.1:9091", "HTTP address serving GET /status (Stats JSON) and /healthz; empty disables")
	fs.StringVar(&f.trainingTime, "training-time", "2m", "training time per CreateIssueModel, in emulated time: DURATION (fixed), uniform:MIN-MAX, exp:MEAN or exp:MEAN-MAX (capped)")
	fs.DurationVar(&f.deployTime, "deploy-time", insightstest.DefaultDeployTime, "DeployIssueModel duration (emulated time)")
	fs.DurationVar(&f.undeployTime, "undeploy-time", insightstest.DefaultUndeployTime, "UndeployIssueModel duration (emulated time)")
	fs.DurationVar(&f.deleteTime, "delete-time", insightstest.DefaultDeleteTime, "DeleteIssueModel duration (emulated time)")
	fs.Float64Var(&f.timeScale, "time-scale", 1, "emulated seconds per real second (60: a 2m training takes 2s)")
	fs.StringVar(&f.cancelMode, "cancel-mode", "honor", "CancelOperation behaviour: honor | unimplemented | ignore")
	fs.Float64Var(&f.failRate, "fail-training-rate", 0, "probability [0,1] that a training ends with FAILED_PRECONDITION \"too few conversations match the filter\"")
	fs.Float64Var(&f.lostRate, "lost-reply-rate", 0, "probability [0,1] that a mutating call (Create/Deploy/Undeploy/DeleteIssueModel, CancelOperation) is committed but answered UNAVAILABLE")
	fs.IntVar(&f.rpm, "rpm", insightstest.DefaultRequestsPerMinute, "requests per minute per project (real time); <0 disables, 0 = default")
	fs.IntVar(&f.maxCreates, "max-concurrent-creates", insightstest.DefaultMaxConcurrentCreates, "in-flight creations per project+location; <0 unlimited, 0 = default")
	fs.IntVar(&f.maxModels, "max-models", insightstest.DefaultMaxModels, "issue models per project+location; <0 unlimited, 0 = default")
	fs.IntVar(&f.maxDeployed, "max-deployed", insightstest.DefaultMaxDeployed, "deployed+deploying models per project+location; <0 unlimited, 0 = default")
	fs.DurationVar(&f.visibility, "visibility-delay", 0, "operations younger than this (emulated time) answer NOT_FOUND")
	fs.DurationVar(&f.ttl, "operation-ttl", 0, "done operations vanish this long (emulated time) after finishing; 0 = never")
	fs.Int64Var(&f.seed, "seed", 0, "random seed for faults, training time and failures; 0 = time-based")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug | info | warn | error (debug logs every RPC)")
	fs.Var(&f.faults, "fault", "repeatable `method:code:probability[:reason]`, e.g. CreateIssueModel:UNAVAILABLE:0.1, *:RESOURCE_EXHAUSTED:0.05 or ListIssueModels:PERMISSION_DENIED:1 (method is the short RPC name or *); *:PERMISSION_DENIED:1:SERVICE_DISABLED answers as Google does for an API the project has not enabled")
	fs.Var(&f.transcripts, "gcs-transcripts", "repeatable `gs://bucket/prefix=N`: seed the fake Cloud Storage with N chat transcripts under that folder, for IngestConversations")
	fs.Var(&f.buckets, "gcs-bucket", "repeatable `name`: an empty bucket of the fake Cloud Storage (e.g. an ExportIssueModel destination)")
	fs.Var(&f.finished, "finished-trainings", "repeatable `projects/P/locations/L=N`: that location already holds N finished, successful trainings (durations drawn from -training-time, ended 2h to N+1h ago), which ListOperations returns: the history polling.learn reads")
	fs.DurationVar(&f.ingestTime, "ingest-time", insightstest.DefaultIngestTime, "IngestConversations duration (emulated time)")
	fs.DurationVar(&f.analyzeTime, "analyze-time", insightstest.DefaultAnalyzeTime, "BulkAnalyzeConversations duration (emulated time)")
	fs.DurationVar(&f.exportTime, "export-time", insightstest.DefaultExportTime, "ExportIssueModel duration (emulated time)")
	fs.DurationVar(&f.importTime, "import-time", insightstest.DefaultImportTime, "ImportIssueModel duration (emulated time)")
	fs.IntVar(&f.minTraining, "min-training-conversations", insightstest.DefaultMinTrainingConversations, "analyzed conversations matching its filter a training needs, in a location that has conversations")
	fs.Var(&f.latencies, "latency", "repeatable `method:duration:probability` of added real latency, e.g. GetOperation:2s:0.5")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: insights-emulator [flags]

Local emulator of the Contact Center Insights issue-model API
(CreateIssueModel, GetIssueModel, ListIssueModels, DeployIssueModel,
UndeployIssueModel, DeleteIssueModel, ExportIssueModel, ImportIssueModel,
IngestConversations from its own fake Cloud Storage, BulkAnalyzeConversations,
ListConversations) and google.longrunning.Operations
(GetOperation, ListOperations, CancelOperation). Everything else answers
UNIMPLEMENTED. State is in memory only.

Clients: export %s=<addr> and build the clients with
insightsclient.NewRegional (the worker's) or insightsclient.New, or pass
option.WithEndpoint(addr), option.WithoutAuthentication() and an insecure
gRPC transport.

Regional endpoints: a client whose gRPC :authority names a Contact Center
Insights endpoint (contactcenterinsights.googleapis.com serves us-central1,
L-contactcenterinsights.googleapis.com serves L) is refused, with
INVALID_ARGUMENT "wrong regional endpoint", a resource of any other location,
as Google refuses it; a bare host:port is served every location.

Flags:
`, "INSIGHTS_EMULATOR_HOST")
		fs.PrintDefaults()
	}
	return &f, fs.Parse(args)
}

// options turns the flags into the emulator's Options and its faults.
func (f *flags) options() (insightstest.Options, []methodFaults, error) {
	mode, err := insightstest.ParseCancelMode(f.cancelMode)
	if err != nil {
		return insightstest.Options{}, nil, fmt.Errorf("-cancel-mode: %w", err)
	}
	tt, err := insightstest.ParseTrainingTime(f.trainingTime, derive(f.seed, 1))
	if err != nil {
		return insightstest.Options{}, nil, fmt.Errorf("-training-time: %w", err)
	}
	if f.timeScale <= 0 {
		return insightstest.Options{}, nil, fmt.Errorf("-time-scale must be positive")
	}
	for name, p := range map[string]float64{"-fail-training-rate": f.failRate, "-lost-reply-rate": f.lostRate} {
		if p < 0 || p > 1 {
			return insightstest.Options{}, nil, fmt.Errorf("%s must be in [0,1]", name)
		}
	}
	faults, err := f.faultList()
	if err != nil {
		return insightstest.Options{}, nil, err
	}
	opts := insightstest.Options{
		Addr:                     f.addr,
		Clock:                    insightstest.RealClock(f.timeScale),
		TrainingTime:             tt,
		DeployTime:               orInstant(f.deployTime),
		UndeployTime:             orInstant(f.undeployTime),
		DeleteTime:               orInstant(f.deleteTime),
		CancelMode:               mode,
		RequestsPerMinute:        orUnlimited(f.rpm),
		MaxConcurrentCreates:     orUnlimited(f.maxCreates),
		MaxModels:                orUnlimited(f.maxModels),
		MaxDeployed:              orUnlimited(f.maxDeployed),
		OperationVisibilityDelay: f.visibility,
		OperationTTL:             f.ttl,
		Seed:                     f.seed,
		Buckets:                  f.buckets,
		IngestTime:               orInstant(f.ingestTime),
		AnalyzeTime:              orInstant(f.analyzeTime),
		ExportTime:               orInstant(f.exportTime),
		ImportTime:               orInstant(f.importTime),
		MinTrainingConversations: f.minTraining,
	}
	for _, spec := range f.transcripts {
		uri, count, ok := strings.Cut(spec, "=")
		n, err := strconv.Atoi(count)
		if !ok || err != nil || n <= 0 || !strings.HasPrefix(uri, "gs://") {
			return insightstest.Options{}, nil, fmt.Errorf("-gcs-transcripts: want gs://bucket/prefix=N, got %q", spec)
		}
		if opts.Objects == nil {
			opts.Objects = map[string][]byte{}
		}
		for k, v := range insightstest.Transcripts(uri, n) {
			opts.Objects[k] = v
		}
	}
	if f.failRate > 0 {
		opts.TrainingOutcome = insightstest.RandomTrainingFailure(f.failRate, derive(f.seed, 2))
	}
	return opts, faults, nil
}

// finishedTrainings parses -finished-trainings: per location, N trainings of -training-time's
// distribution, the i-th ended i+2 hours ago (emulated time), older than the peer window of
// activities.EstimateTraining.
func (f *flags) finishedTrainings() (map[string][]insightstest.FinishedTraining, error) {
	out := map[string][]insightstest.FinishedTraining{}
	for _, spec := range f.finished {
		parent, count, ok := strings.Cut(spec, "=")
		n, err := strconv.Atoi(count)
		if !ok || err != nil || n <= 0 || n > 100000 || insights.ValidateParent("-finished-trainings", parent) != nil {
			return nil, fmt.Errorf("-finished-trainings: want projects/P/locations/L=N (N in 1..100000), got %q", spec)
		}
		tt, err := insightstest.ParseTrainingTime(f.trainingTime, derive(f.seed, 3))
		if err != nil {
			return nil, fmt.Errorf("-training-time: %w", err)
		}
		for i := range n {
			out[parent] = append(out[parent], insightstest.FinishedTraining{
				Request: &contactcenterinsightspb.CreateIssueModelRequest{IssueModel: &contactcenterinsightspb.IssueModel{
					DisplayName:     fmt.Sprintf("history-%05d", i),
					InputDataConfig: &contactcenterinsightspb.IssueModel_InputDataConfig{Filter: `medium="CHAT"`},
				}},
				Duration: tt(), EndedAgo: time.Duration(i+2) * time.Hour,
			})
		}
	}
	return out, nil
}

// methodFaults are the faults of one method, for Server.SetFaults.
type methodFaults struct {
	method string
	faults []insightstest.Fault
}

// faultList parses -latency, -fault and -lost-reply-rate, per method in
// the order methods first appear: latency faults first (they add up),
// then error faults, then lost replies.
func (f *flags) faultList() ([]methodFaults, error) {
	var out []methodFaults
	add := func(m string, fault insightstest.Fault) {
		for i := range out {
			if out[i].method == m {
				out[i].faults = append(out[i].faults, fault)
				return
			}
		}
		out = append(out, methodFaults{m, []insightstest.Fault{fault}})
	}
	for _, p := range []struct {
		flag  string
		specs []string
		parse func(string) (string, insightstest.Fault, error)
	}{{"-latency", f.latencies, insightstest.ParseLatency}, {"-fault", f.faults, insightstest.ParseFault}} {
		for _, spec := range p.specs {
			m, fault, err := p.parse(spec)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", p.flag, err)
			}
			add(m, fault)
		}
	}
	if f.lostRate > 0 {
		for _, m := range insightstest.MutatingMethods {
			add(m, insightstest.Fault{LostReplyAfterCommit: true, Probability: f.lostRate})
		}
	}
	return out, nil
}

// orInstant maps a flag's 0 (or negative) duration to "done at once" (the
// library takes 0 as "use the default").
func orInstant(d time.Duration) time.Duration {
	if d <= 0 {
		return insightstest.Instant
	}
	return d
}

// orUnlimited maps a flag's negative limit to no limit (the library takes
// 0 as "use the default", as the flags do).
func orUnlimited(n int) int {
	if n < 0 {
		return insightstest.Unlimited
	}
	return n
}

// derive gives each random stream its own seed (0 stays time-based).
func derive(seed, n int64) int64 {
	if seed == 0 {
		return 0
	}
	return seed*7919 + n
}
