package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/issuemodels/durable-lro/insightstest"
	"github.com/issuemodels/durable-lro/internal/testkit"
)

// TestPrometheusScrapesTheWorker runs a real Prometheus (Debian's prometheus package) with the
// repository's alert rules (deploy/prometheus/alerts.yml) scraping the real worker's metrics
// endpoint, as the compose stack does: the rules load and evaluate without error on the
// worker's series, the recording rule of the pollers sees the worker's task polls, the API
// calls of a run reach the poll rules, and once the worker stops, IssueModelNoWorkerPolling goes
// pending (it pages after its 5 minutes).
func TestPrometheusScrapesTheWorker(t *testing.T) {
	prometheus, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("prometheus not found (apt-get install prometheus; .ci/run installs it): SKIPPED")
	}
	rules, err := filepath.Abs("../deploy/prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	// A training of 5 real seconds, polled every second: the GetOperation counter grows over
	// several scrapes (rate() sees no increase in a series' first sample).
	srv, _ := startStack(t, insightstest.Options{TrainingTime: func() time.Duration { return 50 * time.Minute }})
	metricsAddr, promAddr := testkit.FreeAddr(t), testkit.FreeAddr(t)
	cfg, err := parseFlags([]string{"-metrics-addr", metricsAddr, "-api-time-scale", "600"}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	stopWorker := startServe(t, cfg)
	workerStopped := false
	defer func() {
		if !workerStopped {
			stopWorker()
		}
	}()

	prom := startPrometheus(t, prometheus, rules, metricsAddr, promAddr)

	// The SDK's Prometheus naming writes label values with '_' for '-': the task queue
	// issue-models is task_queue="issue_models".
	prom.waitFor("the pollers' recording rule to see the worker", func() bool {
		v, ok := prom.value(`issue_models:pollers:sum{task_queue="issue_models"}`)
		return ok && v > 0
	})
	// One run through the worker, so that its API calls and outcome are scraped too.
	trainOnce(t, srv.Client, "prometheus-run", "us-central1")

	prom.waitFor("the run's GetOperation calls to reach the poll rule", func() bool {
		v, ok := prom.value(`issue_models:poll_ok:rate5m{task_queue="issue_models"}`)
		return ok && v > 0
	})
	prom.waitFor("the run's outcome to be scraped", func() bool {
		v, ok := prom.value(`sum(insights_outcomes_total{outcome="SUCCEEDED"})`)
		return ok && v == 1
	})
	checkRulesHealthy(t, prom, rules)

	checkDashboard(t, prom, rules)

	stopWorker()
	workerStopped = true
	prom.waitFor("IssueModelNoWorkerPolling to go pending once the worker stops", func() bool {
		var alerts struct {
			Data struct {
				Alerts []struct {
					Labels map[string]string `json:"labels"`
					State  string            `json:"state"`
				} `json:"alerts"`
			} `json:"data"`
		}
		prom.get("/api/v1/alerts", nil, &alerts)
		for _, a := range alerts.Data.Alerts {
			if a.Labels["alertname"] == "IssueModelNoWorkerPolling" && a.State == "pending" {
				return true
			}
		}
		return false
	})
}

// startPrometheus runs Prometheus with the alert rules, scraping the worker's metrics every
// second, and returns its API; its log is shown if the test fails.
func startPrometheus(t *testing.T, prometheus, rules, metricsAddr, promAddr string) *promAPI {
	t.Helper()
	dir := t.TempDir()
	conf := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [%q]
scrape_configs:
  - job_name: worker
    static_configs:
      - targets: [%q]
`, rules, metricsAddr)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(prometheus, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+promAddr)
	logf, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("prometheus log:\n%s", b)
		}
	})
	return &promAPI{t: t, base: "http://" + promAddr}
}

// checkRulesHealthy checks every rule loaded and evaluates without error, no alert firing or
// pending, against the healthy worker's series.
func checkRulesHealthy(t *testing.T, prom *promAPI, rules string) {
	t.Helper()
	// Every rule loaded and evaluated without error against the worker's series.
	var rulesResp struct {
		Data struct {
			Groups []struct {
				Name  string `json:"name"`
				Rules []struct {
					Name, Health, LastError, State string
				} `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	prom.get("/api/v1/rules", nil, &rulesResp)
	n := 0
	for _, g := range rulesResp.Data.Groups {
		for _, r := range g.Rules {
			n++
			if r.Health != "ok" {
				t.Errorf("rule %s/%s: health %q, error %q", g.Name, r.Name, r.Health, r.LastError)
			}
			if r.State == "firing" || r.State == "pending" {
				t.Errorf("alert %s is %s on a healthy worker", r.Name, r.State)
			}
		}
	}
	if n < 10 {
		t.Errorf("Prometheus loaded %d rules from %s, want them all", n, rules)
	}
}

// onlyOnFailure are metrics the worker exposes only once something failed or was throttled,
// which the healthy run above does not make.
var onlyOnFailure = map[string]bool{
	"temporal_workflow_failed_total": true, "temporal_request_failure_total": true,
	"temporal_long_request_failure_total": true, "insights_polls_throttled_total": true,
}

var metricName = regexp.MustCompile(`\b(?:insights|temporal)_[a-z_]+\b`)

// checkDashboard: every query of the Grafana dashboard (deploy/grafana) runs without error in
// the real Prometheus, and every metric that it or the alert rules name is one the worker
// exposes (or exposes once something fails): a renamed metric shows here, not as an empty
// panel or an alert that can never fire.
func checkDashboard(t *testing.T, prom *promAPI, rules string) {
	t.Helper()
	b, err := os.ReadFile("../deploy/grafana/issue-models-worker.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	var names struct {
		Data []string `json:"data"`
	}
	prom.get("/api/v1/label/__name__/values", nil, &names)
	exposed := map[string]bool{}
	for _, n := range names.Data {
		exposed[n] = true
	}
	r := strings.NewReplacer("$__rate_interval", "1m", "$namespace", ".*", "$task_queue", ".*")
	queries := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			queries++
			var resp struct {
				Status string `json:"status"`
				Error  string `json:"error"`
			}
			q := r.Replace(tg.Expr)
			prom.get("/api/v1/query", url.Values{"query": {q}}, &resp)
			if resp.Status != "success" {
				// A failed query answers 400 with the error; ask again to show it.
				t.Errorf("panel %q: query %s: %s %s", p.Title, q, resp.Status, resp.Error)
			}
		}
	}
	if queries < 15 {
		t.Errorf("the dashboard has %d queries", queries)
	}
	ruleText, err := os.ReadFile(rules)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range metricName.FindAllString(string(b)+string(ruleText), -1) {
		base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(m, "_bucket"), "_sum"), "_count")
		if !exposed[m] && !exposed[base+"_bucket"] && !onlyOnFailure[m] {
			t.Errorf("the dashboard or the rules name %s, which the worker does not expose", m)
		}
	}
}

// promAPI is a tiny client of Prometheus's HTTP API.
type promAPI struct {
	t    *testing.T
	base string
}

// get decodes the answer to path?q into out; a Prometheus not yet listening decodes nothing.
func (p *promAPI) get(path string, q url.Values, out any) bool {
	// A query Prometheus refuses answers 400 with a JSON error body: decoded too.
	u := p.base + path
	if q != nil {
		u += "?" + q.Encode()
	}
	resp, err := http.Get(u)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(out) == nil && resp.StatusCode == http.StatusOK
}

// value is the first sample of an instant query.
func (p *promAPI) value(query string) (float64, bool) {
	var r struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if !p.get("/api/v1/query", url.Values{"query": {query}}, &r) || len(r.Data.Result) == 0 {
		return 0, false
	}
	s, _ := r.Data.Result[0].Value[1].(string)
	v, err := strconv.ParseFloat(s, 64)
	return v, err == nil
}

func (p *promAPI) waitFor(what string, cond func() bool) {
	p.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			p.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
