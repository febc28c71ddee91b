package proc

import (
	"context"
	"os"
	"os/signal"
)

// NotifyContext is ctx, cancelled when this process is asked to end: SIGINT, SIGTERM, SIGHUP,
// or (Linux) its stdout being a pipe whose reader has gone. SIGPIPE no longer kills the process
// (writes to a dead stdout just fail), so a command piped into `tee` that is Ctrl-C'd along
// with tee still stops its children. The kernel's parent-death signal covers the rest.
func NotifyContext(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	ends := make(chan os.Signal, 1)
	signal.Notify(ends, endings...)
	// Notify rather than Ignore: an ignored signal stays ignored in children, a caught one is
	// reset to the default.
	pipes := make(chan os.Signal, 1)
	if sigpipe != nil {
		signal.Notify(pipes, sigpipe)
	}
	watchStdout(ctx, cancel)
	// The signals stay caught after ctx ends: the process is stopping its children then, and a
	// second signal (Ctrl-C right after stdout died, say) must not kill it half way.
	go func() {
		for {
			select {
			case <-pipes:
			case <-ends:
				cancel()
			}
		}
	}()
	return ctx, cancel
}
