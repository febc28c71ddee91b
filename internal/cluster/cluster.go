//go:build unix

// Package cluster runs the production shape of Temporal for tests: a real Temporal server
// (ServerVersion of internal/temporalcli, built with temporal-sql-tool into ./bin) on a real
// PostgreSQL (Debian's, installed with apt-get when missing and this process is root), both as
// child processes. The schema and the namespace are set up by the compose stack's own scripts
// (deploy/temporal/setup-postgres.sh, setup-namespace.sh) and the server reads the compose
// stack's deploy/temporal/dynamicconfig.yaml, so the deployment is exercised, not imitated; SQL
// visibility carries the workflows' search attributes; the history has several shards. The
// server restarts like internal/devserver's (it is one, see devserver.NewCommand); PostgreSQL
// restarts and stops on its own (Server.PG).
package cluster

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/issuemodels/durable-lro/internal/devserver"
	"github.com/issuemodels/durable-lro/internal/proc"
	"github.com/issuemodels/durable-lro/internal/temporalcli"
)

// HistoryShards is the number of history shards (the compose stack's server has 4 too, the
// temporalio/server image's default).
const HistoryShards = 4

// Server is a Temporal server on PostgreSQL. Its embedded devserver.Server has the frontend's
// address, a client, Stop, StartAgain, Restart (the server process only) and Close (which also
// stops PostgreSQL and removes every temporary file).
type Server struct {
	*devserver.Server
	// PG is the server's database; Restart, Stop and Start it to test database outages.
	PG *Postgres
	// SetupLog holds the output of the schema and namespace scripts.
	SetupLog string
}

