// Command localstack runs the whole stack on one machine with nothing but Go installed:
//
//	go run ./cmd/localstack
//
// It installs the Temporal CLI into ./bin if it is missing, starts the Temporal dev server
// (state in .data/temporal.db, kept across restarts), the Contact Center Insights emulator and
// the worker as child processes (logs in .data/*.log), starts one sample CreateIssueModelWorkflow
// and follows it until it ends, prints how to look at it, and stays up until Ctrl-C, when it stops
// every child.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"

	"github.com/issuemodels/durable-lro/searchattr"
	"github.com/issuemodels/durable-lro/workflows"
)

const (
	modulePath      = "github.com/issuemodels/durable-lro"
	temporalCLI     = "github.com/temporalio/cli/cmd/temporal"
	temporalVersion = "v1.5.1"
	namespace       = "default"

	// SampleInput is the README's sample: a CHAT model named "weekly".
	SampleInput = `{"parent":"projects/acme/locations/us-central1","issueModel":{"displayName":"weekly","inputDataConfig":{"medium":"CHAT","filter":"medium=\"CHAT\""}}}`

	// sampleTraining is the emulated training time; at the default -time-scale 2 it takes 60s
	// of wall time, and the workflow's default polling (30s, then x1.5) sees it done at ~75s.
	sampleTraining = "2m"

	stopGrace = 5 * time.Second
)

type options struct {
	noSample     bool
	port         int
	uiPort       int
	emulatorPort int
	timeScale    float64
	verbose      bool
	temporalPath string
	dataDir      string
	taskQueue    string
}

func main() {
	var o options
	flag.BoolVar(&o.noSample, "no-sample", false, "do not start the sample workflow")
	flag.IntVar(&o.port, "port", 7233, "Temporal frontend (gRPC) port on 127.0.0.1")
	flag.IntVar(&o.uiPort, "ui-port", 8233, "Temporal Web UI port on 127.0.0.1")
	flag.IntVar(&o.emulatorPort, "emulator-port", 9090, "emulator gRPC port on 127.0.0.1 (its /status and /healthz HTTP port is this +1)")
	flag.Float64Var(&o.timeScale, "time-scale", 2, "emulated seconds per real second in the emulator (2: the sample's 2m training takes 1m)")
	flag.BoolVar(&o.verbose, "v", false, "also copy the children's output to this terminal, prefixed with their name")
	flag.StringVar(&o.dataDir, "data-dir", "", "where Temporal's SQLite file and the logs go (default <repo>/.data)")
	flag.StringVar(&o.temporalPath, "temporal-cli", "", "path of the Temporal CLI (default <repo>/bin/temporal; installed with go install when missing)")
	flag.Parse()
	o.taskQueue = workflows.DefaultTaskQueue

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, o)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "\nlocalstack: %v\n", err)
		os.Exit(1)
	}
}

func say(format string, args ...any) {
	fmt.Printf("==> "+format+"\n", args...)
}

