//go:build unix

package cluster

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/issuemodels/durable-lro/internal/proc"
)

// ErrNoPostgres means PostgreSQL is not installed and cannot be (not root, or no apt-get).
var ErrNoPostgres = errors.New("PostgreSQL is not installed and cannot be installed here")

// pgReadyTimeout bounds one start of PostgreSQL (normally 1–3 s).
const pgReadyTimeout = 2 * time.Minute

// Postgres is a PostgreSQL server on a temporary data directory and a free loopback port, run
// as a child process (internal/proc: it dies with this process) as the unprivileged postgres
// user when this process is root (PostgreSQL refuses to run as root).
type Postgres struct {
	Port     int
	User     string // the superuser Temporal connects as
	Password string
	// LogFile holds the server's output.
	LogFile string

	bin  string     // the directory of postgres, initdb, pg_ctl, pg_isready
	dir  string     // temporary: data/ and the socket, owned by the postgres user
	data string     // the data directory
	as   *proc.User // nil: run as this process's user

	mu   sync.Mutex
	proc *proc.Process
}

// installOnce runs apt-get at most once per process.
var installOnce = sync.OnceValue(func() error { return aptInstall() })

// PostgresBin is the directory of the newest installed PostgreSQL's programs (Debian's
// /usr/lib/postgresql/N/bin), installing the postgresql package with apt-get when it is missing
// and this process is root; ErrNoPostgres when neither works.
func PostgresBin() (string, error) {
	if dir := findPostgres(); dir != "" {
		return dir, nil
	}
	if err := installOnce(); err != nil {
		return "", err
	}
	if dir := findPostgres(); dir != "" {
		return dir, nil
	}
	return "", fmt.Errorf("%w: apt-get installed postgresql but no /usr/lib/postgresql/*/bin/postgres exists", ErrNoPostgres)
}

func findPostgres() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgVersion(dirs[i]) > pgVersion(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "postgres")); err == nil {
			return d
		}
	}
	if p, err := exec.LookPath("postgres"); err == nil {
		return filepath.Dir(p)
	}
	return ""
}

func pgVersion(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// aptInstall installs Debian's postgresql package (apt-get update first when the package is
// unknown to apt's lists).
func aptInstall() error {
	apt, err := exec.LookPath("apt-get")
	if os.Geteuid() != 0 || err != nil {
		return fmt.Errorf("%w (root: %v, apt-get: %v)", ErrNoPostgres, os.Geteuid() == 0, err)
	}
	install := func() error {
		cmd := exec.Command(apt, "install", "-y", "--no-install-recommends", "postgresql")
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("apt-get install postgresql: %w\n%s", err, lastLines(out, 15))
		}
		return nil
	}
	fmt.Fprintln(os.Stderr, "cluster: PostgreSQL is missing; apt-get install postgresql")
	if install() == nil {
		return nil
	}
	if out, err := exec.Command(apt, "update").CombinedOutput(); err != nil {
		return fmt.Errorf("%w: apt-get update: %v\n%s", ErrNoPostgres, err, lastLines(out, 15))
	}
	if err := install(); err != nil {
		return fmt.Errorf("%w: %v", ErrNoPostgres, err)
	}
	return nil
}

