package proc

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// roleEnv makes the test binary play a helper process instead of running the tests.
const roleEnv = "PROC_TEST_ROLE"

func TestMain(m *testing.M) {
	switch os.Getenv(roleEnv) {
	case "child":
		runChild()
	case "stubborn":
		signal.Ignore(syscall.SIGTERM)
		fmt.Println("ready")
		time.Sleep(time.Hour)
	case "parent":
		runParent()
	default:
		os.Exit(m.Run())
	}
}

// runChild waits for SIGTERM and says it got it, so a test can tell a graceful stop from a kill.
func runChild() {
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	fmt.Println("ready")
	<-term
	fmt.Println("got SIGTERM")
	os.Exit(0)
}

// runParent is a harness command in miniature: it starts a child, prints its pid, and on any
// ending stops it, writing to stdout on the way (as localstack does) even when stdout is dead.
func runParent() {
	ctx, cancel := NotifyContext(context.Background())
	defer cancel()
	p, err := Start(Options{Name: "child", Path: os.Args[0], Env: []string{roleEnv + "=child"},
		Log: os.Getenv("PROC_TEST_LOG"), Grace: time.Minute})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	fmt.Println(p.Pid())
	<-ctx.Done()
	fmt.Println("stopping the child")
	if err := p.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stop:", err)
		os.Exit(4)
	}
	fmt.Println("stopped")
	os.Exit(0)
}

func TestEnvScrubsWhatWouldPointAChildElsewhere(t *testing.T) {
	for _, k := range []string{"TEMPORAL_ADDRESS", "TEMPORAL_PROFILE", "ISSUE_MODELS_CODEC_KEY", "ISSUE_MODELS_CODEC_OLD_KEYS",
		"INSIGHTS_EMULATOR_HOST", "METRICS_ADDR", "GOOGLE_APPLICATION_CREDENTIALS", "LOG_FORMAT"} {
		t.Setenv(k, "user's")
	}
	t.Setenv("PROC_TEST_KEEP", "kept")
	env := Env("TEMPORAL_ADDRESS=127.0.0.1:1")
	for _, kv := range env {
		if strings.HasSuffix(kv, "=user's") {
			t.Errorf("Env kept %s", kv)
		}
	}
	for _, want := range []string{"PROC_TEST_KEEP=kept", "TEMPORAL_ADDRESS=127.0.0.1:1"} {
		if !slices.Contains(env, want) {
			t.Errorf("Env lacks %s", want)
		}
	}
}

// TestStopKillsAfterGrace: a child that ignores SIGTERM is killed once the grace period ends,
// and Stop counts that as a stop, not a failure.
func TestStopKillsAfterGrace(t *testing.T) {
	log := filepath.Join(t.TempDir(), "stubborn.log")
	p, err := Start(Options{Name: "stubborn", Path: os.Args[0], Env: []string{roleEnv + "=stubborn"}, Log: log, Grace: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	waitForLine(t, log, "ready")
	if err := p.Stop(); err != nil {
		t.Errorf("Stop = %v, want nil", err)
	}
	if ws := p.State().Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Errorf("the stubborn child ended with %v, want SIGKILL", p.State())
	}
	if !p.Stopping() {
		t.Error("Stopping = false after Stop")
	}
}

func TestTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	if err := os.WriteFile(path, []byte("a\nb\nc\nd\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := Tail(path, 2); got != "c\nd" {
		t.Errorf("Tail = %q, want %q", got, "c\nd")
	}
	if got := Indent("c\nd"); got != "    c\n    d" {
		t.Errorf("Indent = %q", got)
	}
}

// waitForLine waits until the file holds line (the child is up and has set its handlers).
func waitForLine(t *testing.T, path, line string) {
	t.Helper()
	for range 600 {
		if b, _ := os.ReadFile(path); strings.Contains(string(b), line+"\n") {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never got %q:\n%s", path, line, Tail(path, 20))
}
