package main

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/issuemodels/durable-lro/insightstest"
)

// The emulator's HTTP status endpoint (-status-addr).

// serveStatus listens on addr, so a busy address fails at once, and serves
// GET /status (the Stats JSON) and GET /healthz in the background until stop,
// which gives requests in flight 5 s.
func serveStatus(addr string, srv *insightstest.Server, logger *zap.Logger) (stop func(), err error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(srv.Stats())
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := hs.Serve(lis); !errors.Is(err, http.ErrServerClosed) {
			logger.Error("status server failed", zap.Error(err))
		}
	}()
	logger.Info("status endpoint ready", zap.String("url", "http://"+lis.Addr().String()+"/status"))
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(ctx)
	}, nil
}