func run(ctx context.Context, o options) (err error) {
	root, err := repoRoot()
	if err != nil {
		return err
	}
	bin, data := filepath.Join(root, "bin"), filepath.Join(root, ".data")
	if o.dataDir != "" {
		if data, err = filepath.Abs(o.dataDir); err != nil {
			return err
		}
	}
	if o.temporalPath == "" {
		o.temporalPath = filepath.Join(bin, "temporal")
	}
	if o.temporalPath, err = filepath.Abs(o.temporalPath); err != nil {
		return err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", o.port)
	emuAddr := fmt.Sprintf("127.0.0.1:%d", o.emulatorPort)
	emuStatusAddr := fmt.Sprintf("127.0.0.1:%d", o.emulatorPort+1)

	// Refuse early and clearly when something already holds our ports.
	if portInUse(addr) {
		return fmt.Errorf("port %s is already in use: another Temporal server is probably running "+
			"(a previous localstack or `temporal server start-dev`?). Stop it, or choose other ports with -port and -ui-port", addr)
	}
	for _, p := range []struct{ what, addr string }{
		{"the Temporal Web UI port (-ui-port)", fmt.Sprintf("127.0.0.1:%d", o.uiPort)},
		{"the emulator port (-emulator-port)", emuAddr},
		{"the emulator status port (-emulator-port + 1)", emuStatusAddr},
	} {
		if portInUse(p.addr) {
			return fmt.Errorf("%s %s is already in use; stop whatever listens there or choose another port", p.what, p.addr)
		}
	}
	if err := os.MkdirAll(data, 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return err
	}

	if err := ensureTemporalCLI(ctx, o.temporalPath, root); err != nil {
		return err
	}
	say("Building bin/insights-emulator and bin/worker")
	for _, b := range [][2]string{{"bin/insights-emulator", "./cmd/insights-emulator"}, {"bin/worker", "./worker"}} {
		if err := goCmd(ctx, root, nil, "build", "-o", filepath.Join(root, b[0]), b[1]); err != nil {
			return fmt.Errorf("go build %s: %w", b[1], err)
		}
	}

	// A client configuration for everything started here, so that a user's own Temporal
	// profile (say, Temporal Cloud) never leaks into the local stack.
	confFile := filepath.Join(data, "temporal.toml")
	conf := fmt.Sprintf("# Written by cmd/localstack: the local dev server.\n[profile.default]\naddress = %q\nnamespace = %q\n", addr, namespace)
	if err := os.WriteFile(confFile, []byte(conf), 0o644); err != nil {
		return err
	}

	var children []*child
	defer func() {
		if len(children) > 0 {
			fmt.Println()
			say("Stopping %d processes", len(children))
		}
		for i := len(children) - 1; i >= 0; i-- {
			children[i].stop()
		}
		if len(children) > 0 {
			say("All stopped. Temporal state is kept in .data/temporal.db; logs are in .data/*.log")
		}
	}()
	died := make(chan *child, 3)
	start := func(name string, env []string, path string, args ...string) (*child, error) {
		c, err := startChild(root, data, name, env, o.verbose, died, path, args...)
		if err != nil {
			return nil, err
		}
		children = append(children, c)
		return c, nil
	}

	say("Starting the Temporal dev server on %s (Web UI http://localhost:%d); log .data/temporal.log", addr, o.uiPort)
	tsrv, err := start("temporal", nil, o.temporalPath, append([]string{"server", "start-dev",
		"--db-filename", filepath.Join(data, "temporal.db"),
		"--ip", "127.0.0.1", "--port", strconv.Itoa(o.port), "--ui-port", strconv.Itoa(o.uiPort),
		"--namespace", namespace, "--log-level", "warn"}, searchattr.DevServerArgs()...)...)
	if err != nil {
		return err
	}
	tc, err := waitForTemporal(ctx, tsrv, addr, o.taskQueue)
	if err != nil {
		return err
	}
	defer tc.Close()
	say("Temporal is ready")

	say("Starting the Contact Center Insights emulator on %s (training %s of emulated time, -time-scale %g); log .data/insights-emulator.log",
		emuAddr, sampleTraining, o.timeScale)
	emu, err := start("insights-emulator", nil, filepath.Join(bin, "insights-emulator"),
		"-addr", emuAddr, "-status-addr", emuStatusAddr,
		"-training-time", sampleTraining, "-time-scale", strconv.FormatFloat(o.timeScale, 'g', -1, 64))
	if err != nil {
		return err
	}
	if err := waitForPort(ctx, emu, emuAddr, 30*time.Second); err != nil {
		return err
	}
	say("Emulator is ready (counters: http://%s/status)", emuStatusAddr)

	say("Starting the worker on task queue %q; log .data/worker.log", o.taskQueue)
	wrk, err := start("worker", []string{
		"TEMPORAL_CONFIG_FILE=" + confFile, "TEMPORAL_ADDRESS=" + addr, "TEMPORAL_NAMESPACE=" + namespace,
		"TEMPORAL_TASK_QUEUE=" + o.taskQueue, "INSIGHTS_EMULATOR_HOST=" + emuAddr, "LOG_FORMAT=console",
	}, filepath.Join(bin, "worker"), "-stop-timeout", "3s")
	if err != nil {
		return err
	}
	if err := waitForWorker(ctx, tc, wrk, o.taskQueue); err != nil {
		return err
	}
	say("Worker is polling")

	sampleID := ""
	if !o.noSample {
		sampleID = "sample-" + time.Now().Format("20060102-150405")
		if err := runSample(ctx, tc, o, sampleID, died); err != nil {
			return err
		}
	}
	printHelp(o, sampleID, confFile, root)

	fmt.Println()
	say("Everything is running. Press Ctrl-C to stop.")
	select {
	case <-ctx.Done():
		return nil
	case c := <-died:
		return c.deathError()
	}
}

// repoRoot finds the directory of this module's go.mod, from the working directory up.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module "+modulePath+"\n")) {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("run this from the repository (no go.mod of %s in %s or above)", modulePath, dir)
		}
	}
}

