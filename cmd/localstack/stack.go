package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/issuemodels/durable-lro/internal/devserver"
	"github.com/issuemodels/durable-lro/internal/proc"
	"github.com/issuemodels/durable-lro/internal/temporalcli"
	"github.com/issuemodels/durable-lro/nexusservice"
)

// stack is the local stack: where its files go, its addresses, its children.
type stack struct {
	o                            options
	root, bin, data              string
	addr, emuAddr, emuStatusAddr string
	confFile                     string
	children                     []*proc.Process
	died                         chan *proc.Process // a child that exited on its own
	tc                           client.Client
}

func newStack(o options) (*stack, error) {
	root, err := proc.RepoRoot()
	if err != nil {
		return nil, err
	}
	s := &stack{o: o, root: root, bin: filepath.Join(root, "bin"), data: filepath.Join(root, ".data"), died: make(chan *proc.Process, 3),
		addr:          fmt.Sprintf("127.0.0.1:%d", o.port),
		emuAddr:       fmt.Sprintf("127.0.0.1:%d", o.emulatorPort),
		emuStatusAddr: fmt.Sprintf("127.0.0.1:%d", o.emulatorPort+1),
	}
	if o.dataDir != "" {
		if s.data, err = filepath.Abs(o.dataDir); err != nil {
			return nil, err
		}
	}
	if s.o.temporalPath == "" {
		s.o.temporalPath = filepath.Join(s.bin, "temporal")
	}
	if s.o.temporalPath, err = filepath.Abs(s.o.temporalPath); err != nil {
		return nil, err
	}
	s.confFile = filepath.Join(s.data, "temporal.toml")
	return s, nil
}

// prepare refuses taken ports, installs the CLI, builds the emulator and the worker and writes
// the client configuration.
func (s *stack) prepare(ctx context.Context) error {
	if err := s.checkPorts(); err != nil {
		return err
	}
	for _, dir := range []string{s.data, s.bin} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	if err := s.ensureTemporalCLI(ctx); err != nil {
		return err
	}
	say("Building bin/insights-emulator and bin/worker")
	for _, b := range [][2]string{{"insights-emulator", "./cmd/insights-emulator"}, {"worker", "./worker"}} {
		if err := proc.Build(ctx, s.root, b[1], filepath.Join(s.bin, b[0])); err != nil {
			return err
		}
	}
	// A client configuration for everything started here, so that a user's own Temporal
	// profile (say, Temporal Cloud) never leaks into the local stack.
	conf := fmt.Sprintf("# Written by cmd/localstack: the local dev server.\n[profile.default]\naddress = %q\nnamespace = %q\n", s.addr, namespace)
	return os.WriteFile(s.confFile, []byte(conf), 0o644)
}

