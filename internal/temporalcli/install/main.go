// Command install builds the pinned Temporal CLI into <repo>/bin when it is missing:
//
//	go run ./internal/temporalcli/install
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/issuemodels/durable-lro/internal/proc"
	"github.com/issuemodels/durable-lro/internal/temporalcli"
)

func main() {
	ctx, stop := proc.NotifyContext(context.Background())
	defer stop()
	root, err := proc.RepoRoot()
	if err == nil {
		_, err = temporalcli.Ensure(ctx, filepath.Join(root, "bin"), os.Stderr)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "temporalcli:", err)
		os.Exit(1)
	}
}