func portInUse(addr string) bool {
	if c, err := net.DialTimeout("tcp", addr, 300*time.Millisecond); err == nil {
		c.Close()
		return true
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return true
	}
	l.Close()
	return false
}

// goTool is the go command: from PATH, else from GOROOT (set by `go run` for its child).
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	if root := os.Getenv("GOROOT"); root != "" {
		return filepath.Join(root, "bin", "go")
	}
	return "go"
}

// goCmd runs the go command in dir with output on this terminal.
func goCmd(ctx context.Context, dir string, env []string, args ...string) error {
	cmd := exec.CommandContext(ctx, goTool(), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	return cmd.Run()
}

// ensureTemporalCLI installs the Temporal CLI at path with go install when it is missing.
func ensureTemporalCLI(ctx context.Context, path, root string) error {
	if st, err := os.Stat(path); err == nil && !st.IsDir() {
		return nil
	}
	dir := filepath.Dir(path)
	if filepath.Base(path) != "temporal" {
		return fmt.Errorf("%s does not exist (and go install can only create a file named temporal)", path)
	}
	say("The Temporal CLI is not at %s: installing %s@%s with go install.", path, temporalCLI, temporalVersion)
	say("This takes about 2 minutes (and ~2 GB of RAM) the first time; later runs start at once.")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := goCmd(ctx, root, []string{"GOBIN=" + dir}, "install", temporalCLI+"@"+temporalVersion); err != nil {
		return fmt.Errorf("installing the Temporal CLI: %w", err)
	}
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("go install finished but %s is missing: %w", path, err)
	}
	say("Installed %s", path)
	return nil
}

// child is a process started by localstack.
type child struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	log     *os.File
	done    chan struct{}
	err     error // valid after done
	stopped bool
	mu      sync.Mutex
}

func startChild(root, data, name string, env []string, verbose bool, died chan<- *child, path string, args ...string) (*child, error) {
	logPath := filepath.Join(data, name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(f, "\n----- %s: localstack starts %s %s\n", time.Now().Format(time.RFC3339), path, strings.Join(args, " "))
	cmd := exec.Command(path, args...)
	cmd.Dir = root
	cmd.Env = childEnv(env)
	var out io.Writer = f
	if verbose {
		out = &prefixWriter{file: f, term: os.Stdout, prefix: fmt.Sprintf("[%s] ", name)}
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 2 * time.Second
	ownProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, logPath: logPath, log: f, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
		c.mu.Lock()
		stopped := c.stopped
		c.mu.Unlock()
		if !stopped {
			died <- c
		}
	}()
	return c, nil
}

// childEnv is this process's environment without Temporal client settings (a user's cloud
// address, API key or profile must not reach the local stack), plus env.
func childEnv(env []string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "TEMPORAL_") || strings.HasPrefix(kv, "INSIGHTS_EMULATOR_HOST=") {
			continue
		}
		out = append(out, kv)
	}
	return append(out, env...)
}

