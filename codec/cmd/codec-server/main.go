// Command codec-server serves the payload codec of package codec over HTTP for the Temporal CLI
// and Web UI, with the keys of ISSUE_MODELS_CODEC_KEY (and _KEY_ID, _OLD_KEYS):
//
//	go run ./codec/cmd/codec-server -addr 127.0.0.1:8081 -ui-origin http://localhost:8233
//	temporal workflow show -w ID --codec-endpoint http://127.0.0.1:8081
//
// In the Web UI: Settings (or the namespace's data encoder setting) → Codec Server endpoint
// http://127.0.0.1:8081. It decrypts anything it is sent: keep it on loopback or behind
// authentication.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/issuemodels/durable-lro/codec"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8081", "listen address (loopback by default)")
	origins := flag.String("ui-origin", "http://localhost:8233", "comma-separated Web UI origins allowed by CORS; empty disables CORS")
	flag.Parse()
	c, err := codec.FromEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, "codec-server:", err)
		os.Exit(2)
	}
	if c == nil {
		fmt.Fprintf(os.Stderr, "codec-server: %s is not set\n", codec.KeyEnv)
		os.Exit(2)
	}
	var allowed []string
	for _, o := range strings.Split(*origins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			allowed = append(allowed, o)
		}
	}
	srv := &http.Server{Addr: *addr, Handler: codec.NewHTTPHandler(c, allowed...), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	fmt.Fprintf(os.Stderr, "codec-server: serving /encode and /decode on http://%s (key id %q)\n", *addr, c.KeyID())
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "codec-server:", err)
		os.Exit(1)
	}
}