func lastLines(out []byte, n int) string {
	lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// StartPostgres creates a database cluster in a new temporary directory (superuser "temporal"
// with a random password, password authentication on TCP) and starts PostgreSQL on a free
// loopback port. The caller must Close it.
func StartPostgres(ctx context.Context) (*Postgres, error) {
	bin, err := PostgresBin()
	if err != nil {
		return nil, err
	}
	p := &Postgres{User: "temporal", Password: randomHex(12), bin: bin}
	base := os.TempDir()
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("PostgreSQL refuses to run as root and there is no postgres user: %w", err)
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		p.as = &proc.User{UID: uint32(uid), GID: uint32(gid)}
		base = "/tmp" // reachable by that user, unlike a TMPDIR under root's home
	}
	if p.dir, err = os.MkdirTemp(base, "cluster-pg-"); err != nil {
		return nil, err
	}
	p.data = filepath.Join(p.dir, "data")
	p.LogFile = filepath.Join(p.dir, "postgres.log")
	if err := p.initdb(ctx); err != nil {
		return nil, errors.Join(err, os.RemoveAll(p.dir))
	}
	if p.Port, err = freePort(); err != nil {
		return nil, errors.Join(err, os.RemoveAll(p.dir))
	}
	if err := p.Start(ctx); err != nil {
		return nil, errors.Join(err, os.RemoveAll(p.dir))
	}
	return p, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("no free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// initdb creates the database cluster, owned by the user PostgreSQL runs as.
func (p *Postgres) initdb(ctx context.Context) error {
	pw := filepath.Join(p.dir, "pwfile")
	if err := os.WriteFile(pw, []byte(p.Password+"\n"), 0o600); err != nil {
		return err
	}
	if p.as != nil {
		for _, f := range []string{p.dir, pw} {
			if err := os.Chown(f, int(p.as.UID), int(p.as.GID)); err != nil {
				return err
			}
		}
	}
	defer os.Remove(pw)
	_, err := p.run(ctx, "initdb", "-D", p.data, "-U", p.User, "--pwfile="+pw, "--auth=scram-sha-256", "-E", "UTF8",
		"--locale=C", "--no-sync", "--no-instructions")
	return err
}

// run runs one of PostgreSQL's programs as the user PostgreSQL runs as.
func (p *Postgres) run(ctx context.Context, prog string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(p.bin, prog), args...)
	cmd.Dir = p.dir
	if p.as != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: p.as.UID, Gid: p.as.GID, NoSetGroups: true}}
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("%s %v: %w\n%s", prog, args, err, lastLines(out, 20))
	}
	return out, nil
}

// Start starts PostgreSQL (again) on the same port and data directory and waits until it
// accepts connections.
func (p *Postgres) Start(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.proc != nil {
		return errors.New("cluster: PostgreSQL is running")
	}
	pr, err := proc.Start(proc.Options{Name: "PostgreSQL", Path: filepath.Join(p.bin, "postgres"), Dir: p.dir, As: p.as,
		Args: []string{"-D", p.data, "-c", "listen_addresses=127.0.0.1", "-c", "port=" + strconv.Itoa(p.Port),
			"-c", "unix_socket_directories=" + p.dir, "-c", "max_connections=300",
			// A test database: no fsync (a clean shutdown still writes everything).
			"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"},
		Log: p.LogFile, Grace: time.Minute})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, pgReadyTimeout)
	defer cancel()
	for {
		// Exit status 0: accepting connections (1: starting up, 2: no answer).
		if _, err := p.run(ctx, "pg_isready", "-q", "-h", "127.0.0.1", "-p", strconv.Itoa(p.Port), "-t", "5"); err == nil {
			p.proc = pr
			return nil
		}
		select {
		case <-pr.Done():
			return fmt.Errorf("PostgreSQL exited: %v; its log:\n%s", pr.Err(), proc.Tail(p.LogFile, 20))
		case <-ctx.Done():
			_ = pr.Stop()
			return fmt.Errorf("PostgreSQL not ready: %w; its log:\n%s", ctx.Err(), proc.Tail(p.LogFile, 20))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Stop stops PostgreSQL with `pg_ctl stop -m fast` (open sessions are ended, as `pg_ctl
// restart` does) and waits for it to exit; a stopped server stays stopped.
func (p *Postgres) Stop(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	pr := p.proc
	p.proc = nil
	if pr == nil {
		return nil
	}
	_, err := p.run(ctx, "pg_ctl", "stop", "-D", p.data, "-m", "fast", "-w", "-t", "60")
	if err != nil {
		_ = pr.Stop()
		return err
	}
	<-pr.Done()
	return pr.Err()
}

// Restart is `pg_ctl restart` on a server this process owns: a fast shutdown, then a start on
// the same port and data directory. (pg_ctl restart itself would start the new server as a
// daemon outside this process's control.)
func (p *Postgres) Restart(ctx context.Context) error {
	if err := p.Stop(ctx); err != nil {
		return err
	}
	return p.Start(ctx)
}

// Close stops PostgreSQL and removes its directory.
func (p *Postgres) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return errors.Join(p.Stop(ctx), os.RemoveAll(p.dir))
}

func (p *Postgres) tail(n int) string { return proc.Tail(p.LogFile, n) }

// Pid is the postmaster's process id (0 when stopped); its backends are its children.
func (p *Postgres) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.proc.Pid()
}

// Version is the major version of the PostgreSQL that runs (from Debian's
// /usr/lib/postgresql/N/bin), 0 when unknown.
func (p *Postgres) Version() int { return pgVersion(p.bin) }