func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// deathError describes a child that exited on its own, with the end of its log.
func (c *child) deathError() error {
	<-c.done
	return fmt.Errorf("%s exited unexpectedly (%v); last lines of %s:\n%s", c.name, c.err, c.logPath, tail(c.logPath, 15))
}

// stop sends SIGTERM to the child's process group and SIGKILL after stopGrace.
func (c *child) stop() {
	c.mu.Lock()
	c.stopped = true
	c.mu.Unlock()
	defer c.log.Close()
	if c.exited() {
		return
	}
	fmt.Printf("    stopping %s (pid %d)... ", c.name, c.cmd.Process.Pid)
	_ = signalGroup(c.cmd, false)
	select {
	case <-c.done:
		fmt.Println("stopped")
	case <-time.After(stopGrace):
		_ = signalGroup(c.cmd, true)
		<-c.done
		fmt.Printf("killed after %s\n", stopGrace)
	}
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "    (" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "    " + strings.Join(lines, "\n    ")
}

// prefixWriter copies output to the log file as is and to the terminal line by line with a prefix.
type prefixWriter struct {
	mu     sync.Mutex
	file   io.Writer
	term   io.Writer
	prefix string
	buf    []byte
}

func (w *prefixWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, err := w.file.Write(p); err != nil {
		return 0, err
	}
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		fmt.Fprintf(w.term, "%s%s\n", w.prefix, w.buf[:i])
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}