// checkPorts refuses early and clearly when something already holds one of our ports.
func (s *stack) checkPorts() error {
	if portInUse(s.addr) {
		return fmt.Errorf("port %s is already in use: another Temporal server is probably running "+
			"(a previous localstack or `temporal server start-dev`?). Stop it, or choose other ports with -port and -ui-port", s.addr)
	}
	for _, p := range []struct{ what, addr string }{
		{"the Temporal Web UI port (-ui-port)", fmt.Sprintf("127.0.0.1:%d", s.o.uiPort)},
		{"the emulator port (-emulator-port)", s.emuAddr},
		{"the emulator status port (-emulator-port + 1)", s.emuStatusAddr},
	} {
		if portInUse(p.addr) {
			return fmt.Errorf("%s %s is already in use; stop whatever listens there or choose another port", p.what, p.addr)
		}
	}
	return nil
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

// ensureTemporalCLI installs the pinned Temporal CLI at -temporal-cli when it is missing.
func (s *stack) ensureTemporalCLI(ctx context.Context) error {
	path := s.o.temporalPath
	if st, err := os.Stat(path); err == nil && !st.IsDir() {
		return nil
	}
	if filepath.Base(path) != "temporal" {
		return fmt.Errorf("%s does not exist (and go install can only create a file named temporal)", path)
	}
	say("The Temporal CLI is not at %s: installing it with go install.", path)
	_, err := temporalcli.Ensure(ctx, filepath.Dir(path), os.Stdout)
	return err
}

// startAll starts the dev server, the emulator and the worker, each once the previous is ready.
func (s *stack) startAll(ctx context.Context) error {
	if err := s.startTemporal(ctx); err != nil {
		return err
	}
	say("Starting the Contact Center Insights emulator on %s (training %s of emulated time, -time-scale %g); log .data/insights-emulator.log",
		s.emuAddr, sampleTraining, s.o.timeScale)
	emu, err := s.start("insights-emulator", nil, filepath.Join(s.bin, "insights-emulator"),
		"-addr", s.emuAddr, "-status-addr", s.emuStatusAddr,
		"-training-time", sampleTraining, "-time-scale", strconv.FormatFloat(s.o.timeScale, 'g', -1, 64))
	if err != nil {
		return err
	}
	if err := waitForPort(ctx, emu, s.emuAddr, 30*time.Second); err != nil {
		return err
	}
	say("Emulator is ready (counters: http://%s/status)", s.emuStatusAddr)

	say("Starting the worker on task queue %q; log .data/worker.log", s.o.taskQueue)
	wrk, err := s.start("worker", []string{
		"TEMPORAL_CONFIG_FILE=" + s.confFile, "TEMPORAL_ADDRESS=" + s.addr, "TEMPORAL_NAMESPACE=" + namespace,
		"TEMPORAL_TASK_QUEUE=" + s.o.taskQueue, "INSIGHTS_EMULATOR_HOST=" + s.emuAddr, "LOG_FORMAT=console",
	}, filepath.Join(s.bin, "worker"), "-stop-timeout", "3s")
	if err != nil {
		return err
	}
	if err := waitForWorker(ctx, s.tc, wrk, s.o.taskQueue); err != nil {
		return err
	}
	say("Worker is polling")
	return nil
}

func (s *stack) startTemporal(ctx context.Context) error {
	say("Starting the Temporal dev server on %s (Web UI http://localhost:%d); log .data/temporal.log", s.addr, s.o.uiPort)
	flags := devserver.Flags{IP: "127.0.0.1", Port: s.o.port, UIPort: s.o.uiPort, Namespace: namespace,
		DBFilename: filepath.Join(s.data, "temporal.db"), LogLevel: "warn"}
	srv, err := s.start("temporal", nil, s.o.temporalPath, flags.Args()...)
	if err != nil {
		return err
	}
	if s.tc, err = waitForTemporal(ctx, srv, s.addr, s.o.taskQueue); err != nil {
		return err
	}
	say("Temporal is ready")
	// The README's commands for callers in other namespaces (idempotent across restarts).
	ep := nexusservice.Endpoint{Name: nexusservice.DefaultEndpoint, TargetNamespace: namespace, TaskQueue: s.o.taskQueue,
		CallersNamespace: nexusservice.DefaultCallersNamespace}
	if err := ep.Setup(ctx, s.o.temporalPath, s.addr); err != nil {
		return err
	}
	say("Nexus endpoint %s serves the issue-models service (task queue %q) to workflows in namespace %q",
		ep.Name, ep.TaskQueue, ep.CallersNamespace)
	return nil
}

// start starts a child with its log in the data folder (and copied here with -v), and reports
// it on died if it exits before stopAll.
func (s *stack) start(name string, env []string, path string, args ...string) (*proc.Process, error) {
	o := proc.Options{Name: name, Path: path, Args: args, Dir: s.root, Env: env, Log: filepath.Join(s.data, name+".log")}
	if s.o.verbose {
		o.Also = &prefixWriter{term: os.Stdout, prefix: fmt.Sprintf("[%s] ", name)}
	}
	p, err := proc.Start(o)
	if err != nil {
		return nil, err
	}
	s.children = append(s.children, p)
	go func() {
		<-p.Done()
		if !p.Stopping() {
			s.died <- p
		}
	}()
	return p, nil
}

// stopAll stops the children, the last started first (the worker before the server it uses).
func (s *stack) stopAll() {
	if len(s.children) == 0 {
		return
	}
	fmt.Println()
	say("Stopping %d processes", len(s.children))
	for i := len(s.children) - 1; i >= 0; i-- {
		c := s.children[i]
		if c.Exited() {
			continue
		}
		fmt.Printf("    stopping %s (pid %d)... ", c.Name, c.Pid())
		if err := c.Stop(); err != nil {
			fmt.Printf("%v\n", err)
		} else {
			fmt.Println("stopped")
		}
	}
	say("All stopped. Temporal state is kept in .data/temporal.db; logs are in .data/*.log")
}

// prefixWriter copies output to the terminal line by line with a prefix.
type prefixWriter struct {
	mu     sync.Mutex
	term   io.Writer
	prefix string
	buf    []byte
}

func (w *prefixWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
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

// pollUntil calls f every 300 ms until it returns true, the child exits, ctx ends or the
// timeout passes.
func pollUntil(ctx context.Context, c *proc.Process, timeout time.Duration, what string, f func(context.Context) bool) error {
	deadline := time.Now().Add(timeout)
	for {
		if f(ctx) {
			return nil
		}
		if c.Exited() {
			return c.DeathError()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s; see %s:\n%s", what, timeout, c.LogPath, proc.Indent(proc.Tail(c.LogPath, 15)))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
}

func waitForPort(ctx context.Context, c *proc.Process, addr string, timeout time.Duration) error {
	return pollUntil(ctx, c, timeout, c.Name, func(context.Context) bool {
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
func waitForTemporal(ctx context.Context, srv *proc.Process, addr, taskQueue string) (client.Client, error) {
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
func waitForWorker(ctx context.Context, tc client.Client, wrk *proc.Process, taskQueue string) error {
	prefix := fmt.Sprintf("%d@", wrk.Pid())
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