// EnsureBinaries builds the Temporal server and temporal-sql-tool into <repo>/bin once per
// process (about 3 minutes the first time) and returns their paths.
var EnsureBinaries = sync.OnceValues(func() ([2]string, error) {
	root, err := proc.RepoRoot()
	if err != nil {
		return [2]string{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	server, sqlTool, err := temporalcli.EnsureServer(ctx, filepath.Join(root, "bin"), os.Stderr)
	return [2]string{server, sqlTool}, err
})

// New builds what is missing, starts PostgreSQL, sets up the schema with setup-postgres.sh,
// starts the server and sets up the namespace "default" with setup-namespace.sh; it returns
// once the server answers for that namespace. The caller must Close it. An error wrapping
// ErrNoPostgres means PostgreSQL cannot be had here.
func New(ctx context.Context) (*Server, error) {
	root, err := proc.RepoRoot()
	if err != nil {
		return nil, err
	}
	cli, err := devserver.EnsureCLI() // setup-namespace.sh runs the temporal CLI
	if err != nil {
		return nil, err
	}
	bins, err := EnsureBinaries()
	if err != nil {
		return nil, err
	}
	modDir, err := temporalcli.ServerModuleDir(ctx)
	if err != nil {
		return nil, err
	}
	pg, err := StartPostgres(ctx)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "cluster-temporal-")
	if err != nil {
		return nil, errors.Join(err, pg.Close())
	}
	cleanup := func(err error) (*Server, error) { return nil, errors.Join(err, pg.Close(), os.RemoveAll(dir)) }
	s := &Server{PG: pg, SetupLog: filepath.Join(dir, "setup.log")}
	// The scripts find temporal-sql-tool and temporal first on PATH, as in the admin-tools image.
	path := "PATH=" + filepath.Dir(bins[1]) + string(os.PathListSeparator) + filepath.Dir(cli) + string(os.PathListSeparator) + os.Getenv("PATH")
	if err := s.script(ctx, filepath.Join(root, "deploy", "temporal", "setup-postgres.sh"), path,
		"DB=postgres12", "POSTGRES_SEEDS=127.0.0.1", "DB_PORT="+strconv.Itoa(pg.Port), "POSTGRES_USER="+pg.User,
		"POSTGRES_PWD="+pg.Password, "SCHEMA_DIR="+filepath.Join(modDir, "schema", "postgresql", "v12")); err != nil {
		return cleanup(err)
	}
	ports, err := serverPorts()
	if err != nil {
		return cleanup(err)
	}
	if err := writeConfig(filepath.Join(dir, "config", "development.yaml"), configData{
		DBPort: pg.Port, User: pg.User, Password: pg.Password, Shards: HistoryShards, Ports: ports,
		DynamicConfig: filepath.Join(root, "deploy", "temporal", "dynamicconfig.yaml"),
	}); err != nil {
		return cleanup(err)
	}
	hostPort := "127.0.0.1:" + strconv.Itoa(ports.Frontend)
	namespaceReady := false
	ds, err := devserver.NewCommand(ctx, devserver.Command{
		Name: "the Temporal server", Path: bins[0], HostPort: hostPort, Namespace: "default", Dir: dir,
		Args: []string{"--root", dir, "--config", "config", "--env", "development", "--allow-no-auth", "start"},
		Ready: func(ctx context.Context, c client.Client) error {
			if !namespaceReady {
				if err := s.script(ctx, filepath.Join(root, "deploy", "temporal", "setup-namespace.sh"), path,
					"TEMPORAL_ADDRESS="+hostPort, "TEMPORAL_NAMESPACE=default", "NAMESPACE_RETENTION=24h"); err != nil {
					return err
				}
				// The frontend maps the new attributes once its namespace cache refreshes.
				if err := waitQueryable(ctx, c, `InsightsPhase = "probe" AND InsightsOperation = "probe"`); err != nil {
					return err
				}
				namespaceReady = true
			}
			return WaitAnswers(ctx, c, "default")
		},
		Close: pg.Close,
	})
	if err != nil {
		return nil, err // NewCommand closed PostgreSQL and removed dir
	}
	s.Server = ds
	return s, nil
}

// script runs one of the deployment's shell scripts with env (on top of the scrubbed
// environment), its output appended to SetupLog.
func (s *Server) script(ctx context.Context, path string, env ...string) error {
	f, err := os.OpenFile(s.SetupLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	fmt.Fprintf(f, "----- %s\n", path)
	cmd := exec.CommandContext(ctx, "sh", path)
	cmd.Env = proc.Env(env...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w; its output:\n%s", filepath.Base(path), err, proc.Tail(s.SetupLog, 30))
	}
	return nil
}

// WaitAnswers waits until the server really serves namespace: a describe of a workflow that
// does not exist answers "not found" (the frontend listens seconds before the history service
// answers, and a restarted server before it reaches its database again).
func WaitAnswers(ctx context.Context, c client.Client, namespace string) error {
	var last error
	for {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := c.WorkflowService().DescribeWorkflowExecution(actx, &workflowservice.DescribeWorkflowExecutionRequest{
			Namespace: namespace, Execution: &commonpb.WorkflowExecution{WorkflowId: "cluster-readiness-probe"},
		})
		cancel()
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return nil
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the server does not answer for namespace %s: %w (last: %v)", namespace, ctx.Err(), last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// waitQueryable waits until the visibility query is accepted (its search attributes are known).
func waitQueryable(ctx context.Context, c client.Client, query string) error {
	for {
		_, err := c.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Query: query})
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("visibility refuses %s: %w (last: %v)", query, ctx.Err(), err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// ports are the server's listening ports.
type ports struct {
	Frontend, FrontendHTTP, History, Matching, Worker                           int
	FrontendMembership, HistoryMembership, MatchingMembership, WorkerMembership int
}

// serverPorts picks free loopback ports; the membership ports are below 32768, since the SQL
// cluster-membership table stores them in a smallint (and Linux's ephemeral ports, which port 0
// would give, start at 32768).
func serverPorts() (ports, error) {
	var p ports
	var err error
	seen := map[int]bool{}
	pick := func(dst *int) {
		for range 200 {
			if err != nil {
				return
			}
			n := 20000 + rand.IntN(12000)
			if seen[n] {
				continue
			}
			l, lerr := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(n))
			if lerr != nil {
				continue
			}
			l.Close()
			seen[n], *dst = true, n
			return
		}
		err = errors.New("no free port below 32768")
	}
	for _, dst := range []*int{&p.Frontend, &p.FrontendHTTP, &p.History, &p.Matching, &p.Worker,
		&p.FrontendMembership, &p.HistoryMembership, &p.MatchingMembership, &p.WorkerMembership} {
		pick(dst)
	}
	return p, err
}

type configData struct {
	DBPort         int
	User, Password string
	Shards         int
	Ports          ports
	DynamicConfig  string
}

// writeConfig writes the server's static configuration: the module's
// config/development-postgres12.yaml on this database and these ports, without metrics, pprof
// and archival.
func writeConfig(path string, d configData) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	var b strings.Builder
	ds := func(name, db string, conns int) {
		fmt.Fprintf(&b, `    %s:
      sql:
        pluginName: postgres12
        databaseName: %s
        connectAddr: "127.0.0.1:%d"
        connectProtocol: tcp
        user: %s
        password: %s
        maxConns: %d
        maxIdleConns: %d
        maxConnLifetime: 1h
`, name, db, d.DBPort, strconv.Quote(d.User), strconv.Quote(d.Password), conns, conns)
	}
	fmt.Fprintf(&b, `log:
  stdout: true
  level: warn
persistence:
  defaultStore: postgres-default
  visibilityStore: postgres-visibility
  numHistoryShards: %d
  datastores:
`, d.Shards)
	ds("postgres-default", "temporal", 20)
	ds("postgres-visibility", "temporal_visibility", 10)
	svc := func(name string, grpc, membership, http int) {
		fmt.Fprintf(&b, "  %s:\n    rpc:\n      grpcPort: %d\n      membershipPort: %d\n      bindOnLocalHost: true\n", name, grpc, membership)
		if http != 0 {
			fmt.Fprintf(&b, "      httpPort: %d\n", http)
		}
	}
	b.WriteString(`global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: 127.0.0.1
services:
`)
	p := d.Ports
	svc("frontend", p.Frontend, p.FrontendMembership, p.FrontendHTTP)
	svc("matching", p.Matching, p.MatchingMembership, 0)
	svc("history", p.History, p.HistoryMembership, 0)
	svc("worker", p.Worker, p.WorkerMembership, 0)
	fmt.Fprintf(&b, `clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: active
  currentClusterName: active
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: frontend
      rpcAddress: "127.0.0.1:%d"
dcRedirectionPolicy:
  policy: noop
dynamicConfigClient:
  filepath: %s
  pollInterval: 10s
`, p.Frontend, strconv.Quote(d.DynamicConfig))
	return os.WriteFile(path, []byte(b.String()), 0o600)
}
