// Command codec-server serves the payload codec of package codec over HTTP for the Temporal CLI
// and Web UI, with the keys of ISSUE_MODELS_CODEC_KEY (and _KEY_ID, _OLD_KEYS):
//
//	ISSUE_MODELS_CODEC_SERVER_TOKEN=$(openssl rand -hex 32) \
//	  go run ./codec/cmd/codec-server -addr 127.0.0.1:8081 -ui-origin http://localhost:8233
//	temporal workflow show -w ID --codec-endpoint http://127.0.0.1:8081 --codec-auth "Bearer $ISSUE_MODELS_CODEC_SERVER_TOKEN"
//
// Every /encode and /decode request must carry "Authorization: Bearer <token>" (the token of
// ISSUE_MODELS_CODEC_SERVER_TOKEN, or -token, which other local users can read in the process
// list). For local use behind the Web UI without UI authentication, -insecure-no-auth serves
// without a token, and only on a loopback address. It decrypts anything an authorized caller
// sends: keep it on loopback or a private network.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/issuemodels/durable-lro/codec"
)

// TokenEnv names the environment variable holding the bearer token the server requires.
const TokenEnv = "ISSUE_MODELS_CODEC_SERVER_TOKEN"

func main() {
	addr := flag.String("addr", "127.0.0.1:8081", "listen address (loopback by default)")
	origins := flag.String("ui-origin", "http://localhost:8233", "comma-separated Web UI origins allowed by CORS (with credentials); \"*\" allows any origin without credentials; empty disables CORS")
	token := flag.String("token", "", "bearer token requests must carry (prefer the "+TokenEnv+" environment variable: flags show in the process list)")
	noAuth := flag.Bool("insecure-no-auth", false, "serve without a token; only allowed on a loopback -addr, for local use")
	maxBody := flag.Int64("max-body-bytes", codec.DefaultMaxBodyBytes, "largest request body accepted")
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
	opts, err := options(*addr, *origins, *token, os.Getenv(TokenEnv), *noAuth, *maxBody)
	if err != nil {
		fmt.Fprintln(os.Stderr, "codec-server:", err)
		os.Exit(2)
	}
	srv := &http.Server{Addr: *addr, Handler: codec.NewHTTPHandler(c, opts), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	auth := "bearer token required"
	if opts.NoAuth {
		auth = "NO AUTHORIZATION (-insecure-no-auth)"
	}
	fmt.Fprintf(os.Stderr, "codec-server: serving /encode and /decode on http://%s (key id %q, %s)\n", *addr, c.KeyID(), auth)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "codec-server:", err)
		os.Exit(1)
	}
}

// options checks the flags: a token is required unless -insecure-no-auth, which only a loopback
// address may use (anyone who can reach the port could otherwise decrypt the histories).
func options(addr, origins, flagToken, envToken string, noAuth bool, maxBody int64) (codec.HTTPOptions, error) {
	opts := codec.HTTPOptions{Token: envToken, NoAuth: noAuth, MaxBodyBytes: maxBody}
	if flagToken != "" {
		opts.Token = flagToken
	}
	for _, o := range strings.Split(origins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			opts.AllowedOrigins = append(opts.AllowedOrigins, o)
		}
	}
	switch {
	case noAuth && opts.Token != "":
		return opts, errors.New("-insecure-no-auth and a token are both set: choose one")
	case noAuth && !loopback(addr):
		return opts, fmt.Errorf("-insecure-no-auth is only allowed on a loopback address, not %q", addr)
	case !noAuth && opts.Token == "":
		return opts, fmt.Errorf("no token: set %s (e.g. $(openssl rand -hex 32)) and pass it as --codec-auth \"Bearer <token>\", or -insecure-no-auth on loopback for local use", TokenEnv)
	}
	return opts, nil
}

func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
