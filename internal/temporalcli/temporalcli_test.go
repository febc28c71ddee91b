package temporalcli

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/issuemodels/durable-lro/internal/proc"
)

func TestEnsure(t *testing.T) {
	root, err := proc.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	path, err := Ensure(context.Background(), filepath.Join(root, "bin"), io.Discard)
	if err != nil {
		t.Fatalf("Ensure: %v", err) // a missing CLI fails the suite; it is never skipped
	}
	if want := filepath.Join(root, "bin", "temporal"); path != want {
		t.Errorf("Ensure = %q, want %q", path, want)
	}
	if st, err := os.Stat(path); err != nil || st.Mode()&0o111 == 0 {
		t.Errorf("%s is not an executable (%v, %v)", path, st, err)
	}
}

// TestLockFileExcludes checks that the build lock is exclusive (flock locks belong to the open
// file, so two opens in one process exclude each other like two processes do).
func TestLockFileExcludes(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".temporal.lock")
	unlock, err := lockFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan func(), 1)
	go func() {
		u, err := lockFile(path)
		if err != nil {
			t.Error(err)
			close(got)
			return
		}
		got <- u
	}()
	select {
	case <-got:
		t.Fatal("second lockFile succeeded while the first holds the lock")
	case <-time.After(200 * time.Millisecond):
	}
	unlock()
	if u := <-got; u != nil {
		u()
	}
}