// pollUntil calls f every interval until it returns true, the child exits, ctx ends or the
// timeout passes.
func pollUntil(ctx context.Context, c *child, timeout time.Duration, what string, f func(context.Context) bool) error {
	deadline := time.Now().Add(timeout)
	for {
		if f(ctx) {
			return nil
		}
		if c.exited() {
			return c.deathError()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s; see %s:\n%s", what, timeout, c.logPath, tail(c.logPath, 15))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
}

func waitForPort(ctx context.Context, c *child, addr string, timeout time.Duration) error {
	return pollUntil(ctx, c, timeout, c.name, func(context.Context) bool {
		conn, err := net.DialTimeout("tcp", addr, 300*time.Millisecond)
		if err != nil {
			return false
		}
		conn.Close()
		return true
	})
}

// waitForTemporal waits until the frontend answers and the namespace serves requests, and
// returns a client.
func waitForTemporal(ctx context.Context, srv *child, addr, taskQueue string) (client.Client, error) {
	if err := waitForPort(ctx, srv, addr, 90*time.Second); err != nil {
		return nil, err
	}
	var tc client.Client
	err := pollUntil(ctx, srv, 60*time.Second, "Temporal", func(ctx context.Context) bool {
		if tc == nil {
			dctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			defer cancel()
			c, err := client.DialContext(dctx, client.Options{
				HostPort: addr, Namespace: namespace,
				Logger: tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
			})
			if err != nil {
				return false
			}
			tc = c
		}
		qctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		_, err := tc.DescribeTaskQueue(qctx, taskQueue, enumspb.TASK_QUEUE_TYPE_WORKFLOW)
		return err == nil
	})
	if err != nil {
		if tc != nil {
			tc.Close()
		}
		return nil, err
	}
	return tc, nil
}

// waitForWorker waits until the worker process polls the task queue. Pollers of earlier workers
// linger in DescribeTaskQueue for a while, so it looks for this process's identity (pid@host@).
func waitForWorker(ctx context.Context, tc client.Client, wrk *child, taskQueue string) error {
	prefix := fmt.Sprintf("%d@", wrk.cmd.Process.Pid)
	return pollUntil(ctx, wrk, 60*time.Second, "the worker", func(ctx context.Context) bool {
		qctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		resp, err := tc.DescribeTaskQueue(qctx, taskQueue, enumspb.TASK_QUEUE_TYPE_WORKFLOW)
		if err != nil {
			return false
		}
		for _, p := range resp.GetPollers() {
			if strings.HasPrefix(p.GetIdentity(), prefix) {
				return true
			}
		}
		return false
	})
}

// runSample starts the sample workflow and prints its status every few seconds until it ends.
func runSample(ctx context.Context, tc client.Client, o options, id string, died <-chan *child) error {
	fmt.Println()
	say("Starting the sample %s %s with input\n    %s", workflows.CreateIssueModelWorkflowType, id, SampleInput)
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	in, err := workflows.DecodeCreateIssueModelInput([]byte(SampleInput))
	if err != nil {
		cancel()
		return fmt.Errorf("the sample input: %w", err)
	}
	run, err := tc.ExecuteWorkflow(sctx, client.StartWorkflowOptions{
		ID: id, TaskQueue: o.taskQueue, StaticSummary: in.Summary(), StaticDetails: in.Details(),
	}, workflows.CreateIssueModelWorkflowType, json.RawMessage(SampleInput))
	cancel()
	if err != nil {
		return fmt.Errorf("starting the sample: %w", err)
	}
	say("Follow it in the Web UI: %s", uiURL(o, id))
	say("Training takes %s of emulated time (~%s here); the workflow polls after ~%s, then every x%g up to %s:",
		sampleTraining, emulatedToWall(sampleTraining, o.timeScale), workflows.DefaultInitialInterval,
		workflows.DefaultMultiplier, workflows.DefaultMaxInterval)

	type result struct {
		raw json.RawMessage
		err error
	}
	resCh := make(chan result, 1)
	go func() {
		var r result
		r.err = run.Get(ctx, &r.raw)
		resCh <- r
	}()
	began := time.Now()
	lastOp := ""
	ticker := time.NewTicker(5 * time.Second)
	defer ticker.Stop()
	printStatus := func() {
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		v, err := tc.QueryWorkflow(qctx, id, "", workflows.StatusQuery)
		elapsed := time.Since(began).Round(time.Second)
		if err != nil {
			fmt.Printf("    +%-5s (status query failed: %v)\n", elapsed, err)
			return
		}
		var st workflows.Status
		if err := v.Get(&st); err != nil {
			fmt.Printf("    +%-5s (status undecodable: %v)\n", elapsed, err)
			return
		}
		line := statusLine(st)
		if st.Operation != "" && st.Operation != lastOp {
			line += "  operation=" + st.Operation
			lastOp = st.Operation
		}
		fmt.Printf("    +%-6s %s\n", elapsed, line)
	}
	printStatus()
	for {
		select {
		case <-ctx.Done():
			return nil // Ctrl-C: the caller stops everything
		case c := <-died:
			return c.deathError()
		case <-ticker.C:
			printStatus()
		case r := <-resCh:
			if ctx.Err() != nil {
				return nil
			}
			printStatus()
			fmt.Println()
			return printResult(id, r.raw, r.err)
		}
	}
}

func emulatedToWall(d string, scale float64) time.Duration {
	dur, err := time.ParseDuration(d)
	if err != nil || scale <= 0 {
		return 0
	}
	return time.Duration(float64(dur) / scale).Round(time.Second)
}

func statusLine(st workflows.Status) string {
	parts := []string{fmt.Sprintf("phase=%-9s", st.Phase), fmt.Sprintf("polls=%d", st.Polls)}
	if st.NextPollAt != nil && !st.Done {
		if d := time.Until(*st.NextPollAt).Round(time.Second); d > 0 {
			parts = append(parts, fmt.Sprintf("next poll in %-4s", d))
		} else {
			parts = append(parts, "polling now")
		}
	}
	if st.Outcome != "" {
		parts = append(parts, "outcome="+st.Outcome)
	}
	if st.LastError != "" {
		parts = append(parts, "lastError="+strconv.Quote(st.LastError))
	}
	return strings.Join(parts, "  ")
}

func printResult(id string, raw json.RawMessage, err error) error {
	if err == nil {
		var res workflows.CreateIssueModelResult
		var model struct {
			Name, DisplayName, State, IssueCount string
			TrainingStats                        struct{ AnalyzedConversationsCount string }
		}
		if json.Unmarshal(raw, &res) != nil || json.Unmarshal(res.IssueModel, &model) != nil {
			say("The sample completed. Result:\n    %s", raw)
			return nil
		}
		say("The sample completed: outcome %s after %d polls", res.Outcome, res.Polls)
		fmt.Printf("    issue model  %s (%q)\n", model.Name, model.DisplayName)
		fmt.Printf("    state        %s, %s issues from %s analyzed conversations\n", model.State, model.IssueCount, model.TrainingStats.AnalyzedConversationsCount)
		fmt.Printf("    operation    %s\n", res.Operation)
		if res.Metadata.CreateTime != nil && res.Metadata.EndTime != nil {
			fmt.Printf("    trained      %s .. %s (emulated clock)\n", res.Metadata.CreateTime.Format(time.RFC3339), res.Metadata.EndTime.Format(time.RFC3339))
		}
		fmt.Printf("    full result: ./bin/temporal workflow result --workflow-id %s\n", id)
		return nil
	}
	var canceled *temporal.CanceledError
	var appErr *temporal.ApplicationError
	switch {
	case errors.As(err, &canceled):
		say("The sample was cancelled: %v", err)
	case errors.As(err, &appErr):
		say("The sample failed (%s): %s", appErr.Type(), appErr.Message())
	default:
		say("The sample did not complete: %v", err)
	}
	// A failed sample is information, not a reason to tear the stack down.
	return nil
}

func uiURL(o options, id string) string {
	return fmt.Sprintf("http://localhost:%d/namespaces/%s/workflows/%s", o.uiPort, namespace, id)
}

func printHelp(o options, id, confFile, root string) {
	cli := o.temporalPath
	if rel, err := filepath.Rel(root, o.temporalPath); err == nil && !strings.HasPrefix(rel, "..") {
		cli = "./" + filepath.ToSlash(rel)
	}
	conn := ""
	if o.port != 7233 {
		conn = fmt.Sprintf(" --address 127.0.0.1:%d", o.port)
	}
	example := id
	if example == "" {
		example = "my-model-1"
	}
	fmt.Println()
	say("Web UI: http://localhost:%d/namespaces/%s/workflows", o.uiPort, namespace)
	if id != "" {
		fmt.Printf("    the sample: %s\n", uiURL(o, id))
	}
	fmt.Println()
	say("Try it with the Temporal CLI (from %s):", root)
	fmt.Printf(`    # start another creation (ids must be new; one training at a time per location)
    %[1]s workflow start%[2]s --task-queue %[3]s --type %[4]s --workflow-id my-model-2 \
        --input '%[5]s'
    # what is it doing?
    %[1]s workflow query%[2]s --workflow-id %[6]s --type %[7]s
    # poll now instead of waiting for the timer / cancel it
    %[1]s workflow signal%[2]s --workflow-id %[6]s --name %[8]s
    %[1]s workflow signal%[2]s --workflow-id %[6]s --name %[9]s --input '{"reason":"wrong filter"}'
    # wait for and print the result
    %[1]s workflow result%[2]s --workflow-id %[6]s
`, cli, conn, o.taskQueue, workflows.CreateIssueModelWorkflowType, SampleInput, example,
		workflows.StatusQuery, workflows.PollNowSignal, workflows.CancelSignal)
	fmt.Println()
	say("Or with the starter (TEMPORAL_CONFIG_FILE points it at this stack, whatever your own Temporal profile says):")
	cf := confFile
	if rel, err := filepath.Rel(root, confFile); err == nil {
		cf = filepath.ToSlash(rel)
	}
	fmt.Printf(`    TEMPORAL_CONFIG_FILE=%[1]s go run ./starter start -parent projects/acme/locations/us-central1 \
        -display-name weekly -medium CHAT -filter 'medium="CHAT"' -wait
    TEMPORAL_CONFIG_FILE=%[1]s go run ./starter status -workflow-id %[2]s
`, cf, example)
	fmt.Println()
	say("Logs: .data/temporal.log, .data/insights-emulator.log, .data/worker.log (add -v to see them here)")
}
